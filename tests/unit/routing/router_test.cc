// The facade's decision: constraints, ranking, best effort, spend cap, errors, fallbacks,
// hedging and reasons. Feedback (breakers, health, admission, P2C) is in router_feedback_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/rng.h"
#include "router_fleet.h"
#include "routing/router.h"

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Fleet;
using testing::req;
using testing::RouterTest;
using testing::T0;

TEST_F(RouterTest, CheapestWins) {
  const auto dear = f.target("edge-dear", HardwareClass::kEdgeCpu, 2e-6, 1);
  const auto cheap = f.target("edge-cheap", HardwareClass::kEdgeCpu, 1e-6, 1);
  const auto cloud = f.target("cloud", HardwareClass::kCloud, 1e-4, 30);
  for (auto t : {dear, cheap}) f.reg.deploy(f.tiny, t);
  f.reg.deploy(f.large, cloud);
  Router r(f.reg, cfg);
  auto p = plan(r, req());
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[0].target, cheap);
  EXPECT_EQ(p->steps[0].variant, f.tiny);
  EXPECT_EQ(p->steps[0].predicted_cost, Money::from_usd(1e-6));
  EXPECT_EQ(p->steps[0].predicted_p95, milliseconds(6));  // RTT 1 + service 5, no load
  EXPECT_FALSE(p->best_effort);
  EXPECT_EQ(p->reason, "cheapest");
}

TEST_F(RouterTest, TieGoesTowardEdgeEvenWhenSlower) {
  const auto cloud = f.target("cloud", HardwareClass::kCloud, 0, 0.5);
  const auto edge = f.target("edge", HardwareClass::kEdgeGpu, 0, 5);
  f.reg.deploy(f.large, cloud);
  f.reg.deploy(f.large, edge);
  Router r(f.reg, cfg);
  auto p = plan(r, req());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->steps[0].target, edge);
  EXPECT_GT(p->steps[0].predicted_p95, p->steps[1].predicted_p95);
}

TEST_F(RouterTest, EdgePreferenceTipsACloseCall) {
  const auto cloud = f.target("cloud", HardwareClass::kCloud, 1e-5, 20);
  const auto edge = f.target("edge", HardwareClass::kEdgeGpu, 1.5e-5, 1);
  f.reg.deploy(f.large, cloud);
  f.reg.deploy(f.large, edge);
  Router pure(f.reg, cfg);
  EXPECT_EQ(plan(pure, req())->steps[0].target, cloud);
  cfg.edge_preference = 0.5;
  Router leaning(f.reg, cfg);
  EXPECT_EQ(plan(leaning, req())->steps[0].target, edge);
}

TEST_F(RouterTest, MinAccuracyDrivesToCloud) {
  const auto [edge, cloud] = edge_and_cloud(f.tiny, f.large);
  Router r(f.reg, cfg);
  auto q = req();
  EXPECT_EQ(plan(r, q)->steps[0].target, edge);
  q.min_accuracy = 0.9;
  auto p = plan(r, q);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->steps[0].target, cloud);
  EXPECT_EQ(p->steps[0].variant, f.large);
  EXPECT_EQ(p->steps.size(), 1u);  // the edge's tiny model is not accurate enough to fall back to
}

TEST_F(RouterTest, AccuracyByComplexityBand) {
  // A variant good on easy inputs only: the request's complexity decides edge or cloud.
  const auto banded = f.reg.add_variant({"banded", f.model, 0.85, {0.97, 0.70}, 1000, milliseconds(5)});
  const auto [edge, cloud] = edge_and_cloud(banded, f.large);
  Router r(f.reg, cfg);
  auto q = req();
  q.min_accuracy = 0.9;
  q.complexity = 0.2;
  EXPECT_EQ(plan(r, q)->steps[0].target, edge);
  q.complexity = 0.8;
  EXPECT_EQ(plan(r, q)->steps[0].target, cloud);
}

