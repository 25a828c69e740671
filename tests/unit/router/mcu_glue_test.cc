// The router's MCU pools as /metrics shows them, against a real hir-mcu-emu over TCP.
#include "router/mcu_glue.h"

#include <gtest/gtest.h>

#include <string>

#include "router/config.h"
#include "telemetry/metrics.h"
#include "unit/backends/emu_process.h"

namespace hir::router {
namespace {

using backends::test::EmuProcess;
using backends::test::eventually;

// A device whose pool was stopped (its target removed or changed) is no longer reported up.
TEST(McuFleetMetrics, ADeviceOfARemovedPoolIsNotUp) {
  ASSERT_TRUE(backends::test::emu_available()) << backends::test::emu_binary();
  auto emu = EmuProcess::start_tcp();
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  telemetry::Registry reg;
  McuFleet fleet(reg, [](const std::string&, const routing::LoadReport&, bool) {});
  TargetConfig t;
  t.name = "mcu1";
  t.hw = HardwareClass::kMcu;
  ASSERT_TRUE(make_mcu_pool(t, {emu->url()}).ok());
  ASSERT_TRUE(fleet.pool_for(t).ok());
  const std::string up = "hir_mcu_device_up{device=\"" + emu->url() + "\",target=\"mcu1\"} ";
  ASSERT_TRUE(eventually([&] {
    fleet.export_metrics();
    return reg.render().find(up + "1") != std::string::npos;
  })) << reg.render();
  fleet.retain({});  // the target is gone from the configuration
  fleet.export_metrics();
  EXPECT_NE(reg.render().find(up + "0"), std::string::npos) << reg.render();
}

}  // namespace
}  // namespace hir::router
