#include "routing/predict.h"

#include <gtest/gtest.h>

#include <chrono>

namespace hir::routing {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0{};  // simulated time
TimePoint at(Duration d) { return kT0 + d; }

TargetInfo target(uint32_t concurrency) {
  TargetInfo t;
  t.name = "edge";
  t.expected_rtt = milliseconds(3);
  t.concurrency = concurrency;
  return t;
}

LoadReport report(uint32_t in_flight, uint32_t queue, uint32_t concurrency, double busy = 0) {
  LoadReport r;
  r.in_flight = in_flight;
  r.queue_depth = queue;
  r.concurrency = concurrency;
  r.busy_fraction = busy;
  return r;
}

constexpr VariantIndex kV = 0;
const Duration kService = milliseconds(10);

TEST(Predict, AnIdleTargetCostsRttPlusService) {
  const auto t = target(2);
  TargetState s(t);
  const auto p = predict_latency(s, t, kV, kService, kT0);
  EXPECT_EQ(p.rtt, milliseconds(3));
  EXPECT_EQ(p.service, kService);
  EXPECT_EQ(p.queue_wait, Duration::zero());
  EXPECT_EQ(p.ahead, 0);
  EXPECT_EQ(p.total, milliseconds(13));
  EXPECT_EQ(predict_latency_p95(s, t, kV, kService, kT0), milliseconds(13));
}

TEST(Predict, QueueWaitFollowsTheFormula) {
  const auto t = target(2);
  TargetState s(t);
  s.on_load_report(report(2, 3, 2), kT0);  // both servers busy, 3 queued
  const auto p = predict_latency(s, t, kV, kService, kT0);
  EXPECT_DOUBLE_EQ(p.ahead, 4.0);                 // 5 - 2 + 1
  EXPECT_EQ(p.queue_wait, milliseconds(20));      // 4 × 10 ms / 2
  EXPECT_EQ(p.total, milliseconds(3 + 20 + 10));
}

TEST(Predict, OurOwnInFlightBeyondConcurrencyQueues) {
  const auto t = target(1);  // an MCU: one at a time
  TargetState s(t);
  EXPECT_EQ(predict_latency(s, t, kV, kService, kT0).queue_wait, Duration::zero());
  for (int i = 0; i < 3; ++i) s.on_dispatch(kT0);
  const auto p = predict_latency(s, t, kV, kService, kT0);
  EXPECT_DOUBLE_EQ(p.ahead, 3.0);
  EXPECT_EQ(p.queue_wait, milliseconds(30));
}

TEST(Predict, MonotoneInQueueDepth) {
  const auto t = target(4);
  Duration prev{};
  for (uint32_t q = 0; q <= 64; ++q) {
    TargetState s(t);
    s.on_load_report(report(4, q, 4), kT0);
    const Duration d = predict_latency_p95(s, t, kV, kService, kT0);
    if (q > 0) {
      EXPECT_GT(d, prev) << "queue " << q;  // every queued request adds S/c
    }
    prev = d;
  }
}

TEST(Predict, MonotoneInServiceTime) {
  const auto t = target(2);
  TargetState s(t);
  s.on_load_report(report(2, 5, 2), kT0);
  Duration prev{};
  for (int ms = 1; ms <= 200; ++ms) {
    const Duration d = predict_latency_p95(s, t, kV, milliseconds(ms), kT0);
    EXPECT_GT(d, prev) << ms;
    prev = d;
  }
}

TEST(Predict, MeasuredServiceTimeReplacesThePrior) {
  const auto t = target(1);
  TargetState s(t);
  for (int i = 0; i < 8; ++i) s.on_result(kV, Outcome::kOk, milliseconds(43), at(seconds(i)));
  EXPECT_EQ(predict_latency(s, t, kV, kService, at(seconds(8))).service, milliseconds(40));
}

TEST(Predict, AStaleQueueCountsForLessThanAFreshOne) {
  const auto t = target(2);
  TargetState s(t);
  s.on_load_report(report(2, 20, 2, 0.5), kT0);
  const Duration fresh = predict_latency_p95(s, t, kV, kService, kT0);
  const Duration later = predict_latency_p95(s, t, kV, kService, at(seconds(5)));
  const Duration old = predict_latency_p95(s, t, kV, kService, at(seconds(120)));
  EXPECT_GT(fresh, later);
  EXPECT_GT(later, old);
  // Fully aged: the mean load of 1 busy server of 2 leaves one free: no wait.
  EXPECT_EQ(old, milliseconds(13));
}

TEST(Predict, ConcurrencyFromTheTargetInfoWhenNoReport) {
  const auto t = target(4);
  TargetState s(t);
  for (int i = 0; i < 6; ++i) s.on_dispatch(kT0);
  const auto p = predict_latency(s, t, kV, kService, kT0);
  EXPECT_DOUBLE_EQ(p.ahead, 3.0);              // 6 - 4 + 1
  // Our six were all sent now: four hold the threads for 10 ms, then two of the four freed
  // threads go to the fifth and sixth, and ours takes a third.
  EXPECT_EQ(p.queue_wait, milliseconds(10));
}

TEST(Predict, AnUnknownServiceTimeSaturatesInsteadOfWrapping) {
  const auto t = target(1);
  TargetState s(t);
  s.on_load_report(report(1, 10, 1), kT0);
  EXPECT_EQ(predict_latency_p95(s, t, kV, Duration::max(), kT0), Duration::max());
}

}  // namespace
}  // namespace hir::routing
