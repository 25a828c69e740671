// MCU pool targets in the configuration: `devices` instead of `url`, their own keys, and the
// registry's one-string form of the device list.
#include <gtest/gtest.h>

#include "router/config.h"
#include "router/store_glue.h"

using namespace hir;
using namespace hir::router;

namespace {

std::string yaml(const std::string& target) {
  return "targets:\n  - " + target + R"(
  - {name: c1, url: "http://127.0.0.1:9002", class: cloud}
models:
  - name: m
    inputs: [{name: input, datatype: FP32, shape: [784]}]
    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]
    variants:
      - {name: m-tiny-int8, targets: [mcu-1], accuracy: 0.8577}
      - {name: m-large, targets: [c1], accuracy: 0.91}
)";
}

std::string error_of(const std::string& target) {
  auto r = parse_config(yaml(target));
  EXPECT_FALSE(r.ok()) << target;
  return r.ok() ? "" : r.status().message();
}

}  // namespace

TEST(McuConfig, PoolTargetTakesDevicesAndItsKeys) {
  auto cfg = parse_config(yaml(
      R"({name: mcu-1, class: mcu, devices: ["serial:///dev/pts/3?baud=921600", "tcp://127.0.0.1:8111"],)"
      R"( attempt_timeout_ms: 250, max_attempts: 2, heartbeat_ms: 100, max_outstanding: 8})"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  const TargetConfig* t = cfg->find_target("mcu-1");
  ASSERT_TRUE(t && t->is_mcu_pool());
  EXPECT_EQ(t->mcu->devices.size(), 2u);
  EXPECT_EQ(t->concurrency, 2u);       // one inference per device
  EXPECT_EQ(t->queue_capacity, 8u);    // the pool's limit
  EXPECT_FALSE(t->poll_load);          // heartbeats are its load reports
  EXPECT_EQ(t->mcu->max_attempts, 2);
  EXPECT_DOUBLE_EQ(to_ms(t->mcu->attempt_timeout), 250);
  EXPECT_DOUBLE_EQ(to_ms(t->mcu->heartbeat), 100);
  EXPECT_EQ(t->url, "serial:///dev/pts/3?baud=921600 tcp://127.0.0.1:8111");
  EXPECT_FALSE(cfg->find_target("c1")->is_mcu_pool());
  EXPECT_FALSE(t->mcu->model_crc32.has_value());  // learnt from the first device unless pinned
  auto pinned = parse_config(yaml(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:8111"], model_crc32: "0x2ead0E46"})"));
  ASSERT_TRUE(pinned.ok()) << pinned.status().message();
  EXPECT_EQ(pinned->find_target("mcu-1")->mcu->model_crc32, 0x2ead0e46u);
}

TEST(McuConfig, DefaultsFollowThePool) {
  auto cfg = parse_config(yaml(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:8111"]})"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  const auto& m = *cfg->find_target("mcu-1")->mcu;
  EXPECT_EQ(m.max_attempts, 3);
  EXPECT_EQ(m.max_outstanding, 32u);
  EXPECT_DOUBLE_EQ(to_ms(m.attempt_timeout), 500);
}

TEST(McuConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["tcp://host.example:1"]})").find("devices[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:1", "tcp://127.0.0.1:1"]})").find("devices[1]"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: []})").find("'devices'"), std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["ftp://x"]})").find("devices[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: edge-cpu, devices: ["tcp://127.0.0.1:1"]})").find("'devices'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, url: "http://127.0.0.1:1", devices: ["tcp://127.0.0.1:1"]})").find("'url'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:1"], concurrency: 4})").find("'concurrency'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:1"], max_attempts: 0})").find("'max_attempts'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:1"], heartbeat_ms: -5})").find("'heartbeat_ms'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:1"], max_outstanding: 0})").find("'max_outstanding'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({name: mcu-1, class: mcu, url: "http://127.0.0.1:1", max_attempts: 2})").find("'max_attempts'"),
            std::string::npos);
  for (const char* crc : {"12345", "0x123", "0xzzzzzzzz", "0x1234567890"})
    EXPECT_NE(error_of(std::string(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:1"], model_crc32: ")") + crc + "\"}")
                  .find("'model_crc32'"),
              std::string::npos)
        << crc;
}

TEST(McuConfig, AnMcuBehindHttpStaysAnHttpTarget) {
  auto cfg = parse_config(yaml(R"({name: mcu-1, class: mcu, url: "http://127.0.0.1:9001"})"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_FALSE(cfg->find_target("mcu-1")->is_mcu_pool());
}

TEST(McuConfig, PoolsRoundTripThroughTheRegistry) {
  auto cfg = parse_config(yaml(
      R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:8111", "tcp://127.0.0.1:8112"], max_attempts: 2, max_outstanding: 6})"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  RegistryRecords recs = registry_records(*cfg);
  store::RegistrySnapshot snap;
  snap.version = 1;
  snap.targets = recs.targets;
  snap.models = recs.models;
  snap.variants = recs.variants;
  std::vector<std::string> skipped;
  Config back = config_from_registry(*cfg, snap, &skipped);
  EXPECT_TRUE(skipped.empty());
  const TargetConfig* t = back.find_target("mcu-1");
  ASSERT_TRUE(t && t->is_mcu_pool());
  EXPECT_EQ(t->mcu->devices, cfg->find_target("mcu-1")->mcu->devices);
  EXPECT_EQ(t->mcu->max_attempts, 2);  // from the YAML: the registry keeps no pool tuning
  EXPECT_EQ(t->mcu->max_outstanding, 6u);
  EXPECT_EQ(t->concurrency, 2u);

  // A pool row with a bad device is skipped, not fatal.
  snap.targets[0].url = "tcp://127.0.0.1:8111 tcp://nowhere.example:1";
  skipped.clear();
  back = config_from_registry(*cfg, snap, &skipped);
  EXPECT_EQ(back.find_target("mcu-1"), nullptr);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("mcu-1"), std::string::npos);
}

TEST(McuConfig, DemoMcusMustBeDevicesOfTheirTarget) {
  std::string base = yaml(R"({name: mcu-1, class: mcu, devices: ["tcp://127.0.0.1:8111"]})");
  auto ok = parse_config(base + "demo:\n  mcus: [{target: mcu-1, port: 8111}]\n  traffic: [{weight: 9, latency_budget_ms: 30}, {weight: 1, min_accuracy: 0.9}]\n  rate_per_s: 400\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->demo_mcus.size(), 1u);
  EXPECT_EQ(ok->demo_traffic.size(), 2u);
  EXPECT_DOUBLE_EQ(ok->demo_rate_per_s, 400);
  auto bad = parse_config(base + "demo:\n  mcus: [{target: mcu-1, port: 8112}]\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tcp://127.0.0.1:8112"), std::string::npos);
  bad = parse_config(base + "demo:\n  mcus: [{target: c1, port: 8111}]\n");
  EXPECT_FALSE(bad.ok());
  bad = parse_config(base + "demo:\n  workers: [{target: mcu-1, models: [x]}]\n");
  EXPECT_FALSE(bad.ok());
}
