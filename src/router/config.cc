#include "router/config.h"

#include <yaml-cpp/yaml.h>

#include "cache/config_yaml.h"
#include "core/percent.h"
#include "core/yaml_fields.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "backends/mcu_address.h"
#include "net/client.h"

namespace hir::router {
namespace {

using yamlf::check_keys;
using yamlf::fail;
using yamlf::get;
using yamlf::required_string;
constexpr double kMaxMs = 3.6e6;  // an hour: beyond any sane deadline, far from overflow

HardwareClass parse_class(const std::string& s, const std::string& where) {
  if (auto c = routing::parse_hardware_class(s)) return *c;
  fail(where, "class '" + s + "' is not one of mcu, edge-cpu, edge-gpu, cloud");
}

Money parse_usd(const YAML::Node& n, const char* key, const std::string& where) {
  double v = get<double>(n, key, where, 0.0);
  if (!(v >= 0 && v <= 1e6)) fail(where, std::string("'") + key + "' must be within 0..1000000");
  return Money::from_usd(v);
}

// A duration in milliseconds, within (0, an hour] (or [0, ...] when zero_ok).
Duration ms_field(const YAML::Node& n, const char* key, const std::string& w, Duration fallback, bool zero_ok) {
  double v = get<double>(n, key, w, to_ms(fallback));
  if (!((zero_ok ? v >= 0 : v > 0) && v <= kMaxMs))
    fail(w, std::string("'") + key + "' must be within " + (zero_ok ? "[0" : "(0") + ", 3600000] ms");
  return from_ms(v);
}

routing::PolicyConfig parse_policy(const YAML::Node& n, const std::string& w, routing::PolicyConfig p) {
  p.edge_preference = get<double>(n, "edge_preference", w, p.edge_preference);
  if (n["cloud_spend_cap_usd_per_s"]) p.cloud_spend_cap_per_s = parse_usd(n, "cloud_spend_cap_usd_per_s", w);
  p.max_fallbacks = get<size_t>(n, "max_fallbacks", w, p.max_fallbacks);
  p.hedge_when_p95_over = get<double>(n, "hedge_when_p95_over", w, p.hedge_when_p95_over);
  p.admission.shed_sheddable_above = get<double>(n, "shed_sheddable_above", w, p.admission.shed_sheddable_above);
  p.admission.shed_standard_above = get<double>(n, "shed_standard_above", w, p.admission.shed_standard_above);
  p.breaker.consecutive_failures = get<uint32_t>(n, "breaker_consecutive_failures", w, p.breaker.consecutive_failures);
  p.breaker.failure_rate = get<double>(n, "breaker_failure_rate", w, p.breaker.failure_rate);
  p.breaker.base_ejection = ms_field(n, "breaker_base_ejection_ms", w, p.breaker.base_ejection, false);
  p.breaker.consecutive_span = ms_field(n, "breaker_consecutive_span_ms", w, p.breaker.consecutive_span, true);
  p.breaker.max_ejection = ms_field(n, "breaker_max_ejection_ms", w, p.breaker.max_ejection, false);
  p.breaker.stale_report_after = ms_field(n, "stale_report_after_ms", w, p.breaker.stale_report_after, false);
  p.forget_idle_estimates = ms_field(n, "forget_idle_estimates_ms", w, p.forget_idle_estimates, true);
  p.forget_idle_gaps = get<double>(n, "forget_idle_gaps", w, p.forget_idle_gaps);
  p.sample_groups_over = get<size_t>(n, "sample_groups_over", w, p.sample_groups_over);
  if (Status s = routing::validate(p); !s.ok()) fail(w, s.message());
  return p;
}

RoutingConfig parse_routing(const YAML::Node& n, Duration default_budget) {
  RoutingConfig r;
  r.policy.default_budget = default_budget;
  if (!n) return r;
  const std::string w = "routing";
  check_keys(n, {"edge_preference", "cloud_spend_cap_usd_per_s", "max_fallbacks", "hedge_when_p95_over",
                 "shed_sheddable_above", "shed_standard_above", "breaker_consecutive_failures",
                 "breaker_consecutive_span_ms", "breaker_failure_rate", "breaker_base_ejection_ms",
                 "breaker_max_ejection_ms", "stale_report_after_ms", "forget_idle_estimates_ms",
                 "forget_idle_gaps", "sample_groups_over", "load_poll_interval_ms",
                 "load_poll_timeout_ms"},
             w);
  r.policy = parse_policy(n, w, r.policy);
  r.load_poll_interval = ms_field(n, "load_poll_interval_ms", w, r.load_poll_interval, false);
  r.load_poll_timeout = ms_field(n, "load_poll_timeout_ms", w, r.load_poll_timeout, false);
  return r;
}

ServerConfig parse_server(const YAML::Node& n) {
  ServerConfig s;
  if (!n) return s;
  const std::string w = "server";
  check_keys(n, {"host", "port", "threads", "max_body_bytes", "max_connections",
                 "default_latency_budget_ms", "busy_poll_us"}, w);
  s.host = get<std::string>(n, "host", w, s.host);
  int port = get<int>(n, "port", w, s.port);
  if (port < 0 || port > 65535) fail(w, "port out of range");
  s.port = static_cast<uint16_t>(port);
  s.threads = get<int>(n, "threads", w, s.threads);
  if (s.threads < 1 || s.threads > 64) fail(w, "threads must be 1..64");
  // Read as signed, so that a negative value is an error rather than a huge unsigned one. Zero
  // would make a server that looks healthy and refuses every inference (or every connection).
  const auto body = get<int64_t>(n, "max_body_bytes", w, static_cast<int64_t>(s.max_body_bytes));
  if (body < 1024 || body > (int64_t{1} << 32)) fail(w, "max_body_bytes must be 1024..4294967296");
  s.max_body_bytes = static_cast<size_t>(body);
  const auto conns = get<int64_t>(n, "max_connections", w, static_cast<int64_t>(s.max_connections));
  if (conns < 1 || conns > 1000000) fail(w, "max_connections must be 1..1000000");
  s.max_connections = static_cast<size_t>(conns);
  double budget = get<double>(n, "default_latency_budget_ms", w, to_ms(s.default_budget));
  if (!(budget > 0 && budget <= kMaxMs)) fail(w, "default_latency_budget_ms must be within (0, 3600000]");
  s.default_budget = from_ms(budget);
  const int poll_us = get<int>(n, "busy_poll_us", w, 0);
  if (poll_us < 0 || poll_us > 100000) fail(w, "busy_poll_us must be 0..100000 (0: off)");
  s.busy_poll = std::chrono::microseconds(poll_us);
  return s;
}

// Keys only one kind of target takes: HTTP endpoints, or MCU pools (class mcu with `devices`).
constexpr const char* kHttpOnly[] = {"url", "token_env", "concurrency", "queue_capacity", "poll_load"};
constexpr const char* kMcuOnly[] = {"devices", "attempt_timeout_ms", "max_attempts", "heartbeat_ms", "max_outstanding",
                                   "model_crc32"};

McuTargetConfig parse_mcu_keys(const YAML::Node& n, const std::string& w) {
  McuTargetConfig m;
  const auto& ds = n["devices"];
  if (!ds.IsSequence() || ds.size() == 0) fail(w, "'devices' must be a list of at least one address");
  for (size_t i = 0; i < ds.size(); ++i) {
    std::string wi = w + ".devices[" + std::to_string(i) + "]";
    if (!ds[i].IsScalar()) fail(wi, "must be an address such as serial:///dev/ttyUSB0 or tcp://127.0.0.1:5555");
    m.devices.push_back(ds[i].as<std::string>());
  }
  m.attempt_timeout = ms_field(n, "attempt_timeout_ms", w, m.attempt_timeout, false);
  m.max_attempts = get<int>(n, "max_attempts", w, m.max_attempts);
  if (m.max_attempts < 1 || m.max_attempts > 100) fail(w, "'max_attempts' must be within 1..100");
  m.heartbeat = ms_field(n, "heartbeat_ms", w, m.heartbeat, false);
  int out = get<int>(n, "max_outstanding", w, static_cast<int>(m.max_outstanding));
  if (out < 1 || out > 100000) fail(w, "'max_outstanding' must be within 1..100000");
  m.max_outstanding = static_cast<uint32_t>(out);
  if (n["model_crc32"]) {
    // As the model blob's header and /v1/targets write it: 0x and eight hex digits.
    const auto text = get<std::string>(n, "model_crc32", w, "");
    uint32_t crc = 0;
    const bool hex = text.size() == 10 && text.starts_with("0x") &&
                     std::from_chars(text.data() + 2, text.data() + text.size(), crc, 16).ptr == text.data() + text.size();
    if (!hex) fail(w, "'model_crc32' must be 0x and eight hex digits, as /v1/targets shows it (e.g. \"0x1a2b3c4d\")");
    m.model_crc32 = crc;
  }
  return m;
}

TargetConfig parse_target(const YAML::Node& n, size_t i) {
  std::string w = "targets[" + std::to_string(i) + "]";
  check_keys(n, {"name", "url", "class", "cost_per_request_usd", "cost_per_second_usd",
                 "token_env", "timeout_ms", "failure_domain", "concurrency", "queue_capacity", "expected_rtt_ms",
                 "poll_load", "devices", "attempt_timeout_ms", "max_attempts", "heartbeat_ms", "max_outstanding",
                 "model_crc32"}, w);
  TargetConfig t;
  t.name = required_string(n, "name", w);
  if (Status st = check_name("name", t.name); !st.ok()) fail(w, st.message());
  w = "target '" + t.name + "'";
  t.hw = parse_class(required_string(n, "class", w), w);
  // An MCU behind an HTTP gateway is an ordinary v2 target of class mcu; `devices` makes it a
  // pool the router drives itself over the frame protocol.
  const bool pool = static_cast<bool>(n["devices"]);
  if (pool && t.hw != HardwareClass::kMcu) fail(w, "'devices' is only for targets of class mcu");
  for (const char* k : pool ? std::span<const char* const>(kHttpOnly) : std::span<const char* const>(kMcuOnly))
    if (n[k]) fail(w, std::string("'") + k + (pool ? "' is not for an MCU pool (it has 'devices')" : "' is only for an MCU pool (class mcu with 'devices')"));
  if (pool) {
    McuTargetConfig m = parse_mcu_keys(n, w);
    std::vector<std::string> devices = m.devices;
    t.mcu = std::move(m);
    if (Status s = make_mcu_pool(t, std::move(devices)); !s.ok()) fail(w, s.message());
  } else {
    t.url = required_string(n, "url", w);
    auto url = net::Url::parse(t.url);
    if (!url.ok()) fail(w, "url: " + url.status().message());
  }
  t.cost_per_request = parse_usd(n, "cost_per_request_usd", w);
  t.cost_per_second = parse_usd(n, "cost_per_second_usd", w);
  t.token_env = get<std::string>(n, "token_env", w, "");
  if (!t.token_env.empty())
    if (Status s = check_token_env(t.token_env); !s.ok()) fail(w, s.message());
  double timeout = get<double>(n, "timeout_ms", w, to_ms(t.timeout));
  if (!(timeout > 0 && timeout <= kMaxMs)) fail(w, "timeout_ms must be within (0, 3600000]");
  t.timeout = from_ms(timeout);
  t.failure_domain = get<std::string>(n, "failure_domain", w, "");
  if (!pool) {
    int conc = get<int>(n, "concurrency", w, 1);
    if (conc < 1 || conc > kMaxTargetConcurrency) fail(w, "concurrency must be within 1.." + std::to_string(kMaxTargetConcurrency));
    t.concurrency = static_cast<uint32_t>(conc);
    int queue = get<int>(n, "queue_capacity", w, static_cast<int>(t.queue_capacity));
    if (queue < 0 || queue > 10000000) fail(w, "queue_capacity must be within 0..10000000");
    t.queue_capacity = static_cast<uint32_t>(queue);
  }
  t.expected_rtt = ms_field(n, "expected_rtt_ms", w, t.expected_rtt, true);
  t.poll_load = pool ? false : get<bool>(n, "poll_load", w, true);
  return t;
}

std::vector<TensorSpec> parse_specs(const YAML::Node& n, const std::string& w) {
  if (!n || !n.IsSequence() || n.size() == 0) fail(w, "needs at least one tensor");
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string wi = w + "[" + std::to_string(i) + "]";
    check_keys(n[i], {"name", "datatype", "shape"}, wi);
    TensorSpec s;
    s.name = required_string(n[i], "name", wi);
    auto dt = parse_datatype(required_string(n[i], "datatype", wi));
    if (!dt) fail(wi, "unknown datatype");
    s.datatype = *dt;
    s.shape = get<std::vector<int64_t>>(n[i], "shape", wi, {});
    for (auto d : s.shape)
      if (d < -1 || d == 0) fail(wi, "dimensions must be positive or -1");
    out.push_back(std::move(s));
  }
  return out;
}

VariantConfig parse_variant(const YAML::Node& n, const std::string& w, const Config& cfg) {
  check_keys(n, {"name", "targets", "accuracy", "accuracy_by_band", "size_bytes", "expected_service_ms"}, w);
  VariantConfig v;
  v.name = required_string(n, "name", w);
  if (Status st = check_name("name", v.name); !st.ok()) fail(w, st.message());
  v.targets = get<std::vector<std::string>>(n, "targets", w, {});
  if (v.targets.empty()) fail(w, "'targets' needs at least one target name");
  for (const auto& t : v.targets)
    if (!cfg.find_target(t)) fail(w, "unknown target '" + t + "'");
  v.accuracy = get<double>(n, "accuracy", w, 0.0);
  if (v.accuracy < 0 || v.accuracy > 1) fail(w, "accuracy must be within 0..1");
  v.accuracy_by_band = get<std::vector<double>>(n, "accuracy_by_band", w, {});
  for (double a : v.accuracy_by_band)
    if (!(a >= 0 && a <= 1)) fail(w, "accuracy_by_band values must be within 0..1");
  v.size_bytes = get<int64_t>(n, "size_bytes", w, 0);
  v.expected_service = ms_field(n, "expected_service_ms", w, v.expected_service, true);
  return v;
}

ModelConfig parse_model(const YAML::Node& n, size_t i, const Config& cfg) {
  std::string w = "models[" + std::to_string(i) + "]";
  check_keys(n, {"name", "platform", "max_batch_size", "inputs", "outputs", "variants"}, w);
  ModelConfig m;
  m.signature.name = required_string(n, "name", w);
  if (Status st = check_name("name", m.signature.name); !st.ok()) fail(w, st.message());
  w = "model '" + m.signature.name + "'";
  m.signature.platform = get<std::string>(n, "platform", w, "hir_router");
  m.signature.versions = {"1"};
  m.signature.max_batch_size = get<int64_t>(n, "max_batch_size", w, 0);
  if (m.signature.max_batch_size < 0) fail(w, "max_batch_size must be >= 0");
  m.signature.inputs = parse_specs(n["inputs"], w + ".inputs");
  m.signature.outputs = parse_specs(n["outputs"], w + ".outputs");
  // The file gives shapes without the batch dimension (as Triton's config.pbtxt does); the
  // v2 metadata and validation see it as a leading -1.
  if (m.signature.max_batch_size > 0) {
    for (auto* specs : {&m.signature.inputs, &m.signature.outputs})
      for (auto& s : *specs) s.shape.insert(s.shape.begin(), -1);
  }
  const auto& vs = n["variants"];
  if (!vs || !vs.IsSequence() || vs.size() == 0) fail(w, "needs at least one variant");
  for (size_t j = 0; j < vs.size(); ++j) {
    const std::string vw = w + ".variants[" + std::to_string(j) + "]";
    m.variants.push_back(parse_variant(vs[j], vw, cfg));
    // A target calls a variant by name: two of one name would be one model to it.
    for (size_t k = 0; k + 1 < m.variants.size(); ++k)
      if (m.variants[k].name == m.variants.back().name) fail(vw, "variant '" + m.variants.back().name + "' defined twice");
  }
  return m;
}

std::vector<DemoWorker> parse_demo_workers(const YAML::Node& ws, const Config& cfg) {
  std::vector<DemoWorker> out;
  if (!ws) return out;
  if (!ws.IsSequence()) fail("demo", "'workers' must be a list");
  for (size_t i = 0; i < ws.size(); ++i) {
    std::string w = "demo.workers[" + std::to_string(i) + "]";
    check_keys(ws[i],
               {"target", "models", "concurrency", "emulate_rtt_ms", "emulate_jitter_ms", "emulate_service_ms"},
               w);
    DemoWorker d;
    d.target = required_string(ws[i], "target", w);
    const TargetConfig* t = cfg.find_target(d.target);
    if (!t) fail(w, "unknown target '" + d.target + "'");
    if (t->is_mcu_pool()) fail(w, "target '" + d.target + "' is an MCU pool: list its emulators under demo.mcus");
    d.models = get<std::vector<std::string>>(ws[i], "models", w, {});
    if (d.models.empty()) fail(w, "'models' needs at least one model");
    d.concurrency = get<int>(ws[i], "concurrency", w, 1);
    d.emulate_rtt_ms = get<double>(ws[i], "emulate_rtt_ms", w, 0.0);
    d.emulate_jitter_ms = get<double>(ws[i], "emulate_jitter_ms", w, 0.0);
    d.emulate_service_ms = get<double>(ws[i], "emulate_service_ms", w, 0.0);
    if (d.concurrency < 1 || d.emulate_rtt_ms < 0 || d.emulate_jitter_ms < 0 ||
        d.emulate_service_ms < 0)
      fail(w, "concurrency must be >= 1 and delays >= 0");
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<DemoMcu> parse_demo_mcus(const YAML::Node& ms, const Config& cfg) {
  std::vector<DemoMcu> out;
  if (!ms) return out;
  if (!ms.IsSequence()) fail("demo", "'mcus' must be a list");
  std::set<int> ports;
  for (size_t i = 0; i < ms.size(); ++i) {
    std::string w = "demo.mcus[" + std::to_string(i) + "]";
    check_keys(ms[i], {"target", "port", "drop_every", "corrupt_every"}, w);
    DemoMcu d;
    d.target = required_string(ms[i], "target", w);
    const TargetConfig* t = cfg.find_target(d.target);
    if (!t) fail(w, "unknown target '" + d.target + "'");
    if (!t->is_mcu_pool()) fail(w, "target '" + d.target + "' is not an MCU pool (class mcu with 'devices')");
    int port = get<int>(ms[i], "port", w, 0);
    if (port < 1 || port > 65535) fail(w, "'port' must be within 1..65535");
    if (!ports.insert(port).second) fail(w, "port " + std::to_string(port) + " is used twice");
    d.port = static_cast<uint16_t>(port);
    // The emulator must be one of the target's devices, or the router would never reach it.
    const std::string want = "tcp://127.0.0.1:" + std::to_string(port);
    const auto& devs = t->mcu->devices;
    if (std::find(devs.begin(), devs.end(), want) == devs.end())
      fail(w, "target '" + d.target + "' has no device " + want);
    d.drop_every = get<int>(ms[i], "drop_every", w, 0);
    d.corrupt_every = get<int>(ms[i], "corrupt_every", w, 0);
    if (d.drop_every < 0 || d.corrupt_every < 0) fail(w, "'drop_every' and 'corrupt_every' must be >= 0");
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<DemoTraffic> parse_demo_traffic(const YAML::Node& ts) {
  std::vector<DemoTraffic> out;
  if (!ts) return out;
  if (!ts.IsSequence()) fail("demo", "'traffic' must be a list");
  for (size_t i = 0; i < ts.size(); ++i) {
    std::string w = "demo.traffic[" + std::to_string(i) + "]";
    check_keys(ts[i], {"weight", "latency_budget_ms", "min_accuracy", "priority"}, w);
    DemoTraffic d;
    d.weight = get<double>(ts[i], "weight", w, 1.0);
    if (!(d.weight > 0 && d.weight <= 1e6)) fail(w, "'weight' must be within (0, 1000000]");
    if (ts[i]["latency_budget_ms"]) {
      d.latency_budget_ms = get<double>(ts[i], "latency_budget_ms", w, 0.0);
      if (!(*d.latency_budget_ms > 0 && *d.latency_budget_ms <= kMaxMs)) fail(w, "'latency_budget_ms' must be within (0, 3600000]");
    }
    if (ts[i]["min_accuracy"]) {
      d.min_accuracy = get<double>(ts[i], "min_accuracy", w, 0.0);
      if (!(*d.min_accuracy >= 0 && *d.min_accuracy <= 1)) fail(w, "'min_accuracy' must be within 0..1");
    }
    d.priority = get<std::string>(ts[i], "priority", w, "");
    if (!d.priority.empty() && d.priority != "critical" && d.priority != "standard" && d.priority != "sheddable")
      fail(w, "'priority' must be critical, standard or sheddable");
    out.push_back(std::move(d));
  }
  return out;
}

void parse_demo(const YAML::Node& n, Config& cfg) {
  if (!n) return;
  check_keys(n, {"workers", "mcus", "traffic", "rate_per_s"}, "demo");
  cfg.demo_workers = parse_demo_workers(n["workers"], cfg);
  cfg.demo_mcus = parse_demo_mcus(n["mcus"], cfg);
  cfg.demo_traffic = parse_demo_traffic(n["traffic"]);
  cfg.demo_rate_per_s = get<double>(n, "rate_per_s", "demo", 0.0);
  if (!(cfg.demo_rate_per_s >= 0 && cfg.demo_rate_per_s <= 1e6)) fail("demo", "'rate_per_s' must be within 0..1000000");
}

BatchingConfig parse_batching(const YAML::Node& n) {
  BatchingConfig b;
  if (!n) return b;
  const std::string w = "batching";
  check_keys(n, {"max_requests", "extra_inflight", "max_waiting"}, w);
  auto bounded = [&](const char* key, uint32_t def, int64_t lo, int64_t hi) {
    const auto v = get<int64_t>(n, key, w, def);
    if (v < lo || v > hi)
      fail(w, "'" + std::string(key) + "' must be within " + std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<uint32_t>(v);
  };
  b.max_requests = bounded("max_requests", b.max_requests, 1, 1024);
  b.extra_inflight = bounded("extra_inflight", b.extra_inflight, 0, 1024);
  b.max_waiting = bounded("max_waiting", b.max_waiting, 1, 1000000);
  return b;
}

Config parse_root(const YAML::Node& root) {
  check_keys(root, {"server", "routing", "batching", "targets", "models", "demo", "cache"}, "configuration");
  Config cfg;
  cfg.server = parse_server(root["server"]);
  cfg.routing = parse_routing(root["routing"], cfg.server.default_budget);
  cfg.batching = parse_batching(root["batching"]);
  const auto& ts = root["targets"];
  if (!ts || !ts.IsSequence() || ts.size() == 0) fail("configuration", "needs at least one target");
  for (size_t i = 0; i < ts.size(); ++i) {
    auto t = parse_target(ts[i], i);
    if (cfg.find_target(t.name)) fail("target '" + t.name + "'", "defined twice");
    cfg.targets.push_back(std::move(t));
  }
  const auto& ms = root["models"];
  if (!ms || !ms.IsSequence() || ms.size() == 0) fail("configuration", "needs at least one model");
  for (size_t i = 0; i < ms.size(); ++i) {
    auto m = parse_model(ms[i], i, cfg);
    if (cfg.find_model(m.signature.name)) fail("model '" + m.signature.name + "'", "defined twice");
    cfg.models.push_back(std::move(m));
  }
  parse_demo(root["demo"], cfg);
  if (root["cache"]) {
    cfg.cache = cache::parse_cache_section(root["cache"]);
    // A policy for a model nobody can call is a typo that would silently cache nothing.
    for (const auto& p : cfg.cache->models)
      if (!cfg.find_model(p.model)) fail("cache.models['" + p.model + "']", "unknown model '" + p.model + "'");
  }
  return cfg;
}

// host[:port] with an optional [v6] host; the port defaults to Redis's own.
Status parse_host_port(std::string_view hp, std::string& host, uint16_t& port) {
  std::string_view port_text;
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos) return InvalidArgument("unterminated '[' in the host");
    host = std::string(hp.substr(1, close - 1));
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return InvalidArgument("junk after the host");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    auto colon = hp.find(':');
    host = std::string(hp.substr(0, colon));
    if (colon != std::string_view::npos) port_text = hp.substr(colon + 1);
  }
  if (host.empty()) return InvalidArgument("no host");
  port = 6379;
  if (port_text.empty()) return Status::Ok();
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || v < 1 || v > 65535)
    return InvalidArgument("port must be within 1..65535");
  port = static_cast<uint16_t>(v);
  return Status::Ok();
}

}  // namespace

std::string join_devices(const std::vector<std::string>& devices) {
  std::string out;
  for (const auto& d : devices) out += (out.empty() ? "" : " ") + d;
  return out;
}

std::vector<std::string> split_devices(std::string_view url) {
  std::vector<std::string> out;
  while (!url.empty()) {
    auto sp = url.find(' ');
    if (sp != 0) out.emplace_back(url.substr(0, sp));
    if (sp == std::string_view::npos) break;
    url.remove_prefix(sp + 1);
  }
  return out;
}

Status check_token_env(std::string_view name) {
  const bool shape = name.size() > 10 && name.starts_with("HIR_") && name.ends_with("_TOKEN") &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
                     });
  if (shape) return Status::Ok();
  return InvalidArgument("token_env " + quote(name) +
                         " must name a variable HIR_..._TOKEN (e.g. HIR_CLOUD_TOKEN): a target's token is "
                         "sent to its url, so no other variable of the process may be read for one");
}

