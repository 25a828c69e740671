#include "store/records.h"

#include <cmath>

namespace hir::store {

bool is_hardware_class(std::string_view s) {
  return s == "mcu" || s == "edge-cpu" || s == "edge-gpu" || s == "cloud";
}

const TargetRecord* RegistrySnapshot::find_target(std::string_view name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const VariantRecord* RegistrySnapshot::find_variant(std::string_view model,
                                                    std::string_view name) const {
  for (const auto& v : variants) {
    if (v.model == model && v.name == name) return &v;
  }
  return nullptr;
}

std::string_view cache_use_name(CacheUse c) {
  switch (c) {
    case CacheUse::kHit: return "hit";
    case CacheUse::kStale: return "stale";
    case CacheUse::kNone: break;
  }
  return "none";
}

Result<CacheUse> parse_cache_use(std::string_view s) {
  if (s == "none" || s.empty()) return CacheUse::kNone;
  if (s == "hit") return CacheUse::kHit;
  if (s == "stale") return CacheUse::kStale;
  return InvalidArgument("cache must be none, hit or stale, not '" + std::string(s) + "'");
}

namespace {

Status bad(const std::string& what, const std::string& name, const std::string& why) {
  return InvalidArgument(what + " '" + name + "': " + why);
}

bool finite_in(double x, double lo, double hi) { return std::isfinite(x) && x >= lo && x <= hi; }

}  // namespace

Status validate(const ModelRecord& m) {
  if (m.name.empty()) return InvalidArgument("model: 'name' is required");
  return Status::Ok();
}

Status validate(const TargetRecord& t) {
  if (t.name.empty()) return InvalidArgument("target: 'name' is required");
  if (t.url.empty()) return bad("target", t.name, "'url' is required");
  if (!is_hardware_class(t.hw_class)) {
    return bad("target", t.name, "'class' must be mcu, edge-cpu, edge-gpu or cloud, not '" +
                                     t.hw_class + "'");
  }
  if (t.cost_per_request.nano() < 0 || t.cost_per_second.nano() < 0) {
    return bad("target", t.name, "costs must not be negative");
  }
  if (t.concurrency < 1) return bad("target", t.name, "'concurrency' must be at least 1");
  if (!finite_in(t.timeout_ms, 0, 1e9) || !finite_in(t.expected_rtt_ms, 0, 1e9)) {
    return bad("target", t.name, "'timeout_ms' and 'expected_rtt_ms' must be >= 0");
  }
  return Status::Ok();
}

Status validate(const VariantRecord& v) {
  if (v.model.empty()) return InvalidArgument("variant: 'model' is required");
  if (v.name.empty()) return InvalidArgument("variant: 'name' is required");
  std::string id = v.model + "/" + v.name;
  if (!finite_in(v.accuracy, 0, 1)) return bad("variant", id, "'accuracy' must be in [0, 1]");
  for (double a : v.accuracy_by_band) {
    if (!finite_in(a, 0, 1)) return bad("variant", id, "'accuracy_by_band' must be in [0, 1]");
  }
  if (v.size_bytes < 0) return bad("variant", id, "'size_bytes' must not be negative");
  if (!v.hw_class.empty() && !is_hardware_class(v.hw_class)) {
    return bad("variant", id, "'class' must be mcu, edge-cpu, edge-gpu, cloud or empty");
  }
  if (!finite_in(v.expected_service_ms, 0, 1e9)) {
    return bad("variant", id, "'expected_service_ms' must be >= 0");
  }
  for (size_t i = 0; i < v.targets.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (v.targets[i] == v.targets[j]) return bad("variant", id, "target listed twice: " + v.targets[i]);
    }
  }
  return Status::Ok();
}

}  // namespace hir::store
