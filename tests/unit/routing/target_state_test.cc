#include "routing/target_state.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0{};  // simulated time
TimePoint at(Duration d) { return kT0 + d; }

TargetInfo edge(uint32_t concurrency = 2) {
  TargetInfo t;
  t.name = "edge-1";
  t.hw = HardwareClass::kEdgeCpu;
  t.expected_rtt = milliseconds(2);
  t.concurrency = concurrency;
  return t;
}

constexpr VariantIndex kSmall = 0, kLarge = 1;
const Duration kPrior = milliseconds(7);

TEST(TargetState, StartsFromPriors) {
  TargetState s(edge());
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_EQ(s.requests(), 0u);
  EXPECT_EQ(s.reported_queue_depth(), 0u);
  EXPECT_EQ(s.staleness(at(seconds(5))), Duration::max());
  EXPECT_EQ(s.error_rate(at(seconds(5))), 0);
  EXPECT_EQ(s.rtt_p95(), milliseconds(2));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), kPrior);
  EXPECT_EQ(s.service_mean(kSmall, kPrior), kPrior);
  EXPECT_EQ(s.utilization(kT0), 0);
  EXPECT_EQ(s.concurrency(), 2u);
}

TEST(TargetState, InFlightFollowsDispatchAndResultAndNeverWraps) {
  TargetState s(edge());
  s.on_dispatch(kT0);
  s.on_dispatch(kT0);
  EXPECT_EQ(s.in_flight(), 2u);
  EXPECT_DOUBLE_EQ(s.utilization(kT0), 1.0);  // 2 of 2 servers, no report
  s.on_result(kSmall, Outcome::kOk, milliseconds(10), at(milliseconds(10)));
  EXPECT_EQ(s.in_flight(), 1u);
  s.on_result(kSmall, Outcome::kOk, milliseconds(10), at(milliseconds(11)));
  s.on_result(kSmall, Outcome::kOk, milliseconds(10), at(milliseconds(12)));  // no dispatch
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_EQ(s.requests(), 3u);
}

// An attempt we stopped waiting for (a hedge's loser) frees its slot and is neither an error nor
// a latency sample: the time it was cut at is not the target's latency.
TEST(TargetState, AnAbandonedAttemptIsNoErrorAndNoSample) {
  TargetState s(edge());
  for (int i = 0; i < 8; ++i) {
    s.on_dispatch(at(milliseconds(i)));
    s.on_result(kSmall, Outcome::kAbandoned, milliseconds(1), at(milliseconds(i + 1)));
  }
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_EQ(s.error_rate(at(milliseconds(10))), 0);
  EXPECT_EQ(s.service_p95(kSmall, kPrior), kPrior);
}

