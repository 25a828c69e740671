// From a chosen primary to a plan: the ordered fallback chain across failure domains, the hedge
// delay for critical requests near their budget, and the human-readable reason operators see in
// POST /v1/route/explain. Pure, like policy.h; Router calls these after selecting the primary.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/money.h"
#include "core/time.h"
#include "routing/policy.h"
#include "routing/registry.h"

namespace hir::routing {

struct PlanStep {
  TargetIndex target = 0;
  VariantIndex variant = 0;
  Duration predicted_p95{};
  Money predicted_cost;
};

struct Plan {
  std::vector<PlanStep> steps;  // primary first, then fallbacks (each in another failure domain when possible)
  // Critical requests whose primary is near its budget: send a second copy to steps[1] after this.
  std::optional<Duration> hedge_after;
  bool best_effort = false;  // nothing met every constraint (critical gets the best it can)
  std::string reason;        // why this primary, what was filtered and why (in full when explained)
};

// How the primary was chosen, for the reason.
// kProbe: a half-open target put first for its probe (Router::promote_probe).
enum class Choice : uint8_t { kCheapest, kPowerOfTwo, kBestEffort, kProbe };

inline PlanStep step_of(const Candidate& c) { return {c.target, c.variant, c.p95, c.cost}; }

// Scratch for add_fallbacks, owned by the caller and reused so that a warm decision allocates
// nothing. Sized on demand to the largest failure-domain id seen.
struct FallbackScratch {
  std::vector<uint32_t> domain_best;   // per domain id: its best eligible candidate this call
  std::vector<uint64_t> domain_stamp;  // per domain id: the call domain_best belongs to
  std::vector<uint32_t> touched;       // the domains seen this call
  std::vector<uint8_t> tiers;          // per candidate: 0 feasible, 1 relaxed, 2 not a fallback
  std::vector<uint32_t> top;           // the best max_fallbacks candidates, distinct targets
  std::vector<uint32_t> top_domains;   // the best max_fallbacks new domains, by their best
  uint64_t stamp = 0;
};

// Appends up to max_fallbacks fallbacks to `chosen` (candidate indices; the chain so far, the
// primary first). Each next step is the best remaining candidate on a target not yet in the chain,
// preferring — among equally feasible ones — a failure domain not yet in the chain, because a
// fallback that shares the primary's site or region tends to fail with it (the failure-domain
// spreading of Ford et al. 2010, "Availability in Globally Distributed Storage Systems"). Feasible
// candidates come first, by the policy ranking; with include_relaxed (critical requests) the chain
// then continues with the candidates cut only by price or latency, fastest first. Half-open
// targets (their probe slot free) come last, with the relaxed ones: a target that is only ever a
// fallback would otherwise never be probed, and stay out for good after one ejection. Used as a
// fallback it takes no probe slot; its answer closes or reopens its breaker as a probe's does.
// One that ranks before a step of the chain is instead put first for its probe by Router.
//
// That greedy rule is computed in one pass, O(n + domains) rather than O(n × max_fallbacks): only
// each new domain's best candidate can be picked for a new domain, and only the best
// max_fallbacks targets otherwise (tests/unit/routing/plan_test.cc checks it against the plain
// greedy loop on random fleets).
void add_fallbacks(std::span<const Candidate> c, bool include_relaxed, size_t max_fallbacks,
                   std::vector<uint32_t>& chosen, FallbackScratch& scratch);

// add_fallbacks and diversify_last_fallback (below) computed while the decision scans its
// candidates, so that a decision passes over them once rather than three times. The rules and
// the result are those of the two functions (tests/unit/routing/plan_test.cc checks it on random
// candidate sets), for a chain that holds only the primary when finish() is called:
// - the best max_fallbacks + 1 candidates on distinct targets, and the best max_fallbacks + 1
//   on distinct failure domains, are kept as candidates stream in (a sorted list with one entry
//   per key keeps the best per key exactly: an entry evicted from it has max_fallbacks + 1
//   better ones with other keys, and those only get better); the primary's target and its
//   domain take one entry each, so dropping them leaves add_fallbacks' max_fallbacks best;
// - the best candidate per hardware class is what diversify_last_fallback looks for.
// The fallback order is a total order (tier, then the p95 for relaxed ones, then the policy
// ranking, which ends on the target and variant indices), so "best" never depends on the
// order the candidates arrive in.
// A candidate's fallback tier: 0 feasible, 1 last resort (half-open and otherwise feasible; or,
// with include_relaxed, cut only by price or latency), 2 not a fallback.
inline int fallback_tier(const Candidate& x, bool include_relaxed) {
  if (x.cut == Cut::kNone) return x.half_open ? 1 : 0;
  return include_relaxed && relaxable(x) ? 1 : 2;
}

class FallbackCollector {
 public:
  void reset(bool include_relaxed, size_t max_fallbacks, size_t candidates);
  // c[i]'s cut and half_open are final; c holds every candidate offered so far. Inline: it runs
  // for every candidate of every decision, and most stop at the first check or two.
  [[gnu::always_inline]] void offer(std::span<const Candidate> c, uint32_t i) {
    if (max_fallbacks_ == 0) return;
    const Candidate& x = c[i];
    const int t = fallback_tier(x, include_relaxed_);
    if (t == 2) return;  // not a fallback; tiers_ is read only for candidates in tiers 0 and 1
    if (i >= tiers_.size()) tiers_.resize(i + 1);
    tiers_[i] = static_cast<uint8_t>(t);
    // Nothing to change when c[i] ranks behind the last of a full top_domains_ and behind its
    // hardware class's best. top_ is full then too, and its last entry ranks no worse than
    // top_domains_' (that holds max_fallbacks + 1 bests of distinct domains, so of distinct
    // targets, and top_ is the max_fallbacks + 1 best of the targets' bests), so keep() would
    // return at its first check for both lists. The two are compared by their cached leading
    // keys first (tier, then p95 or rank cost), and in full only on a tie.
    const auto h = static_cast<size_t>(x.hw);
    const int64_t key = lead_key(x, t);
    if (!behind(c, i, t, key, dom_tier_, dom_key_, dom_last_)) {
      offer_slow(c, i);
    } else if (!behind(c, i, t, key, hw_tier_[h], hw_key_[h], hw_best_[h])) {
      // Only its hardware class's best changes: neither list would take it (above).
      hw_best_[h] = i;
      hw_tier_[h] = t;
      hw_key_[h] = key;
    }
  }
  // chosen = {primary}: appends the fallbacks exactly as add_fallbacks then
  // diversify_last_fallback would.
  void finish(std::span<const Candidate> c, std::vector<uint32_t>& chosen);

