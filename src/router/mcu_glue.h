// hir serve's MCU pools (docs/mcu-emulator.md, "In hir serve"): one backends::McuPool per target
// of class mcu with `devices`. The pools outlive routing generations — a registry reload must
// not drop and reopen a serial line (a pty or a TCP bridge takes one client at a time) — so the
// fleet owns them, hands the same pool to every generation whose target has the same devices and
// settings, and stops those no generation uses any more.
//
// Also: each device's state for GET /v1/targets, and per-device metrics for /metrics.
//
// Thread-safety: every method may be called from any thread. Load reports reach `on_load` on a
// pool's I/O thread (see McuPool).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/mcu_pool.h"
#include "core/status.h"
#include "router/config.h"
#include "telemetry/metrics.h"

namespace hir::router {

class McuFleet {
 public:
  // A pool's view of itself as one routing target (queue = its waiting requests, concurrency =
  // devices up); ready false when no device is up.
  using LoadSink = std::function<void(const std::string& target, const routing::LoadReport& r, bool ready)>;

  // metrics outlives the fleet; on_load must stay callable until the fleet is destroyed.
  McuFleet(telemetry::Registry& metrics, LoadSink on_load);
  ~McuFleet();  // stop_all()
  McuFleet(const McuFleet&) = delete;
  McuFleet& operator=(const McuFleet&) = delete;

  // The pool serving t (an MCU pool target): the running one when t's devices and settings are
  // unchanged, else a new one, which connects in the background. Errors: the pool's own
  // (kInvalidArgument for options it refuses).
  Result<std::shared_ptr<backends::McuPool>> pool_for(const TargetConfig& t);
  // Stops the pools of targets not in `in_use` (their requests still held fail with
  // kUnavailable, so they fall back). Blocks while each joins its I/O thread.
  void retain(const std::vector<const TargetConfig*>& in_use);
  // Stops every pool (graceful shutdown, after the HTTP drain).
  void stop_all();

  // `,"devices":[...]` with each device's state and counters, for target `name`; "" if none.
  std::string devices_json(const std::string& name) const;
  // Copies per-device state and counters into the metrics registry; call before rendering.
  void export_metrics();

  static backends::McuPoolOptions pool_options(const TargetConfig& t);

 private:
  struct Entry {
    std::string key;  // devices and settings: a change makes a new pool
    std::shared_ptr<backends::McuPool> pool;
  };
  struct DeviceMetrics {
    telemetry::Gauge* up;
    std::vector<std::pair<telemetry::Counter*, uint64_t>> errors;  // counter, value last copied
  };
  static std::string key_of(const TargetConfig& t);
  std::vector<std::shared_ptr<backends::McuPool>> take_unused(const std::vector<const TargetConfig*>& in_use);

  telemetry::Registry& metrics_;
  LoadSink on_load_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> pools_;  // by target name
  std::mutex export_mu_;
  std::map<std::string, DeviceMetrics> device_metrics_;  // by "target|url"
};

}  // namespace hir::router