TEST(TargetState, ServiceTimeIsLearnedPerVariantAfterMinSamples) {
  TargetState s(edge());
  // 22 ms calls with a 2-ms RTT prior: service derived as 20 ms.
  for (int i = 0; i < 3; ++i) s.on_result(kSmall, Outcome::kOk, milliseconds(22), at(seconds(i)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), kPrior);  // 3 < min_samples (4)
  s.on_result(kSmall, Outcome::kOk, milliseconds(22), at(seconds(3)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(20));
  EXPECT_EQ(s.service_mean(kSmall, kPrior), milliseconds(20));
  EXPECT_EQ(s.service_p95(kLarge, kPrior), kPrior);  // another variant is untouched
}

TEST(TargetState, P95SeesTheTailAndTheMeanDoesNot) {
  TargetState s(edge());
  // 90 calls of 12 ms and 10 of 102 ms (service 10 and 100 after the 2-ms RTT).
  for (int i = 0; i < 100; ++i)
    s.on_result(kSmall, Outcome::kOk, milliseconds(i % 10 == 9 ? 102 : 12), at(milliseconds(i)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(100));
  EXPECT_LT(s.service_mean(kSmall, kPrior), milliseconds(50));
}

TEST(TargetState, ReportedServiceTimeOfTheTargetIsAnRttSample) {
  TargetState s(edge());
  for (int i = 0; i < 10; ++i)
    s.on_result(kSmall, Outcome::kOk, milliseconds(30), milliseconds(20), at(seconds(i)));
  EXPECT_EQ(s.rtt_p95(), milliseconds(10));
  EXPECT_EQ(s.rtt_p50(), milliseconds(10));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(20));
  // Later calls without a service time subtract the learned median RTT.
  TargetState u(edge());
  for (int i = 0; i < 10; ++i) u.on_rtt_sample(milliseconds(10), at(seconds(i)));
  for (int i = 0; i < 10; ++i) u.on_result(kSmall, Outcome::kOk, milliseconds(35), at(seconds(i)));
  EXPECT_EQ(u.service_p95(kSmall, kPrior), milliseconds(25));
}

TEST(TargetState, ReportedQueueWaitIsNotCountedAsNetwork) {
  TargetState s(edge());
  for (int i = 0; i < 10; ++i)
    s.on_result(kSmall, Outcome::kOk, milliseconds(40), milliseconds(20), at(seconds(i)), milliseconds(12));
  EXPECT_EQ(s.rtt_p50(), milliseconds(8));  // 40 - 20 of service - 12 waiting for a thread
}

// An MCU: one thread. Requests take 1 ms each way and 10 ms of service.
TEST(TargetState, OwnQueueReplaysOurRequestsThroughTheTargetsFifo) {
  TargetState s(edge(1));
  const Duration one_way = milliseconds(1), svc = milliseconds(10);
  s.on_dispatch(kT0);
  s.on_dispatch(kT0);
  // Sent now, ours arrives at 1 ms with both there: the first in service until 11, the second
  // waiting until 11 and in service until 21.
  auto q = s.own_queue(kT0, one_way, svc);
  EXPECT_DOUBLE_EQ(q.at_target, 2);
  EXPECT_DOUBLE_EQ(q.waiting, 1);
  EXPECT_EQ(q.wait, milliseconds(20));
  // The first one's reply comes at 12 ms: a request sent then (arriving at 13) finds the second
  // in service since 11, until 21.
  s.on_result(kSmall, Outcome::kOk, milliseconds(12), milliseconds(10), at(milliseconds(12)));
  q = s.own_queue(at(milliseconds(12)), one_way, svc);
  EXPECT_DOUBLE_EQ(q.at_target, 1);
  EXPECT_DOUBLE_EQ(q.waiting, 0);
  EXPECT_EQ(q.wait, milliseconds(8));
}

TEST(TargetState, OwnQueueCountsAnOverdueRequestUntilItsReplyComes) {
  TargetState s(edge(1));
  const Duration one_way = milliseconds(1), svc = milliseconds(10);
  s.on_dispatch(kT0);
  // Modelled to end at 11 ms; at 50 ms there is still no reply: it is slow, or on its way.
  auto q = s.own_queue(at(milliseconds(50)), one_way, svc);
  EXPECT_DOUBLE_EQ(q.at_target, 1);
  EXPECT_EQ(q.wait, Duration::zero());  // how much longer it takes is not known
  s.on_result(kSmall, Outcome::kOk, milliseconds(51), at(milliseconds(51)));
  q = s.own_queue(at(milliseconds(51)), one_way, svc);
  EXPECT_DOUBLE_EQ(q.at_target, 0);
}

TEST(TargetState, OwnQueueOnARequestStillOnItsWayOut) {
  TargetState s(edge(1));
  s.on_dispatch(kT0);
  // Sent at 0, it reaches the target at 5 ms; ours, sent at 1 ms, reaches it at 6 ms.
  auto q = s.own_queue(at(milliseconds(1)), milliseconds(5), milliseconds(10));
  EXPECT_DOUBLE_EQ(q.at_target, 1);
  EXPECT_EQ(q.wait, milliseconds(9));  // 5 + 10 - 6
}

TEST(TargetState, OwnQueueBeyondItsRingCountsTheRestAsWaiting) {
  TargetState s(edge(1));
  for (int i = 0; i < 40; ++i) s.on_dispatch(kT0);
  auto q = s.own_queue(kT0, milliseconds(1), milliseconds(1));
  EXPECT_DOUBLE_EQ(q.at_target, 40);
  EXPECT_GE(q.waiting, 39);
  for (int i = 0; i < 40; ++i) s.on_result(kSmall, Outcome::kError, milliseconds(1), at(milliseconds(2)));
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_DOUBLE_EQ(s.own_queue(at(milliseconds(2)), milliseconds(1), milliseconds(1)).at_target, 0);
}

TEST(TargetState, LearntLatenciesAreForgottenAfterAnIdleSpell) {
  TargetState s(edge());
  for (int i = 0; i < 10; ++i) {
    s.on_dispatch(at(milliseconds(i)));
    s.on_result(kSmall, Outcome::kTimeout, milliseconds(90), at(milliseconds(i + 90)));
  }
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(88));  // 90 less the 2-ms RTT prior
  EXPECT_FALSE(s.forget_if_idle(at(seconds(5)), seconds(10)));  // not idle long enough
  s.on_dispatch(at(seconds(20)));
  EXPECT_FALSE(s.forget_if_idle(at(seconds(40)), seconds(10)));  // one still in flight
  s.on_result(kSmall, Outcome::kTimeout, milliseconds(90), at(seconds(20)));
  EXPECT_TRUE(s.forget_if_idle(at(seconds(40)), seconds(10)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), kPrior);
  EXPECT_EQ(s.rtt_p95(), milliseconds(2));
  EXPECT_FALSE(s.forget_if_idle(at(seconds(80)), seconds(10)));  // nothing left to forget
}

