#include "routing/policy.h"

#include <algorithm>
#include <cmath>

namespace hir::routing {

Status validate(const PolicyConfig& cfg) {
  if (!(cfg.edge_preference >= 0.0 && cfg.edge_preference < 1.0))  // also rejects NaN
    return InvalidArgument("policy: edge_preference must be within [0, 1)");
  if (cfg.default_budget <= Duration::zero())
    return InvalidArgument("policy: default_budget must be > 0");
  if (!(cfg.hedge_when_p95_over > 0.0))
    return InvalidArgument("policy: hedge_when_p95_over must be > 0");
  if (cfg.cloud_spend_cap_per_s < Money())
    return InvalidArgument("policy: cloud_spend_cap_per_s must be >= 0");
  if (cfg.estimate_reuse < Duration::zero())
    return InvalidArgument("policy: estimate_reuse must be >= 0");
  if (cfg.forget_idle_estimates < Duration::zero())
    return InvalidArgument("policy: forget_idle_estimates must be >= 0");
  if (!(cfg.forget_idle_gaps >= 0) || !std::isfinite(cfg.forget_idle_gaps))
    return InvalidArgument("policy: forget_idle_gaps must be a finite number >= 0");
  HIR_RETURN_IF_ERROR(validate(cfg.breaker));
  return validate(cfg.admission);
}

std::string_view cut_name(Cut c) {
  switch (c) {
    case Cut::kNone: return "feasible";
    case Cut::kAccuracy: return "below min_accuracy";
    case Cut::kUnhealthy: return "unhealthy";
    case Cut::kBreaker: return "breaker open";
    case Cut::kQueueFull: return "queue full";
    case Cut::kSpendCap: return "cloud spend cap";
    case Cut::kCost: return "over max_cost";
    case Cut::kBudget: return "over latency budget";
    case Cut::kSkipped: return "not considered (priced above the plan, or not drawn)";
  }
  return "?";
}

int64_t rank_cost(Money cost, HardwareClass hw, double edge_preference) {
  if (!is_edge(hw) || !(edge_preference > 0.0)) return cost.nano();
  const double keep = 1.0 - std::min(edge_preference, 1.0);
  return std::llround(static_cast<double>(cost.nano()) * keep);
}

size_t best_feasible(std::span<const Candidate> c) {
  size_t best = kNone;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].cut != Cut::kNone) continue;
    if (best == kNone || ranks_before(c[i], c[best])) best = i;
  }
  return best;
}

size_t best_effort(std::span<const Candidate> c) {
  size_t best = kNone;
  for (size_t i = 0; i < c.size(); ++i) {
    if (!relaxable(c[i])) continue;
    // Lowest latency first: a critical request past every budget wants its answer soonest.
    if (best == kNone || c[i].p95 < c[best].p95 ||
        (c[i].p95 == c[best].p95 && ranks_before(c[i], c[best])))
      best = i;
  }
  return best;
}

size_t power_of_two_choices(std::span<const Candidate> c, size_t best,
                            std::vector<uint32_t>& members, Rng& rng) {
  members.clear();
  if (!is_edge(c[best].hw)) return best;
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].cut == Cut::kNone && equivalent_edge(c[i], c[best]))
      members.push_back(static_cast<uint32_t>(i));
  return pick_of_two(c, members, best, rng);
}

size_t pick_of_two(std::span<const Candidate> c, std::span<const uint32_t> members, size_t best,
                   Rng& rng) {
  const auto n = static_cast<uint32_t>(members.size());
  if (n < 2) return best;
  // Two distinct members, uniformly: draw the second from the n-1 others.
  const uint32_t i = rng.below(n);
  uint32_t j = rng.below(n - 1);
  if (j >= i) ++j;
  const Candidate& a = c[members[i]];
  const Candidate& b = c[members[j]];
  if (a.load != b.load) return a.load < b.load ? members[i] : members[j];
  if (a.in_flight != b.in_flight) return a.in_flight < b.in_flight ? members[i] : members[j];
  return members[i];  // a fair coin already: i was drawn uniformly
}

}  // namespace hir::routing
