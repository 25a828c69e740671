// Random fleets and requests for the decision's equivalence tests (router_fast_path_test.cc,
// router_prune_test.cc): few prices, so that P2C groups and ties are common; few failure
// domains; small queues, so that targets fill up.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/money.h"
#include "core/rng.h"
#include "core/time.h"
#include "routing/plan.h"
#include "routing/registry.h"
#include "routing/target_state.h"

namespace hir::routing {

using std::chrono::microseconds;
using std::chrono::milliseconds;

inline HardwareClass random_hw(Rng& rng) {
  const uint32_t k = rng.below(10);
  return k < 5 ? HardwareClass::kMcu : k < 7 ? HardwareClass::kEdgeCpu : k < 9 ? HardwareClass::kEdgeGpu
                                                                             : HardwareClass::kCloud;
}

// A fleet of n targets over two models: few prices (so P2C groups and ties are common), few
// failure domains, small queues (so targets fill up), variants deployed at random.
// sites: the failure domains targets are spread over; with some_alone, a quarter of them name
// none (each is then a domain of its own).
inline void random_fleet(Registry& reg, Rng& rng, int n, uint32_t sites = 6, bool some_alone = true) {
  for (int m = 0; m < 2; ++m) {
    const ModelIndex mi = reg.add_model("m" + std::to_string(m));
    for (int v = 0; v < 3; ++v) {
      const double a = 0.8 + 0.05 * v;
      reg.add_variant({"v" + std::to_string(v), mi, a, {a + 0.05, a, a - 0.06}, 1000,
                       milliseconds(3 + 4 * v)});
    }
  }
  for (int i = 0; i < n; ++i) {
    TargetInfo t;
    t.name = "t" + std::to_string(i);
    t.hw = random_hw(rng);
    t.failure_domain = some_alone && rng.below(4) == 0 ? "" : "site-" + std::to_string(rng.below(sites));
    t.cost_per_request = Money::from_nano(100 * (1 + rng.below(3)) * (t.hw == HardwareClass::kCloud ? 100 : 1));
    if (t.hw == HardwareClass::kCloud) t.cost_per_second = Money::from_usd(0.002);
    t.expected_rtt = milliseconds(t.hw == HardwareClass::kCloud ? 30 : 2 + rng.below(4));
    t.concurrency = t.hw == HardwareClass::kMcu ? 1 : 1 + rng.below(4);
    t.queue_capacity = rng.below(4);
    const TargetIndex ti = reg.add_target(t);
    for (VariantIndex v = 0; v < reg.variant_count(); ++v)
      if (rng.below(3) == 0) reg.deploy(v, ti);
  }
}

// A load report from a random target, sometimes not ready or with a full queue.
struct RandomReport {
  TargetIndex target = 0;
  LoadReport report;
  bool ready = true;
};
inline RandomReport random_report(const Registry& reg, Rng& rng) {
  RandomReport r;
  r.target = rng.below(static_cast<uint32_t>(reg.target_count()));
  r.report.concurrency = reg.target(r.target).concurrency;
  r.report.queue_capacity = reg.target(r.target).queue_capacity;
  r.report.in_flight = rng.below(r.report.concurrency + 1);
  r.report.queue_depth = rng.below(r.report.queue_capacity + 1);
  r.report.busy_fraction = rng.uniform();
  r.ready = rng.below(20) != 0;
  return r;
}

inline RouteRequest random_request(Rng& rng) {
  RouteRequest q;
  q.model = rng.below(2);
  const uint32_t p = rng.below(10);
  q.priority = p < 2 ? Priority::kCritical : p < 8 ? Priority::kStandard : Priority::kSheddable;
  q.complexity = rng.uniform();
  if (rng.below(2) == 0) q.min_accuracy = 0.78 + 0.02 * rng.below(6);
  if (rng.below(3) != 0) q.budget = milliseconds(10 + rng.below(60));
  if (rng.below(5) == 0) q.max_cost = Money::from_nano(150 + rng.below(400));
  return q;
}

inline void expect_same(const Status& sa, const Plan& a, const Status& sb, const Plan& b, int step) {
  ASSERT_EQ(sa.code(), sb.code()) << "decision " << step;
  ASSERT_EQ(sa.message(), sb.message()) << "decision " << step;
  if (!sa.ok()) return;
  ASSERT_EQ(a.steps.size(), b.steps.size()) << "decision " << step;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].target, b.steps[i].target) << "decision " << step << " step " << i;
    EXPECT_EQ(a.steps[i].variant, b.steps[i].variant) << "decision " << step << " step " << i;
    EXPECT_EQ(a.steps[i].predicted_p95, b.steps[i].predicted_p95) << "decision " << step;
    EXPECT_EQ(a.steps[i].predicted_cost, b.steps[i].predicted_cost) << "decision " << step;
  }
  EXPECT_EQ(a.hedge_after, b.hedge_after) << "decision " << step;
  EXPECT_EQ(a.best_effort, b.best_effort) << "decision " << step;
  EXPECT_EQ(a.reason, b.reason) << "decision " << step;
}

}  // namespace hir::routing