// A target that had a request every 5 ms and then none: with gaps = 20 its learnt figures go
// after 20 x 5 = 100 ms idle, not after the whole `after`.
TEST(TargetState, ABusyTargetLeftOutForgetsAfterItsUsualIntervals) {
  TargetState s(edge());
  for (int i = 0; i < 40; ++i) {
    s.on_dispatch(at(milliseconds(5 * i)));
    s.on_result(kSmall, Outcome::kTimeout, milliseconds(60), at(milliseconds(5 * i + 1)));
  }
  const TimePoint last = at(milliseconds(5 * 39 + 1));
  EXPECT_FALSE(s.forget_if_idle(last + milliseconds(99), seconds(10), 20));
  EXPECT_FALSE(s.forget_if_idle(last + milliseconds(150), seconds(10), 0));  // the gaps rule off
  EXPECT_FALSE(s.forget_if_idle(last + milliseconds(150), seconds(10), 40));  // 40 x 5 = 200 ms
  EXPECT_TRUE(s.forget_if_idle(last + milliseconds(101), seconds(10), 20));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), kPrior);

  // The 300-ms interval that ends the spell counts only up to the 100-ms limit that ended it:
  // the usual interval becomes 5 + 0.1 x 95 = 14.5 ms, then four more 5-ms intervals bring it
  // to about 11.2 ms, a limit of about 225 ms (uncounted it would be 100 ms; counted whole,
  // about 490 ms).
  TimePoint t = last + milliseconds(300);
  for (int i = 0; i < 5; ++i, t += milliseconds(5)) {
    s.on_dispatch(t);
    s.on_result(kSmall, Outcome::kTimeout, milliseconds(60), t + milliseconds(1));
  }
  const TimePoint again = t - milliseconds(4);
  EXPECT_FALSE(s.forget_if_idle(again + milliseconds(215), seconds(10), 20));
  EXPECT_TRUE(s.forget_if_idle(again + milliseconds(235), seconds(10), 20));
}

