// The golden run: a small scenario with a fixed seed must produce exactly these figures. They
// were checked for sanity by hand when written (see the comments); a change to the routing code
// or to the simulator that moves them is a behaviour change to look at, then re-bless.
#include <gtest/gtest.h>

#include <array>

#include "sim/sim.h"

namespace hir::sim {
namespace {

constexpr const char* kSmall = R"(
name: golden
duration_s: 5
seed: 42
router: {default_budget_ms: 100, max_fallbacks: 2, report_interval_ms: 500}
models:
  - name: m
    variants:
      - {name: tiny, accuracy: 0.84, accuracy_by_band: [0.90, 0.80]}
      - {name: large, accuracy: 0.92}
targets:
  - {group: mcu, class: mcu, count: 4, sites: 2, concurrency: 1, queue: 2, cost_per_request_usd: 0.0000001,
     rtt: {median_ms: 4, p95_ms: 8}, serves: {tiny: {median_ms: 9, p95_ms: 15}}}
  - {group: box, class: edge-gpu, count: 1, concurrency: 4, queue: 8, cost_per_request_usd: 0.000004,
     rtt: {median_ms: 2, p95_ms: 4}, serves: {tiny: {median_ms: 2, p95_ms: 3}, large: {median_ms: 6, p95_ms: 10}}}
  - {group: cloud, class: cloud, count: 1, concurrency: 10000, cost_per_request_usd: 0.0001,
     cost_per_second_usd: 0.002, rtt: {median_ms: 30, p95_ms: 50},
     serves: {tiny: {median_ms: 2, p95_ms: 4}, large: {median_ms: 8, p95_ms: 14}}}
workload:
  rate: [{at_s: 0, rps: 200}]
  models: {m: 1}
  budgets_ms: {60: 0.3, 150: 0.7}
  priorities: {critical: 0.1, standard: 0.8, sheddable: 0.1}
  min_accuracy: {none: 0.6, 0.88: 0.4}
faults:
  brownouts: [{group: cloud, from_s: 2, to_s: 3, slowdown: 2, error_rate: 0.1}]
)";

Report run_golden() {
  auto s = parse_scenario(kSmall, "golden");
  EXPECT_TRUE(s.ok()) << s.status().message();
  auto r = simulate(*s, 42, 0);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return *r;
}

struct Blessed {
  const char* policy;
  uint64_t requests, ok, fell_back, routed_right, no_idle_cheaper_right;
  int64_t total_cost_nano;
  double p95_ms, edge_utilization;
  std::array<uint64_t, 4> by_class;
};

// Sane by hand: 200 req/s for 5 s is ~1,000 requests; the edge (4 MCUs + one 4-slot GPU box) has
// room for all of it, so hir answers everything on the edge at a p95 of ~22 ms, below 1% of the
// cloud's cost, and agrees with the oracle on every request; always-cloud pays ~110 x more and
// loses ~3% to the brownout; random and round-robin send a third to the cloud. The
// capacity-consistent figure (no_idle_cheaper_right): hir and always-cheapest leave no cheaper
// device idle for any request they answer; every always-cloud answer had an idle edge device;
// random and round-robin count a few more than routed_right (cloud answers when every edge
// device was busy for the request's whole window).
TEST(Golden, SmallScenarioProducesExactlyTheBlessedFigures) {
  const Blessed want[] = {
      {"hir", 1004, 1004, 0, 1004, 1004, 966200, 22.0088, 0.219967, {782, 0, 222, 0}},
      {"always-cheapest", 1004, 996, 0, 996, 996, 965400, 27.2395, 0.217889, {774, 0, 222, 0}},
      {"always-cloud", 1004, 975, 0, 0, 0, 108676565, 55.4167, 0.0, {0, 0, 0, 975}},
      {"random", 1004, 989, 0, 497, 498, 36396858, 48.8370, 0.127152, {382, 0, 314, 293}},
      {"round-robin", 1004, 994, 0, 510, 514, 36206014, 50.3577, 0.129265, {403, 0, 297, 294}},
  };
  Report r = run_golden();
  ASSERT_EQ(r.runs.size(), std::size(want));
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const auto& x = r.runs[i];
    const auto& w = want[i];
    SCOPED_TRACE(w.policy);
    EXPECT_EQ(x.policy, w.policy);
    EXPECT_EQ(x.requests, w.requests);
    EXPECT_EQ(x.ok, w.ok);
    EXPECT_EQ(x.fell_back, w.fell_back);
    EXPECT_EQ(x.routed_right, w.routed_right);
    EXPECT_EQ(x.no_idle_cheaper_right, w.no_idle_cheaper_right);
    EXPECT_EQ(x.total_cost.nano(), w.total_cost_nano);
    EXPECT_NEAR(x.p95_ms, w.p95_ms, 1e-3);
    EXPECT_NEAR(x.edge_utilization, w.edge_utilization, 1e-5);
    EXPECT_EQ(x.answered_by_class, w.by_class);
  }
}

TEST(Golden, SameSeedSameFiguresDifferentSeedDifferentTrace) {
  auto s = parse_scenario(kSmall, "golden");
  ASSERT_TRUE(s.ok());
  auto a = simulate(*s, 7, 0), b = simulate(*s, 7, 0), c = simulate(*s, 8, 0);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(format_json(*a), format_json(*b));
  EXPECT_NE(a->runs[0].requests, c->runs[0].requests);
}

}  // namespace
}  // namespace hir::sim