  // The fallback lists can take no more domains: the domain list holds max_fallbacks + 1
  // feasible candidates, or every one of the `domains` failure domains there are, with the
  // target list full (or no fallbacks are wanted). Sampling draws for domains until this holds.
  bool domains_full(size_t domains) const {
    const size_t cap = max_fallbacks_ + 1;
    return max_fallbacks_ == 0 || (top_domains_.size() == cap && dom_tier_ == 0) ||
           (top_domains_.size() >= domains && top_.size() == cap);
  }
  // True when no candidate still to come can change what finish() returns for a primary on
  // hardware class primary_hw, given that each of them ranks at rank_cost >= floor, is on a
  // class in later_hw (a bit per HardwareClass) and in one of the `domains` failure domains:
  // - the domain list is full of feasible entries that all rank below floor — so is the target
  //   list (offer()'s comment) — or it holds every domain there is, feasible and below floor,
  //   and the target list is full of feasible entries below floor (no later candidate can bring
  //   a new domain, nor beat an entry of either list);
  // - and, when a later class differs from the primary's, some other class already has a
  //   feasible best below floor, so the best outside the primary's class, which
  //   diversify_last_fallback looks for, is settled.
  bool settled(std::span<const Candidate> c, int64_t floor, HardwareClass primary_hw,
               unsigned later_hw, size_t domains) const {
    if (max_fallbacks_ == 0) return true;
    const size_t cap = max_fallbacks_ + 1;
    if (top_domains_.size() == cap) {
      if (dom_tier_ != 0 || dom_key_ >= floor) return false;
    } else {
      if (top_domains_.empty() || top_domains_.size() < domains || top_.size() != cap) return false;
      const uint32_t d = top_domains_.back(), t = top_.back();
      if (tiers_[d] != 0 || c[d].rank_cost >= floor || tiers_[t] != 0 || c[t].rank_cost >= floor)
        return false;
    }
    if ((later_hw & ~(1u << static_cast<unsigned>(primary_hw))) == 0) return true;
    for (size_t h = 0; h < hw_best_.size(); ++h)
      if (static_cast<HardwareClass>(h) != primary_hw && hw_best_[h] != UINT32_MAX &&
          hw_tier_[h] == 0 && hw_key_[h] < floor)
        return true;
    return false;
  }