TEST_F(RouterTest, BudgetExcludesTheSlowCloud) {
  const auto gpu = f.target("edge-gpu", HardwareClass::kEdgeGpu, 2e-5, 1);
  const auto cloud = f.target("cloud", HardwareClass::kCloud, 1e-5, 80);  // p95 100 ms
  f.reg.deploy(f.large, gpu);
  f.reg.deploy(f.large, cloud);
  Router r(f.reg, cfg);
  auto q = req();
  q.budget = milliseconds(200);
  EXPECT_EQ(plan(r, q)->steps[0].target, cloud);  // cheaper, and in budget
  q.budget = milliseconds(50);
  auto p = plan(r, q);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->steps[0].target, gpu);
  EXPECT_EQ(p->steps.size(), 1u);  // the cloud is over budget: not a fallback for standard
}

TEST_F(RouterTest, MaxCostAndBestEffortForCritical) {
  const auto [edge, cloud] = edge_and_cloud(f.tiny, f.large);
  Router r(f.reg, cfg);
  auto q = req();
  q.min_accuracy = 0.9;
  q.max_cost = Money::from_usd(1e-5);
  auto p = plan(r, q);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("cut by over max_cost"), std::string::npos)
      << p.status().message();
  q.priority = Priority::kCritical;
  p = plan(r, q);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->best_effort);
  EXPECT_EQ(p->steps[0].target, cloud);
  EXPECT_EQ(p->reason, "best-effort");
}

TEST_F(RouterTest, BestEffortIsTheFastestHealthyCandidate) {
  const auto slow = f.target("cloud-far", HardwareClass::kCloud, 1e-5, 200);
  const auto less = f.target("cloud-near", HardwareClass::kCloud, 9e-5, 60);
  f.reg.deploy(f.large, slow);
  f.reg.deploy(f.large, less);
  Router r(f.reg, cfg);
  auto q = req();
  q.budget = milliseconds(50);
  auto p = plan(r, q);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("over latency budget"), std::string::npos);
  q.priority = Priority::kCritical;
  p = plan(r, q);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->best_effort);
  EXPECT_EQ(p->steps[0].target, less);
  ASSERT_EQ(p->steps.size(), 2u);  // critical falls back even past its budget
  EXPECT_EQ(p->steps[1].target, slow);
}

TEST_F(RouterTest, CloudSpendCapLeavesTheCloudToCritical) {
  const auto edge = f.target("edge", HardwareClass::kEdgeCpu, 1e-6, 1);
  const auto cloud = f.target("cloud", HardwareClass::kCloud, 1e-4, 30);
  f.reg.deploy(f.tiny, edge);
  f.reg.deploy(f.large, cloud);
  cfg.cloud_spend_cap_per_s = Money::from_usd(0.001);
  Router r(f.reg, cfg);
  auto q = req();
  q.min_accuracy = 0.9;
  ASSERT_TRUE(plan(r, q).ok());
  r.on_cost(edge, Money::from_usd(1), T0);  // edge spend does not count
  ASSERT_TRUE(plan(r, q).ok());
  r.on_cost(cloud, Money::from_usd(0.1), T0);  // $0.01/s over the last 10 s
  EXPECT_EQ(r.cloud_spend_rate(T0), Money::from_usd(0.01));
  auto p = plan(r, q);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("cut by cloud spend cap"), std::string::npos);
  q.priority = Priority::kCritical;
  EXPECT_EQ(plan(r, q)->steps[0].target, cloud);
  q.priority = Priority::kStandard;
  EXPECT_TRUE(plan(r, q, T0 + seconds(11)).ok());  // the spend has left the window
}