bool names_mcu_devices(std::string_view url) { return url.starts_with("serial://") || url.starts_with("tcp://"); }

Status make_mcu_pool(TargetConfig& t, std::vector<std::string> devices) {
  if (devices.empty()) return InvalidArgument("'devices' needs at least one address");
  std::set<std::string> seen;
  for (size_t i = 0; i < devices.size(); ++i) {
    auto a = backends::parse_mcu_address(devices[i]);
    if (!a.ok()) return InvalidArgument("devices[" + std::to_string(i) + "]: " + a.status().message());
    if (!seen.insert(devices[i]).second)
      return InvalidArgument("devices[" + std::to_string(i) + "]: '" + devices[i] + "' is listed twice");
  }
  if (!t.mcu) t.mcu.emplace();
  t.mcu->devices = std::move(devices);
  t.url = join_devices(t.mcu->devices);
  t.concurrency = static_cast<uint32_t>(t.mcu->devices.size());
  t.queue_capacity = t.mcu->max_outstanding;
  t.poll_load = false;
  return Status::Ok();
}

const TargetConfig* Config::find_target(std::string_view name) const {
  for (const auto& t : targets)
    if (t.name == name) return &t;
  return nullptr;
}

const ModelConfig* Config::find_model(std::string_view name) const {
  for (const auto& m : models)
    if (m.signature.name == name) return &m;
  return nullptr;
}

