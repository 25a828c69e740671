// The routing decision's pure selection maths: the request's constraints, the candidates as the
// decision sees them (one per (variant, target) deployment, with predictions already filled in by
// Router), the hard-constraint filter, the ranking and power-of-two-choices among equivalent edge
// devices. No state and no I/O here: Router gathers the inputs, plan.h turns a choice into a plan.
//
// Ranking (DESIGN.md, "The routing core is pure"): among the candidates that pass every hard
// constraint, the cheapest wins — with edge candidates' cost scaled by (1 - edge_preference) —
// ties go to edge, then to the lower predicted p95, then to the lower target index (so the order
// is total and a run is reproducible for a seed).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/time.h"
#include "routing/admission.h"
#include "routing/breaker.h"
#include "routing/registry.h"
#include "routing/types.h"

namespace hir::routing {

struct RouteRequest {
  ModelIndex model = 0;
  Priority priority = Priority::kStandard;
  double complexity = 0.5;  // 0..1
  std::optional<double> min_accuracy;
  std::optional<Duration> budget;  // latency budget; none: PolicyConfig::default_budget
  std::optional<Money> max_cost;
  // A dry run for operators (POST /v1/route/explain): Plan::reason is written out in full and no
  // half-open probe slot is taken. Off, the reason is a short tag ("cheapest", "p2c",
  // "probe", "best-effort") so the hot path builds no strings.
  bool explain = false;
};

struct PolicyConfig {
  Duration default_budget = std::chrono::seconds(1);
  double edge_preference = 0.0;  // treat edge as this fraction cheaper when comparing (0 = pure cost)
  Money cloud_spend_cap_per_s = Money::from_usd(1e6);  // above it only critical may use the cloud
  size_t max_fallbacks = 3;
  double hedge_when_p95_over = 0.8;  // hedge critical if primary p95 > this share of the budget
  // A target's load and latency/cost predictions are reused by later decisions for this long
  // unless something about it changed (a dispatch, result, report or RTT sample; Router tracks
  // that). Between such events they move only as its last load report ages, with a time
  // constant of seconds (TargetState::utilization), so 1 ms changes them by well under 0.1% —
  // and it saves recomputing 100 predictions for every decision. Zero: always recompute.
  Duration estimate_reuse = std::chrono::milliseconds(1);
  // A target none of our requests has touched for this long forgets its learnt latencies (RTT,
  // service times) and goes back to its report's and configured figures. Latencies are learnt
  // only from requests sent, so a target whose estimate says "over every budget" — after a
  // burst that queued, or a brownout that ended — would otherwise never be chosen again to
  // correct it: the breaker's half-open probe, for latency. Zero: never forget.
  Duration forget_idle_estimates = std::chrono::seconds(10);
  // ... or sooner, once it has had none of our requests for this many of its usual intervals
  // between them (at least 100 ms; TargetState::forget_if_idle). 0: only the time above;
  // forget_idle_estimates zero turns both off.
  double forget_idle_gaps = 20;
  // Groups of equivalent edge devices (same variant, hardware class and price) with more members
  // than this are sampled rather than scanned: the decision draws members at random and checks
  // them until two pass every constraint (what power-of-two-choices needs) and the fallbacks
  // have their failure domains — one that passes, for a group priced above a best already
  // found — instead of predicting every member. P2C then picks among the members that passed;
  // the fallbacks are the best of those drawn. What changes against a scan is which of the
  // group's members the decision sees: not the lowest predicted p95 of all of them, but of a
  // random few. Models with at most Router::kScanAllUpTo deployments are always scanned whole.
  // 0: never sample.
  size_t sample_groups_over = 16;
  BreakerConfig breaker;
  AdmissionConfig admission;
};

// Rejects an edge preference outside [0, 1), a non-positive default budget or hedge share, a
// negative spend cap or estimate_reuse, and whatever validate() rejects in the breaker and admission configs.
Status validate(const PolicyConfig& cfg);

// Why a candidate was cut: the first hard constraint it failed, in the order they are checked.
// The order is chosen so that the constraint reported when the last candidates fall says the most:
// static properties (accuracy) first, then availability, then load and price, the budget last.
enum class Cut : uint8_t {
  kNone,       // feasible
  kAccuracy,   // accuracy_at(complexity) < min_accuracy
  kUnhealthy,  // stale load report or not ready
  kBreaker,    // breaker open (or half-open with no probe slot)
  kQueueFull,  // its last report said the queue is full: it would refuse the request
  kSpendCap,   // cloud, the cloud spend rate is over the cap and the request is not critical
  kCost,       // predicted cost > max_cost
  kBudget,     // predicted p95 > budget
  // Not looked at by this decision: its group's price is above a plan already settled, or P2C's
  // sampling did not draw it (Router's pruned scan). Never the reason a request fails: a
  // decision that finds nothing feasible has looked at every candidate.
  kSkipped,
};
inline constexpr size_t kCutCount = 9;
std::string_view cut_name(Cut c);  // "below min_accuracy", "unhealthy", ...
using CutCounts = std::array<uint32_t, kCutCount>;

// One (variant, target) deployment with what the decision needs to know about it.
struct Candidate {
  TargetIndex target = 0;
  VariantIndex variant = 0;
  uint32_t domain = 0;       // failure domain, interned (equal id = fail together)
  uint32_t price_class = 0;  // interned (hardware class, per-request price, per-second price)
  HardwareClass hw = HardwareClass::kEdgeCpu;
  bool half_open = false;    // breaker half-open, probe slot free: a probe primary, or a last-resort fallback
  Cut cut = Cut::kNone;
  Duration p95{};            // predicted p95 latency (predict.h); zero when cut before predicting
  Money cost;                // predicted cost (cost.h)
  int64_t rank_cost = 0;     // cost in nano-USD after the edge preference: what ranking compares
  double load = 0;           // TargetState::utilization(now)
  uint32_t in_flight = 0;    // ours, always fresh: P2C's tie-break
};

// The request's hard constraints, resolved (defaults applied).
struct Constraints {
  std::optional<double> min_accuracy;
  Duration budget{};
  std::optional<Money> max_cost;
  bool cloud_allowed = true;  // false: spend cap reached and the request is not critical
};

// The first constraint c fails, given its accuracy at the request's complexity and its target's
// availability. p95 and cost are read only when reached (Router predicts only for candidates
// that pass the checks before them). Inline: it runs for every candidate of every decision.
inline Cut first_cut(const Candidate& c, double accuracy, bool healthy, bool breaker_allows,
                     bool queue_full, const Constraints& k) {
  if (k.min_accuracy && accuracy < *k.min_accuracy) return Cut::kAccuracy;
  if (!healthy) return Cut::kUnhealthy;
  if (!breaker_allows) return Cut::kBreaker;
  if (queue_full) return Cut::kQueueFull;
  if (!k.cloud_allowed && c.hw == HardwareClass::kCloud) return Cut::kSpendCap;
  if (k.max_cost && c.cost > *k.max_cost) return Cut::kCost;
  if (c.p95 > k.budget) return Cut::kBudget;
  return Cut::kNone;
}

// Cost with the edge preference applied, in nano-USD (edge_preference clamped to [0, 1]).
int64_t rank_cost(Money cost, HardwareClass hw, double edge_preference);

// Total order of the ranking above: true when a should be preferred to b. Inline: it runs for
// every candidate of every decision.
inline bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.rank_cost != b.rank_cost) return a.rank_cost < b.rank_cost;
  if (is_edge(a.hw) != is_edge(b.hw)) return is_edge(a.hw);
  if (a.p95 != b.p95) return a.p95 < b.p95;
  if (a.target != b.target) return a.target < b.target;
  return a.variant < b.variant;
}