// A target whose traffic slows for good (one request every 500 ms after one every 5 ms) stops
// forgetting after a few spells and learns its latencies again.
TEST(TargetState, ATargetWhoseTrafficSlowsForGoodLearnsAgain) {
  TargetState s(edge());
  TimePoint t = kT0;
  for (int i = 0; i < 200; ++i, t += milliseconds(5)) {
    s.on_dispatch(t);
    s.on_result(kSmall, Outcome::kOk, milliseconds(12), t + milliseconds(1));
  }
  int forgets = 0;
  for (int i = 0; i < 40; ++i) {
    s.on_dispatch(t);
    s.on_result(kSmall, Outcome::kOk, milliseconds(12), t + milliseconds(1));
    for (int k = 1; k <= 50; ++k) forgets += s.forget_if_idle(t + milliseconds(10 * k), seconds(10), 20);
    t += milliseconds(500);
  }
  EXPECT_GE(forgets, 1);
  EXPECT_LE(forgets, 4);
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(10));  // 12 less the 2-ms RTT prior
}

// However short the usual interval, a spell under 100 ms is no reason to forget; and a target
// that sees a request a second waits the whole of `after`.
TEST(TargetState, TheGapsRuleHasAFloorAndACeiling) {
  TargetState fast(edge());
  for (int i = 0; i < 100; ++i) {
    fast.on_dispatch(at(std::chrono::microseconds(100 * i)));
    fast.on_result(kSmall, Outcome::kOk, milliseconds(1), at(std::chrono::microseconds(100 * i + 50)));
  }
  const TimePoint last = at(std::chrono::microseconds(100 * 99 + 50));
  EXPECT_FALSE(fast.forget_if_idle(last + milliseconds(50), seconds(10), 20));  // 20 x 0.1 ms < floor
  EXPECT_TRUE(fast.forget_if_idle(last + TargetState::kForgetFloor, seconds(10), 20));

  TargetState slow(edge());
  for (int i = 0; i < 5; ++i) {
    slow.on_dispatch(at(seconds(i)));
    slow.on_result(kSmall, Outcome::kOk, milliseconds(5), at(seconds(i) + milliseconds(5)));
  }
  const TimePoint end = at(seconds(4) + milliseconds(5));
  EXPECT_FALSE(slow.forget_if_idle(end + seconds(9), seconds(10), 20));
  EXPECT_TRUE(slow.forget_if_idle(end + seconds(10), seconds(10), 20));
}

TEST(TargetState, ServiceIsFlooredAtZero) {
  TargetState s(edge());  // RTT prior 2 ms, calls of 1 ms
  for (int i = 0; i < 10; ++i) s.on_result(kSmall, Outcome::kOk, milliseconds(1), at(seconds(i)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), Duration::zero());
}

