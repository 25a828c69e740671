#include "router/mcu_glue.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/json_string.h"
#include "telemetry/log.h"

namespace hir::router {

McuFleet::McuFleet(telemetry::Registry& metrics, LoadSink on_load)
    : metrics_(metrics), on_load_(std::move(on_load)) {}

McuFleet::~McuFleet() { stop_all(); }

backends::McuPoolOptions McuFleet::pool_options(const TargetConfig& t) {
  backends::McuPoolOptions o;
  o.name = t.name;
  o.max_outstanding = t.mcu->max_outstanding;
  o.attempt_timeout = t.mcu->attempt_timeout;
  o.max_attempts = t.mcu->max_attempts;
  o.heartbeat_interval = t.mcu->heartbeat;
  o.model_crc32 = t.mcu->model_crc32;
  return o;
}

std::string McuFleet::key_of(const TargetConfig& t) {
  return fmt::format("{}|{}|{}|{}|{}|{}", t.url, to_ms(t.mcu->attempt_timeout), t.mcu->max_attempts,
                     to_ms(t.mcu->heartbeat), t.mcu->max_outstanding,
                     t.mcu->model_crc32 ? static_cast<int64_t>(*t.mcu->model_crc32) : int64_t{-1});
}

namespace {

// A device's line lost or refused, and regained: the pool reports transitions only, so a device
// that keeps failing to connect writes one line, not one per retry. The reason is the pool's own
// message (an address, a system error, a protocol fault), never request data.
void log_device(const std::string& target, const backends::McuDeviceEvent& e) {
  if (e.up) {
    telemetry::log_info("mcu_device_up", {{"target", target}, {"device", e.url}});
  } else {
    telemetry::log_warn("mcu_device_down", {{"target", target}, {"device", e.url}, {"reason", e.reason}});
  }
}

}  // namespace

Result<std::shared_ptr<backends::McuPool>> McuFleet::pool_for(const TargetConfig& t) {
  if (!t.mcu) return InvalidArgument("target '" + t.name + "' is not an MCU pool");
  const std::string key = key_of(t);
  std::shared_ptr<backends::McuPool> replaced;
  std::lock_guard lock(mu_);
  auto it = pools_.find(t.name);
  if (it != pools_.end() && it->second.key == key) return it->second.pool;
  if (it != pools_.end()) {
    // Its devices or settings changed: the old pool must let go of the lines before a new one
    // opens them.
    replaced = std::move(it->second.pool);
    pools_.erase(it);
    replaced->stop();
  }
  const std::string name = t.name;
  // Runs on the pool's I/O thread; the sink only takes the routing core's lock.
  auto on_load = [sink = on_load_, name](const backends::McuLoadEvent& e) {
    sink(name, e.pool_report, e.pool_report.concurrency > 0);
  };
  auto pool = backends::McuPool::create(t.mcu->devices, pool_options(t), std::move(on_load),
                                        [name](const backends::McuDeviceEvent& e) { log_device(name, e); });
  if (!pool.ok()) return pool.status();
  std::shared_ptr<backends::McuPool> shared = std::move(*pool);
  pools_[t.name] = {key, shared};
  telemetry::log_info("mcu_pool_started", {{"target", t.name}, {"devices", t.url}});
  return shared;
}

std::vector<std::shared_ptr<backends::McuPool>> McuFleet::take_unused(const std::vector<const TargetConfig*>& in_use) {
  std::vector<std::shared_ptr<backends::McuPool>> out;
  std::lock_guard lock(mu_);
  for (auto it = pools_.begin(); it != pools_.end();) {
    bool used = std::any_of(in_use.begin(), in_use.end(), [&](const TargetConfig* t) {
      return t->mcu && t->name == it->first && key_of(*t) == it->second.key;
    });
    if (used) {
      ++it;
    } else {
      out.push_back(std::move(it->second.pool));
      it = pools_.erase(it);
    }
  }
  return out;
}

void McuFleet::retain(const std::vector<const TargetConfig*>& in_use) {
  // Stopped outside the lock: stop() joins the pool's thread, which may be in on_load.
  for (auto& p : take_unused(in_use)) {
    telemetry::log_info("mcu_pool_stopped", {{"target", p->options().name}});
    p->stop();
  }
}

void McuFleet::stop_all() { retain({}); }

namespace {

void append_device(std::string& out, const backends::McuDeviceStats& d) {
  out += R"({"url":)";
  append_json_string(out, d.url);
  out += fmt::format(R"(,"state":"{}","up":{},"in_flight":{},"last_error":)", backends::device_state_name(d.state),
                     d.state == backends::McuDeviceState::kUp, d.in_flight);
  append_json_string(out, d.last_error);
  const auto& c = d.counters;
  out += fmt::format(
      R"(,"since_last_frame_ms":{:.1f},"busy_fraction":{:.4f},"input_size":{},"output_size":{},"model_crc32":"0x{:08x}","macs":{},)"
      R"("counters":{{"infers_sent":{},"results_ok":{},"timeouts":{},"busy_replies":{},"device_errors":{},)"
      R"("bad_payloads":{},"stray_replies":{},"bad_crc":{},"bad_frame":{},"frames_ok":{},"status_frames":{},)"
      R"("connects":{},"disconnects":{}}})",
      to_ms(d.since_last_frame), d.busy_fraction, d.input_size, d.output_size, d.model_crc32, d.macs, c.infers_sent, c.results_ok,
      c.timeouts, c.busy_replies, c.device_errors, c.bad_payloads, c.stray_replies, c.bad_crc, c.bad_frame,
      c.frames_ok, c.status_frames, c.connects, c.disconnects);
  if (d.last_status) {
    const auto& s = *d.last_status;
    out += fmt::format(R"(,"device_status":{{"last_infer_us":{},"infer_count":{},"bad_crc":{},"bad_frame":{},"dropped":{}}})",
                       s.last_infer_us, s.infer_count, s.bad_crc, s.bad_frame, s.dropped);
  }
  out += '}';
}

}  // namespace

std::string McuFleet::devices_json(const std::string& name) const {
  std::shared_ptr<backends::McuPool> pool;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(name);
    if (it == pools_.end()) return "";
    pool = it->second.pool;
  }
  backends::McuPoolStats s = pool->stats();
  std::string out = fmt::format(
      R"(,"pool":{{"devices_up":{},"pending":{},"in_flight":{},"submitted":{},"succeeded":{},"failed":{},)"
      R"("retried":{},"rejected":{}}},"devices":[)",
      s.devices_up(), s.pending, s.in_flight, s.submitted, s.succeeded, s.failed, s.retried, s.rejected);
  for (size_t i = 0; i < s.devices.size(); ++i) {
    if (i) out += ',';
    append_device(out, s.devices[i]);
  }
  return out + "]";
}