// Equivalent edge devices: same variant on the same hardware class at the same price — the
// decision has no principled reason to prefer one over another, so P2C spreads load among them.
inline bool equivalent_edge(const Candidate& a, const Candidate& b) {
  return is_edge(a.hw) && a.variant == b.variant && a.price_class == b.price_class;
}

inline constexpr size_t kNone = static_cast<size_t>(-1);

// Index of the best feasible candidate (cut == kNone) by ranks_before, or kNone.
size_t best_feasible(std::span<const Candidate> c);

// Best effort for a critical request when nothing is feasible: the lowest predicted p95 among
// the candidates cut only by price or latency (still accurate enough, healthy, breaker allows,
// queue not full), or kNone.
inline bool relaxable(const Candidate& c) {
  return c.cut == Cut::kNone || c.cut == Cut::kCost || c.cut == Cut::kBudget;
}
size_t best_effort(std::span<const Candidate> c);

// Power of two choices (Mitzenmacher 2001, "The Power of Two Choices in Randomized Load
// Balancing", IEEE TPDS 12(10)): among the feasible candidates equivalent to c[best], sample two
// distinct ones uniformly and keep the less loaded (utilization, then our in-flight). Choosing the
// least loaded of all would send every decision made between two load reports to the same device
// (herding); two random choices already cut the maximum load from log n/log log n to log log n
// and tolerate stale information (Mitzenmacher 2000, "How useful is old information?").
// members: scratch, overwritten. Returns best itself when it has no equivalent.
size_t power_of_two_choices(std::span<const Candidate> c, size_t best,
                            std::vector<uint32_t>& members, Rng& rng);
// Its draw, given the members (indices into c, in candidate order) already collected; best
// when there are fewer than two.
size_t pick_of_two(std::span<const Candidate> c, std::span<const uint32_t> members, size_t best,
                   Rng& rng);

}  // namespace hir::routing