TEST(TargetState, TimeoutsFeedLatencyAndErrorsDoNot) {
  TargetState s(edge());
  for (int i = 0; i < 20; ++i)
    s.on_result(kSmall, Outcome::kOk, milliseconds(12), at(milliseconds(i)));
  for (int i = 0; i < 20; ++i)
    s.on_result(kSmall, Outcome::kRefused, milliseconds(1), at(milliseconds(20 + i)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(10));  // fast refusals ignored
  for (int i = 0; i < 5; ++i)
    s.on_result(kSmall, Outcome::kTimeout, milliseconds(502), at(milliseconds(40 + i)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(500));  // 5 of 25 ≥ 5%
}

TEST(TargetState, ErrorRateReactsAndSlidesAway) {
  TargetState s(edge());  // 10-s window
  for (int i = 0; i < 8; ++i)
    s.on_result(kSmall, Outcome::kOk, milliseconds(5), at(milliseconds(i)));
  s.on_result(kSmall, Outcome::kError, milliseconds(5), at(milliseconds(8)));
  s.on_result(kSmall, Outcome::kOverloaded, milliseconds(5), at(milliseconds(9)));
  EXPECT_DOUBLE_EQ(s.error_rate(at(seconds(1))), 0.2);
  EXPECT_EQ(s.error_rate(at(seconds(11))), 0);
}

TEST(TargetState, LoadReportSetsQueueStalenessAndConcurrency) {
  TargetState s(edge(2));
  LoadReport r;
  r.in_flight = 4;
  r.queue_depth = 6;
  r.queue_capacity = 6;
  r.concurrency = 4;
  r.busy_fraction = 0.5;
  s.on_load_report(r, at(seconds(10)));
  EXPECT_EQ(s.reported_queue_depth(), 6u);
  EXPECT_EQ(s.concurrency(), 4u);
  EXPECT_TRUE(s.reported_queue_full());
  EXPECT_EQ(s.staleness(at(seconds(10))), Duration::zero());
  EXPECT_EQ(s.staleness(at(seconds(13))), seconds(3));
  EXPECT_EQ(s.staleness(at(seconds(9))), Duration::zero());  // never negative
  EXPECT_DOUBLE_EQ(s.utilization(at(seconds(10))), 10.0 / 4.0);  // 4 serving + 6 queued, 4 servers
}

TEST(TargetState, AStaleSnapshotRevertsToTheBusyFraction) {
  TargetState s(edge(2));  // report_decay 3 s
  LoadReport r;
  r.in_flight = 2;
  r.queue_depth = 8;
  r.concurrency = 2;
  r.busy_fraction = 0.5;  // mean load: 1 request of 2 servers
  s.on_load_report(r, kT0);
  EXPECT_DOUBLE_EQ(s.occupancy(kT0), 10.0);
  double prev = s.occupancy(kT0);
  for (int ms = 500; ms <= 30000; ms += 500) {
    const double occ = s.occupancy(at(milliseconds(ms)));
    EXPECT_LT(occ, prev);
    EXPECT_GT(occ, 1.0);
    prev = occ;
  }
  EXPECT_NEAR(s.occupancy(at(seconds(3))), 1 + 9 * std::exp(-1.0), 1e-9);
  EXPECT_NEAR(s.utilization(at(seconds(60))), 0.5, 1e-6);
}

TEST(TargetState, OurInFlightIsNotCountedTwice) {
  TargetState s(edge(4));
  s.on_dispatch(kT0);
  s.on_dispatch(kT0);
  LoadReport r;
  r.in_flight = 3;  // our 2 and 1 from another router
  r.concurrency = 4;
  r.busy_fraction = 0.75;
  s.on_load_report(r, kT0);
  EXPECT_DOUBLE_EQ(s.occupancy(kT0), 3.0);
  s.on_result(kSmall, Outcome::kOk, milliseconds(5), kT0);
  s.on_result(kSmall, Outcome::kOk, milliseconds(5), kT0);
  EXPECT_DOUBLE_EQ(s.occupancy(kT0), 1.0);  // the other router's one is left
  s.on_dispatch(kT0);
  EXPECT_DOUBLE_EQ(s.occupancy(kT0), 2.0);
  // Long after, the 10-s mean load (3 of 4, of which 2 ours then) plus ours now.
  EXPECT_NEAR(s.occupancy(at(seconds(100))), 1.0 + 1.0, 1e-9);
}

TEST(TargetState, ReportedServiceP95IsUsedUntilWeHaveOurOwn) {
  TargetState s(edge());
  LoadReport r;
  r.service_p95_ms = {{kSmall, 15.0}, {kLarge, -1.0}};  // a negative figure is ignored
  s.on_load_report(r, kT0);
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(15));
  EXPECT_EQ(s.service_p95(kLarge, kPrior), kPrior);
  for (int i = 0; i < 4; ++i) s.on_result(kSmall, Outcome::kOk, milliseconds(32), at(seconds(i)));
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(30));
}

TEST(TargetState, MemoryIsBoundedByTheOptions) {
  TargetStateOptions opt;
  opt.service_window = 8;
  TargetState s(edge(), opt);
  for (int i = 0; i < 1000; ++i)
    s.on_result(kSmall, Outcome::kOk, milliseconds(i < 992 ? 1000 : 12), at(milliseconds(i)));
  // Only the last 8 samples (10 ms each) are left in the window.
  EXPECT_EQ(s.service_p95(kSmall, kPrior), milliseconds(10));
}

}  // namespace
}  // namespace hir::routing