void McuFleet::export_metrics() {
  std::vector<std::pair<std::string, std::shared_ptr<backends::McuPool>>> pools;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : pools_) pools.emplace_back(name, e.pool);
  }
  static constexpr const char* kKinds[] = {"bad_crc", "bad_frame", "bad_payload", "timeout", "stray_reply"};
  std::lock_guard lock(export_mu_);
  std::set<std::string> seen;
  for (const auto& [name, pool] : pools) {
    for (const auto& d : pool->stats().devices) {
      auto [it, fresh] = device_metrics_.try_emplace(name + "|" + d.url);
      seen.insert(it->first);
      DeviceMetrics& m = it->second;
      if (fresh) {
        telemetry::Labels l = {{"target", name}, {"device", d.url}};
        m.up = &metrics_.gauge("hir_mcu_device_up", "1 when the MCU device is connected and answering", l);
        for (const char* k : kKinds) {
          telemetry::Labels lk = l;
          lk.emplace_back("kind", k);
          m.errors.emplace_back(&metrics_.counter("hir_mcu_frame_errors_total",
                                                  "Frames from MCU devices dropped or missing, by kind", lk), 0);
        }
      }
      m.up->set(d.state == backends::McuDeviceState::kUp ? 1 : 0);
      const auto& c = d.counters;
      const uint64_t now[] = {c.bad_crc, c.bad_frame, c.bad_payloads, c.timeouts, c.stray_replies};
      for (size_t k = 0; k < m.errors.size(); ++k) {
        // A new pool for the same device starts from zero: count only growth.
        if (now[k] > m.errors[k].second) m.errors[k].first->inc(static_cast<double>(now[k] - m.errors[k].second));
        m.errors[k].second = now[k];
      }
    }
  }
  // A device whose pool is gone (its target removed or changed) is no longer up for this router;
  // its counters keep their totals.
  for (auto& [key, m] : device_metrics_)
    if (!seen.count(key)) m.up->set(0);
}

}  // namespace hir::router
