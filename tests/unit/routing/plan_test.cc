// From a primary to a plan: fallbacks across failure domains, the hedge delay, the reasons.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "core/rng.h"
#include "router_fleet.h"
#include "routing/plan.h"

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::microseconds;

Candidate cand(TargetIndex t, uint32_t domain, HardwareClass hw, int64_t nano, double p95_ms) {
  Candidate c;
  c.target = t;
  c.domain = domain;
  c.hw = hw;
  c.cost = Money::from_nano(nano);
  c.rank_cost = nano;
  c.p95 = from_ms(p95_ms);
  return c;
}

std::vector<TargetIndex> targets(std::span<const Candidate> c, const std::vector<uint32_t>& ch) {
  std::vector<TargetIndex> t;
  for (uint32_t i : ch) t.push_back(c[i].target);
  return t;
}

TEST(PlanFallbacks, CrossFailureDomainsFirst) {
  // Site A holds the three cheapest devices; site B and the cloud region are dearer.
  const std::vector<Candidate> c{
      cand(0, /*A*/ 0, HardwareClass::kEdgeCpu, 1, 10), cand(1, 0, HardwareClass::kEdgeCpu, 2, 10),
      cand(2, 0, HardwareClass::kEdgeCpu, 3, 10), cand(3, /*B*/ 1, HardwareClass::kEdgeGpu, 5, 10),
      cand(4, /*cloud*/ 2, HardwareClass::kCloud, 9, 40)};
  FallbackScratch scratch;
  std::vector<uint32_t> chosen{0};
  add_fallbacks(c, false, 3, chosen, scratch);
  // B and the cloud before the primary's own site; then the cheapest left in site A.
  EXPECT_EQ(targets(c, chosen), (std::vector<TargetIndex>{0, 3, 4, 1}));
}

TEST(PlanFallbacks, SameDomainWhenNothingElseAndNeverTheSameTarget) {
  std::vector<Candidate> c{cand(0, 0, HardwareClass::kEdgeCpu, 1, 10),
                           cand(0, 0, HardwareClass::kEdgeCpu, 2, 10),  // primary's other variant
                           cand(1, 0, HardwareClass::kEdgeCpu, 3, 10)};
  c[1].variant = 1;
  FallbackScratch scratch;
  std::vector<uint32_t> chosen{0};
  add_fallbacks(c, false, 3, chosen, scratch);
  EXPECT_EQ(targets(c, chosen), (std::vector<TargetIndex>{0, 1}));
}

// A half-open target comes after every feasible one: a last resort, so that a target that is only
// ever a fallback is still probed once its ejection ends.
TEST(PlanFallbacks, SkipsInfeasiblePutsHalfOpenLastAndRespectsMax) {
  std::vector<Candidate> c{
      cand(0, 0, HardwareClass::kEdgeCpu, 1, 10), cand(1, 1, HardwareClass::kEdgeCpu, 2, 10),
      cand(2, 2, HardwareClass::kEdgeCpu, 3, 10), cand(3, 3, HardwareClass::kCloud, 4, 10),
      cand(4, 4, HardwareClass::kCloud, 5, 10)};
  c[1].half_open = true;     // the cheapest fallback, but a last resort
  c[2].cut = Cut::kBudget;   // not feasible
  FallbackScratch scratch;
  std::vector<uint32_t> chosen{0};
  add_fallbacks(c, false, 1, chosen, scratch);
  EXPECT_EQ(targets(c, chosen), (std::vector<TargetIndex>{0, 3}));
  chosen = {0};
  add_fallbacks(c, false, 3, chosen, scratch);
  EXPECT_EQ(targets(c, chosen), (std::vector<TargetIndex>{0, 3, 4, 1}));
  chosen = {0};
  add_fallbacks(c, false, 0, chosen, scratch);
  EXPECT_EQ(chosen.size(), 1u);
}

