// The report's figures (docs/report.md states each formula) and its three renderings.
#include "store/report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/percentile.h"

namespace hir::store {
namespace {

bool is_cloud(std::string_view hw_class) { return hw_class == "cloud"; }
bool is_edge(std::string_view hw_class) { return !hw_class.empty() && !is_cloud(hw_class); }

double ratio(double num, double den) { return den > 0 ? num / den : 0; }

// The busy time a served request cost its target: the service time the target reported for it
// when it did; else the variant's expected service time; either capped by what the request took
// end to end (which also holds network time and queueing, so it is an upper bound on the
// target's work). Without either, the latency itself.
double service_ms(const UsageRecord& u, const RegistrySnapshot& reg) {
  if (u.service_ms >= 0) return std::min(u.latency_ms, u.service_ms);
  const VariantRecord* v = reg.find_variant(u.model, u.variant);
  return v ? std::min(u.latency_ms, v->expected_service_ms) : u.latency_ms;
}

void edge_figures(const std::vector<UsageRecord>& records, const RegistrySnapshot& reg, Report& r) {
  uint64_t served = 0, edge_served = 0;
  std::set<std::string> seen_edge;
  double end_ms = 0;
  for (const auto& u : records) {
    end_ms = std::max(end_ms, static_cast<double>(u.time_ms) + u.latency_ms);
    if (!u.ok() || u.hw_class.empty()) continue;
    ++served;
    if (!is_edge(u.hw_class)) continue;
    ++edge_served;
    r.edge_busy_ms += service_ms(u, reg);
    seen_edge.insert(u.target);
  }
  r.edge_share = ratio(static_cast<double>(edge_served), static_cast<double>(served));
  r.served = served;
  // Capacity: every edge target the registry offers work to, idle ones included (their idleness
  // is what utilization measures), plus any edge target the ledger names that the registry no
  // longer holds, at one slot.
  for (const auto& t : reg.targets) {
    if (is_edge(t.hw_class) && !t.drained) r.edge_slots += t.concurrency;
    seen_edge.erase(t.name);
  }
  r.edge_slots += seen_edge.size();
  double wall_ms = records.empty() ? 0 : end_ms - static_cast<double>(r.first_ms);
  if (r.edge_slots > 0 && wall_ms > 0) {
    r.edge_utilization = r.edge_busy_ms / (wall_ms * static_cast<double>(r.edge_slots));
  }
}

void cloud_figures(const std::vector<UsageRecord>& records, const RegistrySnapshot& reg, Report& r) {
  auto prices = cheapest_cloud_price(reg);
  for (const auto& u : records) {
    // A fresh cache hit would have been one in a cloud-only deployment with the same cache too,
    // so it is no saving of the routing and is left out of both sides.
    if (u.cache == CacheUse::kHit) continue;
    auto it = prices.find(u.model);
    if (it == prices.end()) {
      ++r.unpriced;
      continue;
    }
    ++r.comparable;
    r.comparable_cost += u.cost;
    r.cloud_only_cost += it->second;
  }
  if (r.cloud_only_cost.nano() > 0) {
    r.cost_reduction = 1.0 - static_cast<double>(r.comparable_cost.nano()) /
                                 static_cast<double>(r.cloud_only_cost.nano());
  }
}

}  // namespace

std::map<std::string, Money> cheapest_cloud_price(const RegistrySnapshot& reg) {
  std::map<std::string, Money> out;
  for (const auto& v : reg.variants) {
    for (const auto& name : v.targets) {
      const TargetRecord* t = reg.find_target(name);
      if (!t || !is_cloud(t->hw_class)) continue;
      auto per_second = std::llround(static_cast<double>(t->cost_per_second.nano()) *
                                     v.expected_service_ms / 1000.0);
      Money price = t->cost_per_request + Money::from_nano(per_second);
      auto [it, fresh] = out.emplace(v.model, price);
      if (!fresh && price < it->second) it->second = price;
    }
  }
  return out;
}

Report compute_report(const std::vector<UsageRecord>& records, const RegistrySnapshot& registry,
                      int64_t since_ms, std::string model) {
  Report r;
  r.model = std::move(model);
  r.since_ms = since_ms;
  r.requests = records.size();
  std::vector<double> latencies;
  latencies.reserve(records.size());
  if (!records.empty()) r.first_ms = r.last_ms = records.front().time_ms;
  for (const auto& u : records) {
    r.first_ms = std::min(r.first_ms, u.time_ms);
    r.last_ms = std::max(r.last_ms, u.time_ms);
    if (u.ok()) ++r.ok;
    if (u.fallbacks > 0) ++r.with_fallback;
    if (u.cache == CacheUse::kHit) ++r.cache_hits;
    if (u.cache == CacheUse::kStale) ++r.cache_stale;
    latencies.push_back(u.latency_ms);
    r.cost_total += u.cost;
    ++r.by_class[u.hw_class.empty() ? "none" : u.hw_class].requests;
  }
  double n = static_cast<double>(r.requests);
  r.success_rate = ratio(static_cast<double>(r.ok), n);
  r.fallback_rate = ratio(static_cast<double>(r.with_fallback), n);
  for (auto& [name, share] : r.by_class) share.share = ratio(static_cast<double>(share.requests), n);
  r.p50_ms = percentile(latencies, 0.50);
  r.p95_ms = percentile(latencies, 0.95);
  r.p99_ms = percentile(latencies, 0.99);
  if (r.ok > 0) {
    r.cost_per_inference = Money::from_nano(std::llround(static_cast<double>(r.cost_total.nano()) /
                                                         static_cast<double>(r.ok)));
  }
  edge_figures(records, registry, r);
  cloud_figures(records, registry, r);
  return r;
}

Result<ReportFormat> parse_report_format(std::string_view s) {
  if (s == "table") return ReportFormat::kTable;
  if (s == "json") return ReportFormat::kJson;
  if (s == "csv") return ReportFormat::kCsv;
  return InvalidArgument("--format must be table, json or csv, not '" + std::string(s) + "'");
}

}  // namespace hir::store