TEST_F(RouterTest, ErrorsForBadModelNoAccuracyNoDeployments) {
  const auto edge = f.target("edge", HardwareClass::kEdgeCpu, 0, 1);
  f.reg.deploy(f.tiny, edge);
  const auto orphan = f.reg.add_model("orphan");
  Router r(f.reg, cfg);
  auto q = req();
  q.model = 99;
  EXPECT_EQ(plan(r, q).status().code(), Code::kInvalidArgument);
  q.model = f.model;
  q.complexity = std::nan("");
  EXPECT_EQ(plan(r, q).status().code(), Code::kInvalidArgument);
  q.complexity = 1.5;
  EXPECT_EQ(plan(r, q).status().code(), Code::kInvalidArgument);
  q.complexity = 1.0;
  q.min_accuracy = 0.99;
  auto p = plan(r, q);
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("below min_accuracy 0.990"), std::string::npos)
      << p.status().message();
  q.model = orphan;
  q.min_accuracy.reset();
  EXPECT_NE(plan(r, q).status().message().find("no deployments"), std::string::npos);
}

TEST_F(RouterTest, FallbackChainCrossesFailureDomains) {
  const auto a0 = f.target("a0", HardwareClass::kEdgeCpu, 1e-9, 1, "site-a");
  const auto a1 = f.target("a1", HardwareClass::kEdgeCpu, 2e-9, 1, "site-a");
  const auto b0 = f.target("b0", HardwareClass::kEdgeCpu, 5e-9, 1, "site-b");
  const auto c0 = f.target("c0", HardwareClass::kCloud, 1e-5, 30, "us-east");
  for (auto t : {a0, a1, b0, c0}) f.reg.deploy(f.tiny, t);
  Router r(f.reg, cfg);
  auto p = plan(r, req());
  ASSERT_TRUE(p.ok());
  std::vector<TargetIndex> chain;
  for (const auto& s : p->steps) chain.push_back(s.target);
  EXPECT_EQ(chain, (std::vector<TargetIndex>{a0, b0, c0, a1}));
  cfg.max_fallbacks = 1;
  Router short_chain(f.reg, cfg);
  EXPECT_EQ(plan(short_chain, req())->steps.size(), 2u);
}

TEST_F(RouterTest, HedgeOnlyForCriticalNearItsBudget) {
  const auto gpu = f.target("edge-gpu", HardwareClass::kEdgeGpu, 0, 1);     // p95 21 ms
  const auto cloud = f.target("cloud", HardwareClass::kCloud, 1e-4, 2);     // p95 22 ms
  f.reg.deploy(f.large, gpu);
  f.reg.deploy(f.large, cloud);
  Router r(f.reg, cfg);
  auto q = req(Priority::kCritical);
  q.budget = milliseconds(25);  // 21 > 0.8 x 25
  auto p = plan(r, q);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->hedge_after);
  EXPECT_EQ(*p->hedge_after, milliseconds(3));  // 25 - 22: the fallback still makes the budget
  q.priority = Priority::kStandard;
  EXPECT_FALSE(plan(r, q)->hedge_after);
  q.priority = Priority::kCritical;
  q.budget = milliseconds(100);
  EXPECT_FALSE(plan(r, q)->hedge_after);
}

TEST_F(RouterTest, ExplainWritesTheFullReason) {
  const auto edge = f.target("edge-1", HardwareClass::kEdgeCpu, 0, 1, "shop-7");
  const auto cloud = f.target("cloud-eu", HardwareClass::kCloud, 1e-4, 30, "eu-west");
  f.reg.deploy(f.tiny, edge);
  f.reg.deploy(f.large, cloud);
  f.reg.deploy(f.large, edge);
  Router r(f.reg, cfg);
  auto q = req();
  q.explain = true;
  q.min_accuracy = 0.9;
  auto p = plan(r, q);
  ASSERT_TRUE(p.ok());
  for (const char* part : {"primary edge-1/large", "shop-7", "cheapest feasible", "of 3 candidates",
                           "1 below min_accuracy 0.900", "fallbacks: cloud-eu/large"})
    EXPECT_NE(p->reason.find(part), std::string::npos) << part << " in: " << p->reason;
}

}  // namespace
}  // namespace hir::routing
