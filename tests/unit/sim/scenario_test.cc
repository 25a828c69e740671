#include "sim/scenario.h"

#include <gtest/gtest.h>

#include "core/rng.h"
#include "sim/faults.h"
#include "sim/fleet.h"
#include "sim/oracle.h"
#include "sim/trace.h"
#include "two_tier_scenario.h"

namespace hir::sim {
namespace {

using testing::kTwoTier;

TEST(Scenario, LoadsEveryShippedScenario) {
  for (const char* name : {"steady", "steady-gateway", "diurnal-surge", "edge-churn", "cloud-brownout", "fleet-10k"}) {
    auto s = load_scenario(std::string(HIR_SOURCE_DIR) + "/scenarios/" + name + ".yaml");
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->name, name);
    EXPECT_TRUE(build_fleet(*s, 1).ok()) << name;
  }
}

TEST(Scenario, ErrorsNameTheKey) {
  std::string bad = kTwoTier;
  bad.replace(bad.find("concurrency: 1"), 14, "concurrency: 0");
  auto s = parse_scenario(bad, "x.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("x.yaml: targets[0]: 'concurrency'"), std::string::npos) << s.status().message();

  auto typo = parse_scenario(std::string(kTwoTier) + "faultz: {}\n", "x.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown key 'faultz'"), std::string::npos);

  EXPECT_FALSE(parse_scenario("a: [", "x.yaml").ok());  // YAML syntax: an error, not a throw
  EXPECT_FALSE(load_scenario("/nonexistent.yaml").ok());
}

TEST(Scenario, FleetRejectsUnknownReferences) {
  auto s = parse_scenario(std::string(kTwoTier) + "faults: {outages: [{group: nope, from_s: 1, to_s: 2}]}\n", "x");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto f = build_fleet(*s, 1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("faults.outages[0]: unknown group 'nope'"), std::string::npos);
}

// Mistakes that ran before, silently: each is refused, naming where it is.
TEST(Scenario, RefusesWhatWouldRunSilentlyWrong) {
  auto error_of = [](std::string yaml, const std::string& from, const std::string& to) {
    const auto at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) yaml.replace(at, from.size(), to);
    auto s = parse_scenario(yaml, "x.yaml");
    return s.ok() ? std::string("accepted") : s.status().message();
  };
  const std::string base = kTwoTier;
  EXPECT_NE(error_of(base, "count: 3", "count: 2.5").find("'count' must be a whole number"), std::string::npos);
  EXPECT_NE(error_of(base, "group: cloud", "group: edge").find("group 'edge' defined twice"), std::string::npos);
  EXPECT_NE(error_of(base, "{name: b, accuracy: 0.95}", "{name: a, accuracy: 0.95}").find("variant 'a' defined twice"),
            std::string::npos);
  EXPECT_NE(error_of(base, "budgets_ms: {100: 1}", "budgets_ms: {100: 0}").find("needs a weight above 0"), std::string::npos);
  EXPECT_NE(error_of(base, "  models: {m: 1}", "  diurnal: {mean_rps: 5}\n  models: {m: 1}").find("not both"),
            std::string::npos);
  EXPECT_NE(error_of(base, "{at_s: 0, rps: 100}, {at_s: 5, rps: 300}", "{at_s: 0, rps: 0}").find("sends no request"),
            std::string::npos);
  EXPECT_NE(error_of(base, "{at_s: 0, rps: 100}, {at_s: 5, rps: 300}", "{at_s: 20, rps: 100}").find("sends no request"),
            std::string::npos);
  auto late = parse_scenario(base + "faults: {outages: [{group: edge, from_s: 100, to_s: 200}]}\n", "x.yaml");
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("faults.outages[0]: 'from_s' (100) is not before the end"), std::string::npos)
      << late.status().message();
  // An optional key out of range is not said to be required.
  EXPECT_NE(error_of(base, "duration_s: 10", "duration_s: 0").find("'duration_s' must be within"), std::string::npos);
}

// A model the workload sends that no group serves: its requests could only fail.
TEST(Scenario, FleetRefusesAModelNobodyServes) {
  std::string yaml = kTwoTier;
  yaml.replace(yaml.find("models: [{name: m,"), 19, "models: [{name: z, variants: [{name: q, accuracy: 0.9}]}, {name: m,");
  yaml.replace(yaml.find("models: {m: 1}"), 14, "models: {m: 1, z: 1}");
  auto s = parse_scenario(yaml, "x");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto f = build_fleet(*s, 1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("no target group serves model 'z'"), std::string::npos) << f.status().message();
}

