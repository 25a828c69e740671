// The rows the store keeps, as plain structs. hir_store sits below the router, so these do not
// use the router's configuration types; the router converts (the mapping is in docs/store.md).
// Money is in nano-USD (core/money.h); times are unix milliseconds; hardware classes are the
// routing core's names: "mcu", "edge-cpu", "edge-gpu", "cloud".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/status.h"

namespace hir::store {

// True for the four hardware class names the routing core knows.
bool is_hardware_class(std::string_view s);

struct ModelRecord {
  std::string name;
  // The model's signature (inputs, outputs, platform), serialized by the caller; the store keeps
  // it opaque so it never depends on the tensor vocabulary.
  std::string signature;
};

struct TargetRecord {
  std::string name;
  std::string url;
  std::string hw_class = "edge-cpu";
  Money cost_per_request;
  Money cost_per_second;         // per second of service
  std::string failure_domain;    // "" = its own
  uint32_t concurrency = 1;
  uint32_t queue_capacity = 64;
  std::string token_env;         // environment variable holding a bearer token ("" = none)
  double timeout_ms = 5000;      // per attempt
  double expected_rtt_ms = 1;    // prior until measured
  bool poll_load = true;
  bool drained = false;          // kept in the registry but sent no new work
};

struct VariantRecord {
  std::string model;
  std::string name;
  int position = -1;             // order within the model (cheapest first); -1 on add = last
  double accuracy = 0;           // top-1, 0..1
  std::vector<double> accuracy_by_band;  // optional, see routing/registry.h
  int64_t size_bytes = 0;
  std::string hw_class;          // the class the variant is built for ("" = any)
  double expected_service_ms = 1;
  std::vector<std::string> targets;  // target names, in order of preference
  bool drained = false;
};

// A consistent view of the whole registry, read in one transaction.
struct RegistrySnapshot {
  int64_t version = 0;  // the change counter when it was read
  std::vector<ModelRecord> models;       // by name
  std::vector<VariantRecord> variants;   // by model, then position
  std::vector<TargetRecord> targets;     // by name

  const TargetRecord* find_target(std::string_view name) const;
  const VariantRecord* find_variant(std::string_view model, std::string_view name) const;
};

enum class CacheUse : uint8_t { kNone, kHit, kStale };
std::string_view cache_use_name(CacheUse c);                // "none", "hit", "stale"
Result<CacheUse> parse_cache_use(std::string_view s);

// One request as the ledger records it.
struct UsageRecord {
  int64_t time_ms = 0;       // when the router received the request (unix ms)
  std::string request_id;
  std::string tenant;        // tenant or API key id ("" = anonymous)
  std::string model;
  std::string variant;       // "" when no variant answered (shed, cache)
  std::string target;        // "" when no target answered
  std::string hw_class;      // the answering target's class, "" when none
  double latency_ms = 0;     // end to end, as the client saw it
  // The answering target's own service time when it reported one — a worker's Server-Timing
  // `infer`, an MCU's occupancy from its INFER frame to its RESULT — for the report's busy time;
  // < 0: not known (a target that does not report it, a row from before the column existed).
  double service_ms = -1;
  Money cost;                // what every attempt of the request cost
  std::string outcome = "ok";  // "ok" or the error code name (core/status.h code_name)
  uint32_t fallbacks = 0;    // attempts after the first
  CacheUse cache = CacheUse::kNone;

  bool ok() const { return outcome == "ok"; }
};

// Checks a record's fields before they reach SQL; names the offending field.
Status validate(const TargetRecord& t);
Status validate(const VariantRecord& v);
Status validate(const ModelRecord& m);

}  // namespace hir::store
