// The router's configuration: where it listens, the targets it can send work to, and the logical
// models with the variants each target serves. Loaded from YAML (config/demo.yaml is the
// embedded default); every field is documented in docs/configuration.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/config.h"
#include "core/money.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"
#include "routing/policy.h"
#include "routing/types.h"

namespace hir::router {

using routing::HardwareClass;
using routing::hardware_class_name;

// A pool of MCUs behind one target (class mcu with `devices`; docs/mcu-emulator.md): one device
// runs one inference at a time, so the pool's size is the target's concurrency and its request
// limit the target's queue.
struct McuTargetConfig {
  std::vector<std::string> devices;  // serial:///dev/ttyUSB0?baud=921600, tcp://127.0.0.1:5555, ...
  Duration attempt_timeout = std::chrono::milliseconds(500);  // one try on one device
  int max_attempts = 3;                                       // tries per request (lost frames)
  Duration heartbeat = std::chrono::milliseconds(200);        // the devices' STATUS period
  uint32_t max_outstanding = 32;  // requests the pool holds, in flight and waiting
  std::optional<uint32_t> model_crc32;  // the model the devices must run (else the first one's)
};

struct TargetConfig {
  std::string name;
  std::string url;             // http://host:port[/base]; for an MCU pool, its devices joined by spaces
  HardwareClass hw = HardwareClass::kEdgeCpu;
  Money cost_per_request;      // charged per request sent
  Money cost_per_second;       // charged per second of service (wall time of the call)
  std::string token_env;       // environment variable with a bearer token ("" = none)
  Duration timeout = std::chrono::seconds(5);  // per attempt, capped by the request's deadline
  std::string failure_domain;  // targets sharing one fail together (a site, a region); "" = its own
  uint32_t concurrency = 1;    // requests it serves at once (a worker's --concurrency)
  uint32_t queue_capacity = 64;  // requests it can hold waiting (a worker's --queue-depth); its load report wins
  Duration expected_rtt = std::chrono::milliseconds(1);  // prior until measured
  bool poll_load = true;       // GET /v1/load from it (hir-worker); off for endpoints without one
  std::optional<McuTargetConfig> mcu;  // set: a pool of MCUs over the frame protocol, not HTTP

