// The decision's pure parts: the hard-constraint filter, the ranking, best effort and P2C.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "core/rng.h"
#include "routing/policy.h"

namespace hir::routing {
namespace {

using std::chrono::milliseconds;

Candidate cand(TargetIndex t, HardwareClass hw, int64_t nano, double p95_ms) {
  Candidate c;
  c.target = t;
  c.hw = hw;
  c.cost = Money::from_nano(nano);
  c.rank_cost = nano;
  c.p95 = from_ms(p95_ms);
  c.domain = t;
  c.price_class = static_cast<uint32_t>(hw);
  return c;
}

Constraints loose() { return {std::nullopt, milliseconds(100), std::nullopt, true}; }

TEST(PolicyFilter, EveryConstraintFilters) {
  const Candidate edge = cand(0, HardwareClass::kEdgeCpu, 100, 50);
  const Candidate cloud = cand(1, HardwareClass::kCloud, 100, 50);
  Constraints k = loose();
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kNone);

  k.min_accuracy = 0.95;
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kAccuracy);
  EXPECT_EQ(first_cut(edge, 0.95, true, true, false, k), Cut::kNone);  // ">=": exactly enough
  k = loose();
  EXPECT_EQ(first_cut(edge, 0.9, false, true, false, k), Cut::kUnhealthy);
  EXPECT_EQ(first_cut(edge, 0.9, true, false, false, k), Cut::kBreaker);
  EXPECT_EQ(first_cut(edge, 0.9, true, true, true, k), Cut::kQueueFull);

  k.cloud_allowed = false;  // the spend cap closes the cloud, not the edge
  EXPECT_EQ(first_cut(cloud, 0.9, true, true, false, k), Cut::kSpendCap);
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kNone);
  k = loose();
  k.max_cost = Money::from_nano(99);
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kCost);
  k.max_cost = Money::from_nano(100);
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kNone);
  k = loose();
  k.budget = milliseconds(49);
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kBudget);
  k.budget = milliseconds(50);
  EXPECT_EQ(first_cut(edge, 0.9, true, true, false, k), Cut::kNone);
}

TEST(PolicyFilter, FirstFailingConstraintIsRecorded) {
  Constraints k = loose();
  k.min_accuracy = 0.99;
  k.budget = milliseconds(1);
  // Fails accuracy, health and budget: accuracy is checked first.
  EXPECT_EQ(first_cut(cand(0, HardwareClass::kMcu, 0, 50), 0.5, false, true, false, k),
            Cut::kAccuracy);
}

TEST(PolicyRank, CheapestThenEdgeThenLatency) {
  const Candidate cheap_cloud = cand(0, HardwareClass::kCloud, 10, 80);
  const Candidate dear_edge = cand(1, HardwareClass::kEdgeGpu, 20, 5);
  EXPECT_TRUE(ranks_before(cheap_cloud, dear_edge));  // cost decides first

  const Candidate edge_same = cand(2, HardwareClass::kEdgeCpu, 10, 90);
  EXPECT_TRUE(ranks_before(edge_same, cheap_cloud));  // tie on cost: toward edge, though slower
  EXPECT_FALSE(ranks_before(cheap_cloud, edge_same));

  const Candidate fast_edge = cand(3, HardwareClass::kEdgeCpu, 10, 30);
  EXPECT_TRUE(ranks_before(fast_edge, edge_same));  // tie on cost and class: lower latency
}

TEST(PolicyRank, EdgePreferenceDiscountsEdgeOnly) {
  EXPECT_EQ(rank_cost(Money::from_nano(1000), HardwareClass::kCloud, 0.5), 1000);
  EXPECT_EQ(rank_cost(Money::from_nano(1000), HardwareClass::kEdgeCpu, 0.0), 1000);
  EXPECT_EQ(rank_cost(Money::from_nano(1000), HardwareClass::kEdgeCpu, 0.5), 500);
  EXPECT_EQ(rank_cost(Money::from_nano(1000), HardwareClass::kMcu, 0.25), 750);
  // With a 50% preference, an edge box at 1.5x the cloud's price ranks first.
  Candidate cloud = cand(0, HardwareClass::kCloud, 1000, 50);
  Candidate edge = cand(1, HardwareClass::kEdgeGpu, 1500, 50);
  edge.rank_cost = rank_cost(edge.cost, edge.hw, 0.5);
  EXPECT_TRUE(ranks_before(edge, cloud));
}

