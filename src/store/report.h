// The usage report `hir report` prints: pure functions over ledger rows and a registry snapshot
// (no database, no clock), so every figure can be checked against hand-computed values. The
// formulas are stated in docs/report.md; the comments below say which records each one counts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "store/records.h"

namespace hir::store {

struct ClassShare {
  uint64_t requests = 0;
  double share = 0;  // requests / all requests
};

struct Report {
  std::string model;          // the --model filter, "" = all
  int64_t since_ms = 0;       // the window asked for (0 = from the start)
  int64_t first_ms = 0;       // the first and last request in the window (0 when none)
  int64_t last_ms = 0;

  uint64_t requests = 0;
  uint64_t ok = 0;
  double success_rate = 0;    // ok / requests
  uint64_t with_fallback = 0;
  double fallback_rate = 0;   // requests with fallbacks > 0 / requests
  uint64_t cache_hits = 0;    // answered fresh from the cache
  uint64_t cache_stale = 0;   // answered stale from the cache

  // Latency over every request (failed ones too: the client waited for them), nearest rank.
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;

  Money cost_total;           // every request's cost
  Money cost_per_inference;   // cost_total / ok (failures' cost is carried by the successes)

  std::map<std::string, ClassShare> by_class;  // hardware class, or "none" (no target answered)

  // Share of successful target-served inferences that a non-cloud target served (of `served`).
  double edge_share = 0;
  uint64_t served = 0;        // successful inferences a target answered (not the cache)
  // Busy time of the edge fleet over its capacity; nullopt when it cannot be defined (no edge
  // capacity in the registry, or a window of zero length).
  std::optional<double> edge_utilization;
  double edge_busy_ms = 0;
  uint64_t edge_slots = 0;    // sum of concurrency over the edge targets

  // Cloud-only counterfactual over the "comparable" requests: those not answered fresh from the
  // cache whose model has a cloud deployment.
  uint64_t comparable = 0;
  uint64_t unpriced = 0;      // requests whose model has no cloud deployment (left out)
  Money comparable_cost;      // what the comparable requests actually cost
  Money cloud_only_cost;      // what they would have cost at the cheapest cloud price
  std::optional<double> cost_reduction;  // 1 - comparable_cost / cloud_only_cost
};

// Per model, the cheapest price of one request on a cloud deployment: min over (variant, cloud
// target) of cost_per_request + cost_per_second × expected_service_ms / 1000, rounded to the
// nano-dollar. Drained flags are ignored: the figure is a price reference, not a route.
std::map<std::string, Money> cheapest_cloud_price(const RegistrySnapshot& registry);

// records: the ledger rows of the window (any order). since_ms: the window's start as asked.
Report compute_report(const std::vector<UsageRecord>& records, const RegistrySnapshot& registry,
                      int64_t since_ms = 0, std::string model = "");

enum class ReportFormat { kTable, kJson, kCsv };
Result<ReportFormat> parse_report_format(std::string_view s);  // "table", "json", "csv"
std::string render_report(const Report& r, ReportFormat f);

// --since: a duration back from now ("90s", "30m", "1h", "7d", "1h30m") or an RFC 3339 UTC
// time ("2026-11-26", "2026-11-26T00:00:00Z", "...T00:00:00.250+01:00"). Unix ms.
Result<int64_t> parse_since(std::string_view s, int64_t now_ms);
// "2026-11-26T00:00:00.000Z"
std::string format_utc(int64_t unix_ms);

}  // namespace hir::store