  bool is_mcu_pool() const { return mcu.has_value(); }
};

// An MCU pool's devices as one `url` string (the registry's single address field) and back.
// Addresses never contain spaces, so a space separates them.
std::string join_devices(const std::vector<std::string>& devices);
std::vector<std::string> split_devices(std::string_view url);
// True when `url` names MCU devices (serial:// or tcp://) rather than an HTTP endpoint.
bool names_mcu_devices(std::string_view url);
// A target's token_env must name a variable HIR_..._TOKEN (upper-case letters, digits and '_'):
// a token is read for the target and sent to its url, so neither the file nor the admin API may
// point a target at any other secret of the process (HIR_ADMIN_KEY, a database URL, PGPASSWORD).
Status check_token_env(std::string_view name);
constexpr int kMaxTargetConcurrency = 100000;

// Turns t into an MCU pool target over `devices` (concurrency and queue follow from the pool);
// kInvalidArgument naming the bad address.
Status make_mcu_pool(TargetConfig& t, std::vector<std::string> devices);

struct VariantConfig {
  std::string name;                  // the model's name on its targets
  std::vector<std::string> targets;  // target names, in order of preference
  double accuracy = 0;               // top-1 on the model's test set, 0..1
  std::vector<double> accuracy_by_band;  // optional: accuracy per complexity band (see routing/registry.h)
  int64_t size_bytes = 0;
  Duration expected_service = std::chrono::milliseconds(1);  // prior until measured
};

struct ModelConfig {
  ModelSignature signature;             // what the logical model takes and returns
  std::vector<VariantConfig> variants;  // in order of preference (cheapest first)
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  int threads = 1;
  size_t max_body_bytes = 64u << 20;
  size_t max_connections = 20000;
  Duration default_budget = std::chrono::seconds(10);  // deadline when a request gives none
  Duration busy_poll{};  // busy_poll_us: how long an idle I/O thread polls before it sleeps
};

// A local process `hir demo` starts to stand in for a target (ignored by `hir serve`).
struct DemoWorker {
  std::string target;               // the target it plays; it listens on that target's port
  std::vector<std::string> models;  // model repository entries it serves
  int concurrency = 1;
  double emulate_rtt_ms = 0;        // stands in for a WAN link to a cloud region
  double emulate_jitter_ms = 0;
  double emulate_service_ms = 0;    // per image: stands in for a device slower than this host
};

// An MCU emulator `hir demo` starts (hir-mcu-emu --tcp PORT) for a device of an mcu target.
struct DemoMcu {
  std::string target;   // the mcu target whose device it plays
  uint16_t port = 0;    // its TCP port: the target must list tcp://127.0.0.1:PORT
  int drop_every = 0;   // fault switches, passed on (0: off)
  int corrupt_every = 0;
};

// One kind of request the demo sends, `weight` parts of the traffic (the hints it carries).
struct DemoTraffic {
  double weight = 1;
  std::optional<double> latency_budget_ms;
  std::optional<double> min_accuracy;
  std::string priority;  // "" = none
};

// How hir serve decides (the routing core's knobs) and how it learns about targets.
struct RoutingConfig {
  routing::PolicyConfig policy;
  Duration load_poll_interval = std::chrono::milliseconds(500);
  Duration load_poll_timeout = std::chrono::milliseconds(300);
};

// Requests for one target and variant that wait while it is busy go to it as one call
// (docs/batching.md). Off unless max_requests > 1.
struct BatchingConfig {
  uint32_t max_requests = 1;    // requests merged into one call, at most; 1: never merged
  uint32_t extra_inflight = 1;  // calls on the wire per (target, variant): its concurrency plus this
  uint32_t max_waiting = 4096;  // requests held per (target, variant); more are sent on their own

  bool on() const { return max_requests > 1; }
};

struct Config {
  ServerConfig server;
  RoutingConfig routing;
  BatchingConfig batching;
  std::vector<DemoWorker> demo_workers;
  std::vector<DemoMcu> demo_mcus;
  std::vector<DemoTraffic> demo_traffic;  // empty: requests without hints
  double demo_rate_per_s = 0;             // requests per second the demo paces; 0: closed loop
  std::vector<TargetConfig> targets;
  std::vector<ModelConfig> models;
  std::optional<cache::CacheConfig> cache;  // the `cache:` section; unset: nothing is cached

  const TargetConfig* find_target(std::string_view name) const;
  const ModelConfig* find_model(std::string_view name) const;
};

// Parses and checks a configuration: unknown keys, missing fields, a variant naming an unknown
// target, a cache policy naming an unknown model, duplicate names and bad URLs are errors that
// name the offending entry.
Result<Config> parse_config(std::string_view yaml_text);
Result<Config> load_config_file(const std::string& path);

// The environment variable that gives (or overrides) the cache's Redis address, so one file
// serves every deployment and the address can come from the platform.
inline constexpr const char* kRedisUrlEnv = "HIR_REDIS_URL";

// Points the cache's Redis level at `url` — redis://host[:port][/0] or host[:port], port 6379 by
// default — keeping the section's other redis settings (or their defaults when it had none).
// Without a cache section there is nothing to share and the call changes nothing. Errors:
// kInvalidArgument for a malformed URL, and for what the Redis level cannot do (TLS, AUTH,
// another database than 0) rather than ignoring it.
Status apply_redis_url(Config& cfg, std::string_view url);

// Target, model and variant names: 1 to 128 of A-Z a-z 0-9 . _ - : + @. They go into URL paths
// (a variant's name is its model's name on its targets; the admin API addresses targets and
// variants by name), metric labels and log lines, where a space, a slash or a quote would break
// them or make the thing unreachable. The error names `what` and the rule, not the whole value.
Status check_name(std::string_view what, std::string_view name);

}  // namespace hir::router