TEST(PlanFallbacks, CriticalContinuesWithRelaxedFastestFirst) {
  std::vector<Candidate> c{
      cand(0, 0, HardwareClass::kEdgeCpu, 1, 10), cand(1, 1, HardwareClass::kEdgeCpu, 2, 500),
      cand(2, 2, HardwareClass::kCloud, 9, 150), cand(3, 3, HardwareClass::kCloud, 9, 90)};
  c[1].cut = Cut::kBudget;
  c[2].cut = Cut::kCost;
  c[3].cut = Cut::kUnhealthy;  // never
  FallbackScratch scratch;
  std::vector<uint32_t> chosen{0};
  add_fallbacks(c, false, 3, chosen, scratch);
  EXPECT_EQ(chosen.size(), 1u);  // standard: only feasible fallbacks
  add_fallbacks(c, true, 3, chosen, scratch);
  EXPECT_EQ(targets(c, chosen), (std::vector<TargetIndex>{0, 2, 1}));
}

// The plain greedy loop that add_fallbacks computes in one pass: for each slot, the best
// remaining candidate by (tier, new domain first, rank). O(n × max_fallbacks); the reference.
void reference_fallbacks(std::span<const Candidate> c, bool relaxed, size_t max_fallbacks,
                         std::vector<uint32_t>& chosen) {
  auto tier = [&](const Candidate& x) {
    if (x.cut == Cut::kNone) return x.half_open ? 1 : 0;
    return relaxed && relaxable(x) ? 1 : 2;
  };
  auto has = [&](auto pred) {
    for (uint32_t i : chosen)
      if (pred(c[i])) return true;
    return false;
  };
  for (size_t slot = 0; slot < max_fallbacks; ++slot) {
    size_t best = kNone;
    auto key = [&](size_t i) {
      const bool used = has([&](const Candidate& x) { return x.domain == c[i].domain; });
      return std::make_tuple(tier(c[i]), used);
    };
    for (size_t i = 0; i < c.size(); ++i) {
      if (tier(c[i]) == 2 || has([&](const Candidate& x) { return x.target == c[i].target; }))
        continue;
      if (best == kNone || key(i) < key(best)) {
        best = i;
      } else if (key(i) == key(best)) {
        const bool faster = tier(c[i]) == 1 && c[i].p95 != c[best].p95;
        if (faster ? c[i].p95 < c[best].p95 : ranks_before(c[i], c[best])) best = i;
      }
    }
    if (best == kNone) return;
    chosen.push_back(static_cast<uint32_t>(best));
  }
}

TEST(PlanFallbacks, OnePassMatchesTheGreedyLoopOnRandomFleets) {
  Rng rng(7);
  FallbackScratch scratch;
  const Cut cuts[] = {Cut::kNone, Cut::kNone, Cut::kBudget, Cut::kCost, Cut::kUnhealthy};
  const HardwareClass hws[] = {HardwareClass::kMcu, HardwareClass::kEdgeCpu, HardwareClass::kCloud};
  int compared = 0;
  for (int round = 0; round < 3000; ++round) {
    const uint32_t n = 1 + rng.below(60), targets = 1 + rng.below(n), domains = 1 + rng.below(8);
    std::vector<Candidate> c;
    for (uint32_t i = 0; i < n; ++i) {
      const TargetIndex t = rng.below(targets);
      Candidate x = cand(t, t % domains, hws[t % 3], rng.below(4), rng.below(5));
      x.variant = i;  // (target, variant) pairs are distinct, as in a registry
      x.cut = cuts[rng.below(5)];
      x.half_open = rng.below(10) == 0;
      c.push_back(x);
    }
    const bool relaxed = rng.below(2) == 0;
    size_t primary = best_feasible(c);
    if (primary == kNone && relaxed) primary = best_effort(c);
    if (primary == kNone) continue;
    for (size_t max : {size_t{0}, size_t{1}, size_t{3}, size_t{6}}) {
      std::vector<uint32_t> fast{static_cast<uint32_t>(primary)}, slow = fast;
      add_fallbacks(c, relaxed, max, fast, scratch);
      reference_fallbacks(c, relaxed, max, slow);
      ASSERT_EQ(fast, slow) << "round " << round << " max " << max;
      ++compared;
    }
  }
  EXPECT_GT(compared, 8000);
}

