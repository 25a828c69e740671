// The pruned scan (groups visited cheapest first, stopping once nothing later can change the
// plan) against a scan of every deployment, and the sampling of large groups of equivalent edge
// devices: feasible primaries spread over the group, fallbacks in other failure domains, the
// one feasible member found however few there are, and admission's saturation counting the
// targets the scan left out.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/money.h"
#include "core/rng.h"
#include "core/time.h"
#include "random_fleet.h"
#include "routing/plan.h"
#include "routing/router.h"

namespace hir::routing {
namespace {

// With sampling off and admission unable to shed, a pruned decision returns the plan of the
// scan of every deployment, decided from the same state: each step copies the router, decides
// pruned on the copy and unpruned on the original, and feeds the original's outcome back.
TEST(RouterPrune, SamePlansAsAScanOfEveryDeployment) {
  int compared = 0, pruned = 0, pruned_few_domains = 0, failed = 0, fallbacks = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng fleet_rng(seed);
    Registry reg;
    // Seeds 5 and 6: fewer failure domains than the fallbacks want (every target in one of two
    // sites, three fallbacks), where the domain list never fills.
    random_fleet(reg, fleet_rng, seed % 2 ? 60 : 160, seed > 4 ? 2 : 6, seed <= 4);
    PolicyConfig cfg;
    cfg.max_fallbacks = seed > 4 ? 3 : 1 + seed % 3;
    cfg.edge_preference = seed % 2 ? 0.3 : 0.0;
    cfg.sample_groups_over = 0;
    // The saturation sums hold each target's share as of its last look, and a pruned decision
    // looks at fewer targets: with shedding off that cannot change a plan.
    cfg.admission.shed_sheddable_above = 1e9;
    cfg.admission.shed_standard_above = 1e9;
    cfg.breaker.consecutive_failures = 3;
    cfg.breaker.base_ejection = milliseconds(40);
    cfg.breaker.consecutive_span = milliseconds(2);
    Router router(reg, cfg);
    router.set_prune(false);
    Rng rng(seed * 7), world(seed * 13);
    TimePoint now = TimePoint{} + std::chrono::hours(1);
    Plan pa, pb;
    for (int step = 0; step < 1500; ++step) {
      now += microseconds(20 + world.below(600));
      if (world.below(8) == 0) {
        const RandomReport r = random_report(reg, world);
        router.on_load_report(r.target, r.report, r.ready, now);
      }
      RouteRequest q = random_request(world);
      q.explain = world.below(4) == 0;  // the full scans too (kSkipped for what was left out)
      Router copy = router;
      copy.set_prune(true);
      Rng rng_copy = rng;
      const Status sa = copy.plan_into(q, now, rng_copy, pa);
      const Status sb = router.plan_into(q, now, rng, pb);
      if (q.explain) {
        // The reasons differ in what they count as not considered; the plan must not.
        const bool left_out = pa.reason.find("not considered") != std::string::npos;
        pruned += left_out;
        pruned_few_domains += left_out && seed > 4;
        pa.reason.clear();
        pb.reason.clear();
      }
      expect_same(sa, pa, sb, pb, step);
      if (::testing::Test::HasFailure()) return;
      ++compared;
      if (!sb.ok()) {
        ++failed;
        continue;
      }
      fallbacks += pb.steps.size() > 1;
      const PlanStep& s = pb.steps.front();
      const uint32_t roll = world.below(10);
      const Outcome o = roll == 0 ? Outcome::kError : Outcome::kOk;
      const Duration latency = milliseconds(2 + world.below(40));
      router.on_dispatch(s.target, now);
      if (world.below(4) != 0) router.on_result(s.target, s.variant, o, latency, latency / 2, now);
    }
  }
  EXPECT_GT(compared, 8000);
  EXPECT_GT(pruned, 50);  // the explained decisions that left something out
  EXPECT_GT(pruned_few_domains, 10);
  EXPECT_GT(failed, 10);
  EXPECT_GT(fallbacks, 1000);
}

// A fleet with one large group of equivalent MCUs in 8 sites, an edge CPU box per site and the
// cloud: the MCU group is sampled.
struct BigGroup {
  Registry reg;
  ModelIndex model = reg.add_model("m");
  VariantIndex v = reg.add_variant({"v", model, 0.9, {}, 1000, milliseconds(5)});
  std::vector<TargetIndex> mcus, boxes;
  TargetIndex cloud = 0;