Result<Config> parse_config(std::string_view yaml_text) {
  try {
    return parse_root(YAML::Load(std::string(yaml_text)));
  } catch (const yamlf::FieldError& e) {
    return InvalidArgument("config: " + e.message);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config: ") + e.what());
  }
}

Status check_name(std::string_view what, std::string_view name) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == ':' || c == '+' || c == '@';
  };
  if (name.empty() || name.size() > 128 || !std::all_of(name.begin(), name.end(), ok))
    return InvalidArgument(std::string(what) + " must be 1 to 128 of A-Z a-z 0-9 . _ - : + @");
  return Status::Ok();
}

Status apply_redis_url(Config& cfg, std::string_view url) {
  auto bad = [](const std::string& why) { return InvalidArgument(std::string(kRedisUrlEnv) + ": " + why); };
  std::string_view rest = url;
  if (rest.starts_with("rediss://")) return bad("TLS (rediss://) is not supported; use redis://");
  if (rest.starts_with("redis://")) rest.remove_prefix(8);
  else if (rest.find("://") != std::string_view::npos) return bad("scheme must be redis://");
  // redis://[[user]:password@]host[:port][/0]: the user info, percent-decoded, for AUTH. The
  // password is a secret: no message here quotes it.
  std::string user, password;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const auto colon = info.find(':');
    if (colon == std::string_view::npos) return bad("user info without a password: use redis://[user]:password@host");
    auto u = percent_decode(info.substr(0, colon), false);
    auto p = percent_decode(info.substr(colon + 1), false);
    if (!u || !p) return bad("user info has a broken %-escape");
    if (p->empty()) return bad("empty password");
    user = std::move(*u);
    password = std::move(*p);
  }
  std::string_view db;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (!db.empty() && db != "0") return bad("only database 0 is supported");
  std::string host;
  uint16_t port = 0;
  if (Status s = parse_host_port(rest, host, port); !s.ok()) return bad(s.message());
  if (!cfg.cache) return Status::Ok();
  if (!cfg.cache->redis) cfg.cache->redis.emplace();
  cfg.cache->redis->host = std::move(host);
  cfg.cache->redis->port = port;
  cfg.cache->redis->username = std::move(user);
  cfg.cache->redis->password = std::move(password);
  return Status::Ok();
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("config: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

}  // namespace hir::router