TEST(PolicySelect, BestFeasibleSkipsCutCandidates) {
  std::vector<Candidate> c{cand(0, HardwareClass::kEdgeCpu, 1, 10),
                           cand(1, HardwareClass::kEdgeCpu, 5, 10),
                           cand(2, HardwareClass::kCloud, 9, 10)};
  EXPECT_EQ(best_feasible(c), 0u);
  c[0].cut = Cut::kBudget;
  EXPECT_EQ(best_feasible(c), 1u);
  c[1].cut = Cut::kUnhealthy;
  EXPECT_EQ(best_feasible(c), 2u);
  c[2].cut = Cut::kSpendCap;
  EXPECT_EQ(best_feasible(c), kNone);
}

TEST(PolicySelect, BestEffortIsFastestAmongRelaxable) {
  std::vector<Candidate> c{cand(0, HardwareClass::kEdgeCpu, 1, 300),
                           cand(1, HardwareClass::kCloud, 9, 120),
                           cand(2, HardwareClass::kEdgeGpu, 5, 20)};
  c[0].cut = Cut::kBudget;
  c[1].cut = Cut::kCost;
  c[2].cut = Cut::kUnhealthy;  // fastest, but down: never best effort
  EXPECT_EQ(best_effort(c), 1u);
  c[1].cut = Cut::kAccuracy;  // accuracy is not relaxed
  EXPECT_EQ(best_effort(c), 0u);
  c[0].cut = Cut::kBreaker;
  EXPECT_EQ(best_effort(c), kNone);
}

TEST(PolicyP2C, OnlyAmongEquivalentEdgeDevices) {
  Rng rng(1);
  std::vector<uint32_t> members;
  std::vector<Candidate> c{cand(0, HardwareClass::kCloud, 0, 10),
                           cand(1, HardwareClass::kCloud, 0, 10)};
  EXPECT_EQ(power_of_two_choices(c, 0, members, rng), 0u);  // cloud: no P2C
  EXPECT_TRUE(members.empty());

  c = {cand(0, HardwareClass::kEdgeCpu, 0, 10), cand(1, HardwareClass::kEdgeGpu, 0, 10),
       cand(2, HardwareClass::kEdgeCpu, 0, 10)};
  c[2].variant = 7;  // another variant: not equivalent
  for (int i = 0; i < 100; ++i) EXPECT_EQ(power_of_two_choices(c, 0, members, rng), 0u);
  EXPECT_EQ(members.size(), 1u);
}

TEST(PolicyP2C, NeverPicksTheStrictlyMostLoaded) {
  Rng rng(2);
  std::vector<uint32_t> members;
  std::vector<Candidate> c;
  for (TargetIndex t = 0; t < 4; ++t) c.push_back(cand(t, HardwareClass::kEdgeCpu, 0, 10));
  c[3].load = 0.9;
  c[1].cut = Cut::kBudget;  // not a member
  std::array<int, 4> picks{};
  for (int i = 0; i < 30000; ++i) ++picks[power_of_two_choices(c, 0, members, rng)];
  EXPECT_EQ(members.size(), 3u);
  EXPECT_EQ(picks[1], 0);
  EXPECT_EQ(picks[3], 0);  // it loses every draw it is in
  // 0 and 2 are equally loaded: the pair {0,2} splits evenly, {0,3} and {2,3} go to the other.
  EXPECT_NEAR(picks[0] / 30000.0, 0.5, 0.02);
  // Ties on utilization fall to our in-flight count.
  c[3].load = 0;
  c[2].in_flight = 1;
  for (int i = 0; i < 1000; ++i) EXPECT_NE(power_of_two_choices(c, 0, members, rng), 2u);
}

TEST(PolicyConfigCheck, RejectsNonsense) {
  PolicyConfig cfg;
  EXPECT_TRUE(validate(cfg).ok());
  cfg.edge_preference = 1.0;
  EXPECT_FALSE(validate(cfg).ok());
  cfg = {};
  cfg.default_budget = Duration::zero();
  EXPECT_FALSE(validate(cfg).ok());
  cfg = {};
  cfg.hedge_when_p95_over = 0;
  EXPECT_FALSE(validate(cfg).ok());
  cfg = {};
  cfg.breaker.half_open_probes = 0;
  EXPECT_FALSE(validate(cfg).ok());
}

}  // namespace
}  // namespace hir::routing