  explicit BigGroup(int n) {
    for (int i = 0; i < n; ++i)
      mcus.push_back(add("mcu-" + std::to_string(i), HardwareClass::kMcu, "site-" + std::to_string(i % 8),
                         100, 4, 1, 4));
    for (int i = 0; i < 8; ++i)
      boxes.push_back(add("box-" + std::to_string(i), HardwareClass::kEdgeCpu, "site-" + std::to_string(i),
                          1000, 2, 4, 16));
    cloud = add("cloud", HardwareClass::kCloud, "region", 100'000, 30, 10000, 0);
  }

  TargetIndex add(std::string name, HardwareClass hw, std::string domain, int64_t nano_usd,
                  int rtt_ms, uint32_t concurrency, uint32_t queue) {
    TargetInfo t;
    t.name = std::move(name);
    t.hw = hw;
    t.failure_domain = std::move(domain);
    t.cost_per_request = Money::from_nano(nano_usd);
    t.expected_rtt = milliseconds(rtt_ms);
    t.concurrency = concurrency;
    t.queue_capacity = queue;
    const TargetIndex ti = reg.add_target(t);
    reg.deploy(v, ti);
    return ti;
  }

  void report(Router& r, TargetIndex t, TimePoint now, double busy = 0.2, bool ready = true) const {
    LoadReport lr;
    lr.concurrency = reg.target(t).concurrency;
    lr.queue_capacity = reg.target(t).queue_capacity;
    lr.busy_fraction = busy;
    r.on_load_report(t, lr, ready, now);
  }
  void report_all(Router& r, TimePoint now, double busy = 0.2) const {
    for (TargetIndex t = 0; t < reg.target_count(); ++t) report(r, t, now, busy);
  }
};

size_t not_considered(const std::string& reason) {
  const auto at = reason.find(" not considered");
  if (at == std::string::npos) return 0;
  const auto start = reason.rfind(' ', at - 1);
  return std::stoul(reason.substr(start + 1, at - start - 1));
}

TEST(RouterSampling, PrimariesSpreadOverTheGroupAndFallbacksLeaveTheirDomain) {
  BigGroup f(64);
  PolicyConfig cfg;
  cfg.max_fallbacks = 2;
  ASSERT_LT(cfg.sample_groups_over, 64u);
  Router r(f.reg, cfg);
  Rng rng(3);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  f.report_all(r, now);
  std::map<TargetIndex, int> primaries;
  size_t left_out = 0;
  Plan p;
  RouteRequest q;
  q.budget = milliseconds(100);
  q.explain = true;  // a dry run: nothing dispatched, so every decision sees the same fleet
  for (int i = 0; i < 4000; ++i) {
    now += microseconds(100);
    ASSERT_TRUE(r.plan_into(q, now, rng, p).ok());
    ASSERT_EQ(f.reg.target(p.steps[0].target).hw, HardwareClass::kMcu);
    ++primaries[p.steps[0].target];
    left_out += not_considered(p.reason);
    ASSERT_EQ(p.steps.size(), 3u) << p.reason;
    // The first fallback an MCU in another failure domain; the last on another class, which
    // diversify_last_fallback picks whatever its domain (the best box: lowest p95).
    EXPECT_EQ(f.reg.target(p.steps[1].target).hw, HardwareClass::kMcu) << p.reason;
    EXPECT_NE(f.reg.failure_domain(p.steps[1].target), f.reg.failure_domain(p.steps[0].target))
        << p.reason;
    EXPECT_EQ(f.reg.target(p.steps[2].target).hw, HardwareClass::kEdgeCpu) << p.reason;
  }
  // Every MCU was a primary, about evenly (4000 draws over 64: 62.5 expected each).
  ASSERT_EQ(primaries.size(), 64u);
  for (const auto& [t, n] : primaries) {
    EXPECT_GT(n, 25) << f.reg.target(t).name;
    EXPECT_LT(n, 110) << f.reg.target(t).name;
  }
  // Most of the group was left out of most decisions, and the cloud of all.
  EXPECT_GT(left_out / 4000, 40u);
}

// A group spread over fewer failure domains than the fallbacks want is not drawn whole: the
// draws made for domains stop once those that passed cover the group's domains and a chain.
// Here each of two price groups sits in one domain.
TEST(RouterSampling, FewDomainsDoNotMakeTheGroupDrawnWhole) {
  Registry reg;
  const ModelIndex m = reg.add_model("m");
  const VariantIndex v = reg.add_variant({"v", m, 0.9, {}, 1000, milliseconds(5)});
  for (int i = 0; i < 200; ++i) {
    TargetInfo t;
    t.name = "mcu-" + std::to_string(i);
    t.hw = HardwareClass::kMcu;
    t.failure_domain = i % 2 ? "site-a" : "site-b";
    t.cost_per_request = Money::from_nano(100 + i % 2);
    t.expected_rtt = milliseconds(4);
    t.concurrency = 1;
    t.queue_capacity = 4;
    reg.deploy(v, reg.add_target(t));
  }
  PolicyConfig cfg;
  cfg.max_fallbacks = 3;  // four domains wanted, two exist
  Router r(reg, cfg);
  Rng rng(11);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  RouteRequest q;
  q.budget = milliseconds(100);
  q.explain = true;
  for (int i = 0; i < 20; ++i) {
    now += microseconds(100);
    auto p = r.plan(q, now, rng);
    ASSERT_TRUE(p.ok()) << p.status().message();
    // About four members of the first group and one of the second are looked at.
    EXPECT_GE(not_considered(p->reason), 200u - 12) << p->reason;
    ASSERT_EQ(p->steps.size(), 4u);  // the fallbacks still fill up, from both domains
    EXPECT_NE(reg.failure_domain(p->steps[0].target), reg.failure_domain(p->steps[1].target))
        << p->reason;
  }
}

// A load report may say anything: a busy fraction of 1e15 on a dozen targets must not wrap the
// saturation sums around to "idle" (each target counts for at most 2^32 slots; at 10^12 slots
// of 2^-20 each, a dozen such targets overflowed a 64-bit sum into the negative).
TEST(RouterSampling, AbsurdLoadReportsCannotWrapTheSaturation) {
  BigGroup f(64);
  PolicyConfig cfg;
  Router r(f.reg, cfg);
  Rng rng(13);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  f.report_all(r, now);
  for (int i = 0; i < 12; ++i) f.report(r, f.mcus[static_cast<size_t>(i)], now, 1e15);
  RouteRequest q;
  q.priority = Priority::kSheddable;
  q.budget = milliseconds(100);
  int shed = 0;
  for (int i = 0; i < 200; ++i) {  // enough for the sweep to have looked at every target
    now += microseconds(100);
    auto p = r.plan(q, now, rng);
    shed += !p.ok() && p.status().code() == Code::kResourceExhausted;
  }
  EXPECT_GT(shed, 100);
}

TEST(RouterSampling, FindsTheOneFeasibleMemberAndFailsOnlyWhenNoneIs) {
  BigGroup f(64);
  PolicyConfig cfg;
  Router r(f.reg, cfg);
  Rng rng(5);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  f.report_all(r, now);
  // Every MCU but one is not ready; the boxes and the cloud are dearer.
  const TargetIndex keep = f.mcus[37];
  for (TargetIndex t : f.mcus)
    if (t != keep) f.report(r, t, now, 0, false);
  RouteRequest q;
  q.budget = milliseconds(100);
  for (int i = 0; i < 50; ++i) {
    now += microseconds(100);
    auto p = r.plan(q, now, rng);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->steps[0].target, keep);
  }
  // With a budget nothing meets, the error counts every candidate: nothing was left out.
  q.budget = milliseconds(1);
  auto p = r.plan(q, now, rng);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().find("not considered"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("63 unhealthy"), std::string::npos) << p.status().message();
}

// Admission's saturation covers the targets a pruned scan leaves out: their shares are kept
// from their last look, and the sweep looks at one of them per decision that leaves some out.
TEST(RouterSampling, SaturationCountsTheTargetsTheScanLeftOut) {
  BigGroup f(64);
  PolicyConfig cfg;
  Router r(f.reg, cfg);
  Rng rng(9);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  f.report_all(r, now, 0.1);
  RouteRequest q;
  q.budget = milliseconds(100);
  for (int i = 0; i < 100; ++i) {
    now += microseconds(100);
    ASSERT_TRUE(r.plan(q, now, rng).ok());
  }
  // The cloud, which no decision reaches, reports itself saturated: it holds most of the
  // fleet's capacity (10,000 of 10,480 slots), so the fleet is over the sheddable threshold.
  LoadReport lr;
  lr.concurrency = 10000;
  lr.in_flight = 10000;
  lr.queue_capacity = 0;
  lr.busy_fraction = 1.0;
  r.on_load_report(f.cloud, lr, true, now);
  RouteRequest shed = q;
  shed.priority = Priority::kSheddable;
  bool was_shed = false;
  for (int i = 0; i < 100 && !was_shed; ++i) {
    now += microseconds(100);
    auto p = r.plan(shed, now, rng);
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), Code::kResourceExhausted) << p.status().message();
      was_shed = true;
    } else {
      EXPECT_NE(p->steps[0].target, f.cloud);
    }
  }
  EXPECT_TRUE(was_shed);
  // Standard traffic still passes.
  auto p = r.plan(q, now, rng);
  EXPECT_TRUE(p.ok());
}

}  // namespace
}  // namespace hir::routing