 private:
  bool include_relaxed_ = false;
  size_t max_fallbacks_ = 0;
  std::vector<uint32_t> top_, top_domains_;
  std::array<uint32_t, 4> hw_best_{};  // per HardwareClass; UINT32_MAX: none
  std::vector<uint8_t> tiers_;         // per candidate offered: add_fallbacks' tier
  // offer()'s quick rejection: the tier and leading key of top_domains_' last entry (tier 3,
  // which nothing is behind, while the list is not full) and of each hardware class's best.
  int dom_tier_ = 3;
  int64_t dom_key_ = 0;
  uint32_t dom_last_ = UINT32_MAX;
  std::array<int, 4> hw_tier_{3, 3, 3, 3};
  std::array<int64_t, 4> hw_key_{};

  // The fallback order's leading key within a tier: the p95 for relaxed candidates, else the
  // rank cost (ranks_before's first key).
  static int64_t lead_key(const Candidate& x, int tier) {
    return tier == 1 ? static_cast<int64_t>(x.p95.count()) : x.rank_cost;
  }
  // !before(c, i, b), deciding on the cached tier and key of b where they differ.
  bool behind(std::span<const Candidate> c, uint32_t i, int t, int64_t key, int tb, int64_t kb,
              uint32_t b) const {
    if (t != tb) return t > tb;
    if (key != kb) return key > kb;
    return !before(c, i, b);
  }

  // The fallback order (add_fallbacks' `before`). Inline: offer() calls it for every candidate.
  bool before(std::span<const Candidate> c, uint32_t a, uint32_t b) const {
    const int ta = tiers_[a], tb = tiers_[b];
    if (ta != tb) return ta < tb;
    if (ta == 1 && c[a].p95 != c[b].p95) return c[a].p95 < c[b].p95;
    return ranks_before(c[a], c[b]);
  }
  void offer_slow(std::span<const Candidate> c, uint32_t i);
  template <class Key>
  void keep(std::span<const Candidate> c, std::vector<uint32_t>& v, uint32_t i, Key key);
};

// When every step of the chain is on the primary's hardware class and another class has a
// candidate the chain could use (same tiers as add_fallbacks), its best one replaces the last
// fallback. A tier fills up as a whole — every MCU busy at once, say — so a chain of three MCUs
// fails together more often than three failure domains suggest; the last step is the one that
// must not share that fate.
void diversify_last_fallback(std::span<const Candidate> c, bool include_relaxed,
                             std::vector<uint32_t>& chosen);

// The hedge delay (Dean & Barroso 2013, "The Tail at Scale", CACM 56(2): deferred "hedged
// requests"): only for critical requests with a fallback whose primary's predicted p95 exceeds
// `share` of the budget. The second copy waits while the primary still has a good chance — up to
// the primary's own p95, the paper's choice, which bounds the extra load to about 5% — but no
// longer than the last moment at which the fallback can still answer within the budget
// (budget - steps[1] p95), and not less than zero.
std::optional<Duration> hedge_delay(const std::vector<PlanStep>& steps, Priority p, Duration budget,
                                    double share);

// Plan::reason in full, for explain: the primary and why, the P2C draw, what each constraint cut,
// the fallbacks and the hedge.
std::string explain_plan(const Registry& reg, std::span<const Candidate> c,
                         const std::vector<uint32_t>& chosen, Choice how, size_t p2c_members,
                         const CutCounts& cuts, const Constraints& k,
                         std::optional<Duration> hedge);

// The error message when nothing is feasible: names the constraint that cut the last candidates
// (the latest in check order with any cut; see Cut) and lists every constraint's count.
std::string infeasible_reason(const Registry& reg, ModelIndex m, const CutCounts& cuts,
                              const Constraints& k);
// The constraint named by infeasible_reason: the latest in check order that cut anything.
Cut last_cut(const CutCounts& cuts);

}  // namespace hir::routing
