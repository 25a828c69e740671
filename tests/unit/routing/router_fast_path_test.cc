// The decision's single-pass form (P2C members and fallbacks collected while the candidates are
// scanned) against the plain full scans it replaces: same plans, same errors, same draws, on
// random fleets and requests with feedback in between. Both prune and sample alike (the full
// scans see what the scan left out as kSkipped); router_prune_test.cc checks the pruning.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/money.h"
#include "core/rng.h"
#include "core/time.h"
#include "routing/plan.h"
#include "routing/router.h"
#include "random_fleet.h"

namespace hir::routing {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(RouterFastPath, SamePlansAsTheFullScansWithFeedback) {
  int compared = 0, p2c = 0, fallbacks = 0, failed = 0, half_open = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng fleet_rng(seed);
    Registry reg;
    random_fleet(reg, fleet_rng, seed % 2 ? 40 : 150);
    PolicyConfig cfg;
    cfg.max_fallbacks = 1 + seed % 3;
    cfg.edge_preference = seed % 3 == 0 ? 0.3 : 0.0;
    // Breakers open, half-open and probe within the run.
    cfg.breaker.consecutive_failures = 3;
    cfg.breaker.base_ejection = milliseconds(40);
    cfg.breaker.max_ejection = milliseconds(320);
    cfg.breaker.consecutive_span = milliseconds(2);
    // Sampled groups (P2C's members drawn, the rest kSkipped for the full scans), scanned ones,
    // and the default.
    if (seed % 3 != 2) cfg.sample_groups_over = seed % 3 == 0 ? 0 : 3;
    Router fast(reg, cfg), full(reg, cfg);
    full.set_full_scan(true);
    Rng rng_fast(seed * 7), rng_full(seed * 7), world(seed * 13);
    TimePoint now = TimePoint{} + std::chrono::hours(1);
    Plan pa, pb;
    for (int step = 0; step < 3000; ++step) {
      now += microseconds(20 + world.below(600));
      if (world.below(8) == 0) {
        const RandomReport r = random_report(reg, world);
        fast.on_load_report(r.target, r.report, r.ready, now);
        full.on_load_report(r.target, r.report, r.ready, now);
      }
      if (step % 16 == 0)
        for (TargetIndex t = 0; t < reg.target_count(); ++t)
          half_open += fast.breaker_state(t, now) == BreakerState::kHalfOpen;
      const RouteRequest q = random_request(world);
      const Status sa = fast.plan_into(q, now, rng_fast, pa);
      const Status sb = full.plan_into(q, now, rng_full, pb);
      expect_same(sa, pa, sb, pb, step);
      if (::testing::Test::HasFailure()) return;
      ++compared;
      if (!sa.ok()) {
        ++failed;
        continue;
      }
      p2c += pa.reason == "p2c";
      fallbacks += pa.steps.size() > 1;
      // The primary's outcome, the same for both: failures open breakers, slow answers move
      // the estimates.
      const PlanStep& s = pa.steps.front();
      const uint32_t roll = world.below(10);
      const Outcome o = roll == 0 ? Outcome::kError : roll == 1 ? Outcome::kOverloaded : Outcome::kOk;
      const Duration latency = milliseconds(2 + world.below(40));
      fast.on_dispatch(s.target, now);
      full.on_dispatch(s.target, now);
      if (world.below(4) != 0) {  // else it stays in flight a while
        fast.on_result(s.target, s.variant, o, latency, latency / 2, now);
        full.on_result(s.target, s.variant, o, latency, latency / 2, now);
      }
    }
  }
  // The run reached the paths it is meant to compare.
  EXPECT_GT(compared, 15000);
  EXPECT_GT(p2c, 100);
  EXPECT_GT(fallbacks, 1000);
  EXPECT_GT(failed, 10);
  EXPECT_GT(half_open, 10);
}

// FallbackCollector against add_fallbacks + diversify_last_fallback on random candidate sets.
TEST(PlanFallbackCollector, SameChainAsTheFullScans) {
  Rng rng(5);
  FallbackCollector collector;
  FallbackScratch scratch;
  for (int round = 0; round < 3000; ++round) {
    const size_t n = 1 + rng.below(40);
    std::vector<Candidate> c(n);
    for (size_t i = 0; i < n; ++i) {
      c[i].target = rng.below(static_cast<uint32_t>(n));  // some targets with several variants
      c[i].variant = static_cast<VariantIndex>(i);
      c[i].domain = rng.below(5);
      c[i].hw = static_cast<HardwareClass>(rng.below(4));
      c[i].half_open = rng.below(15) == 0;
      const uint32_t cut = rng.below(10);
      c[i].cut = cut < 6 ? Cut::kNone : static_cast<Cut>(cut - 3);
      c[i].rank_cost = rng.below(4);
      c[i].p95 = milliseconds(rng.below(5));
    }
    // A candidate's other variants share its target's domain and class, as in a registry.
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < i; ++j)
        if (c[j].target == c[i].target) {
          c[i].domain = c[j].domain;
          c[i].hw = c[j].hw;
          c[i].half_open = c[j].half_open;
        }
    const bool relaxed = rng.below(2) == 0;
    const size_t max_fallbacks = rng.below(4);
    const auto primary = static_cast<uint32_t>(rng.below(static_cast<uint32_t>(n)));
    std::vector<uint32_t> want{primary}, got{primary};
    add_fallbacks(c, relaxed, max_fallbacks, want, scratch);
    diversify_last_fallback(c, relaxed, want);
    collector.reset(relaxed, max_fallbacks, n);
    for (uint32_t i = 0; i < n; ++i) collector.offer(c, i);
    collector.finish(c, got);
    ASSERT_EQ(want, got) << "round " << round;
  }
}

}  // namespace
}  // namespace hir::routing