TEST(PlanHedge, OnlyCriticalNearBudgetWithAFallback) {
  const Duration budget = milliseconds(100);
  std::vector<PlanStep> steps{{0, 0, milliseconds(90), {}}, {1, 0, milliseconds(30), {}}};
  EXPECT_FALSE(hedge_delay(steps, Priority::kStandard, budget, 0.8));
  EXPECT_FALSE(hedge_delay(steps, Priority::kSheddable, budget, 0.8));
  // Critical, primary p95 90 > 80: hedge at the latest moment the fallback still makes it.
  auto h = hedge_delay(steps, Priority::kCritical, budget, 0.8);
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, milliseconds(70));
  // A fast fallback: wait no longer than the primary's own p95 (Dean & Barroso).
  steps[1].predicted_p95 = milliseconds(5);
  EXPECT_EQ(*hedge_delay(steps, Priority::kCritical, budget, 0.8), milliseconds(90));
  // A slow fallback: hedge at once.
  steps[1].predicted_p95 = milliseconds(150);
  EXPECT_EQ(*hedge_delay(steps, Priority::kCritical, budget, 0.8), Duration::zero());
  // Primary comfortably inside its budget: no hedge.
  steps[0].predicted_p95 = milliseconds(80);
  EXPECT_FALSE(hedge_delay(steps, Priority::kCritical, budget, 0.8));
  // No fallback to hedge to.
  steps = {{0, 0, milliseconds(99), {}}};
  EXPECT_FALSE(hedge_delay(steps, Priority::kCritical, budget, 0.8));
}

TEST(PlanReason, ExplainAndInfeasibleNameWhatHappened) {
  testing::Fleet f;
  const auto a = f.target("edge-a", HardwareClass::kEdgeCpu, 0, 1, "site-1");
  const auto b = f.target("cloud-b", HardwareClass::kCloud, 1e-4, 30, "us-east");
  std::vector<Candidate> c{cand(a, 0, HardwareClass::kEdgeCpu, 0, 10),
                           cand(b, 1, HardwareClass::kCloud, 100000, 50)};
  c[0].variant = f.tiny;
  c[1].variant = f.large;
  CutCounts cuts{};
  cuts[0] = 2;
  cuts[static_cast<size_t>(Cut::kAccuracy)] = 3;
  const Constraints k{0.9, milliseconds(100), std::nullopt, true};
  std::vector<uint32_t> chosen{0, 1};
  const std::string s =
      explain_plan(f.reg, c, chosen, Choice::kCheapest, 0, cuts, k, milliseconds(12));
  for (const char* part : {"edge-a/tiny", "site-1", "cheapest feasible", "3 below min_accuracy",
                           "cloud-b/large", "us-east", "hedge", "12.00 ms"})
    EXPECT_NE(s.find(part), std::string::npos) << part << " in: " << s;

  cuts = {};
  cuts[static_cast<size_t>(Cut::kUnhealthy)] = 1;
  cuts[static_cast<size_t>(Cut::kBudget)] = 4;
  EXPECT_EQ(last_cut(cuts), Cut::kBudget);
  const std::string why = infeasible_reason(f.reg, f.model, cuts, k);
  EXPECT_NE(why.find("cut by over latency budget"), std::string::npos) << why;
  EXPECT_NE(why.find("1 unhealthy"), std::string::npos) << why;
  EXPECT_NE(why.find("classifier"), std::string::npos) << why;
  EXPECT_NE(infeasible_reason(f.reg, f.model, {}, k).find("no deployments"), std::string::npos);
  // The budget as the client wrote it: a budget under 5 µs read "0.00 ms".
  const Constraints tiny{std::nullopt, microseconds(1), std::nullopt, true};
  const std::string tiny_why = infeasible_reason(f.reg, f.model, cuts, tiny);
  EXPECT_NE(tiny_why.find("over latency budget 0.001 ms"), std::string::npos) << tiny_why;
}

}  // namespace
}  // namespace hir::routing