TEST(Trace, FollowsThePiecewiseRate) {
  auto s = parse_scenario(kTwoTier, "x");
  ASSERT_TRUE(s.ok());
  auto f = build_fleet(*s, 1);
  ASSERT_TRUE(f.ok());
  Trace t(*s, *f, 3, 0);
  int first = 0, second = 0;
  while (auto r = t.next()) (to_ms(r->arrival) < 5000 ? first : second)++;
  // Poisson: 500 and 1,500 expected; 5 standard deviations of slack.
  EXPECT_NEAR(first, 500, 5 * 23);
  EXPECT_NEAR(second, 1500, 5 * 39);
}

TEST(Trace, SkippingARequestsDrawsLeavesTheRestOfTheTraceUnchanged) {
  auto s = parse_scenario(kTwoTier, "x");
  ASSERT_TRUE(s.ok());
  auto f = build_fleet(*s, 1);
  ASSERT_TRUE(f.ok());
  Trace full(*s, *f, 5, 0), skipping(*s, *f, 5, 0);
  for (int i = 0; i < 200; ++i) {
    const bool draws = i % 3 != 1;
    EXPECT_EQ(skipping.produced(), static_cast<uint64_t>(i));
    auto a = full.next(), b = skipping.next(draws);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->id, b->id);
    EXPECT_EQ(a->arrival, b->arrival);
    EXPECT_EQ(a->route.complexity, b->route.complexity);
    EXPECT_EQ(a->budget, b->budget);
    if (draws) {
      EXPECT_EQ(a->z_service, b->z_service);
      EXPECT_EQ(a->z_rtt, b->z_rtt);
      EXPECT_EQ(a->u_error, b->u_error);
    } else {
      EXPECT_TRUE(b->z_service.empty() && b->z_rtt.empty() && b->u_error.empty());
    }
  }
}

TEST(Oracle, PicksTheCheapestKindThatMeetsEveryConstraint) {
  auto s = parse_scenario(kTwoTier, "x");
  ASSERT_TRUE(s.ok());
  auto f = build_fleet(*s, 1);
  ASSERT_TRUE(f.ok());
  FaultState fs(*f);
  Trace t(*s, *f, 3, 0);
  auto r = *t.next();
  r.z_service.assign(r.z_service.size(), 0.f);  // medians
  r.z_rtt.assign(r.z_rtt.size(), 0.f);
  r.u_error.assign(r.u_error.size(), 1.f);  // no errors
  auto pick = oracle_pick(*s, *f, fs, r);
  ASSERT_GE(pick.kind, 0);
  EXPECT_EQ(f->kinds[static_cast<size_t>(pick.kind)].group, 0u);  // the edge: cheaper
  r.route.min_accuracy = 0.9;  // only the cloud's b
  pick = oracle_pick(*s, *f, fs, r);
  ASSERT_GE(pick.kind, 0);
  EXPECT_EQ(f->kinds[static_cast<size_t>(pick.kind)].group, 1u);
  r.budget = std::chrono::milliseconds(20);  // the cloud's 30 ms RTT cannot make it
  EXPECT_EQ(oracle_pick(*s, *f, fs, r).kind, -1);
  // Ground truth, not estimates: with every edge device down the edge is not a candidate.
  r.route.min_accuracy.reset();
  r.budget = std::chrono::milliseconds(100);
  for (uint32_t d = 0; d < 3; ++d) fs.apply({Duration{0}, FaultEvent::Kind::kDeviceDown, d});
  EXPECT_EQ(f->kinds[static_cast<size_t>(oracle_pick(*s, *f, fs, r).kind)].group, 1u);
}

TEST(Faults, ChurnTimelineIsSortedAndAlternates) {
  auto s = parse_scenario(std::string(kTwoTier) + "faults: {churn: [{group: edge, mean_up_s: 2, mean_down_s: 1}]}\n", "x");
  ASSERT_TRUE(s.ok());
  auto f = build_fleet(*s, 1);
  ASSERT_TRUE(f.ok());
  auto ev = fault_timeline(*s, *f, 9, std::chrono::seconds(10));
  ASSERT_FALSE(ev.empty());
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_LE(ev[i - 1].at, ev[i].at);
  FaultState fs(*f);
  for (const auto& e : ev) {
    bool was_up = fs.device_up(e.subject);
    EXPECT_EQ(was_up, e.kind == FaultEvent::Kind::kDeviceDown);  // each event flips its device
    fs.apply(e);
  }
}

}  // namespace
}  // namespace hir::sim
