// Records for the store tests.
#pragma once

#include <string>
#include <vector>

#include "store/records.h"

namespace hir::store::testing {

inline TargetRecord make_target(const std::string& name, const std::string& hw_class,
                                int64_t per_request_nano = 0, int64_t per_second_nano = 0,
                                uint32_t concurrency = 1) {
  TargetRecord t;
  t.name = name;
  t.url = "http://127.0.0.1:9/" + name;
  t.hw_class = hw_class;
  t.cost_per_request = Money::from_nano(per_request_nano);
  t.cost_per_second = Money::from_nano(per_second_nano);
  t.concurrency = concurrency;
  return t;
}

inline VariantRecord make_variant(const std::string& model, const std::string& name,
                                  std::vector<std::string> targets, double service_ms = 1) {
  VariantRecord v;
  v.model = model;
  v.name = name;
  v.accuracy = 0.9;
  v.expected_service_ms = service_ms;
  v.targets = std::move(targets);
  return v;
}

inline UsageRecord make_usage(int64_t time_ms, const std::string& id, const std::string& target,
                              const std::string& hw_class, double latency_ms, int64_t cost_nano,
                              const std::string& outcome = "ok", uint32_t fallbacks = 0,
                              CacheUse cache = CacheUse::kNone) {
  UsageRecord u;
  u.time_ms = time_ms;
  u.request_id = id;
  u.tenant = "tenant-a";
  u.model = "fmnist";
  u.variant = target.empty() ? "" : "fmnist-small";
  u.target = target;
  u.hw_class = hw_class;
  u.latency_ms = latency_ms;
  u.cost = Money::from_nano(cost_nano);
  u.outcome = outcome;
  u.fallbacks = fallbacks;
  u.cache = cache;
  return u;
}

}  // namespace hir::store::testing
