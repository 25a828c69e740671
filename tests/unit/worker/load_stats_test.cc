#include "worker/load_stats.h"

#include <gtest/gtest.h>

namespace hir::worker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint t0 = TimePoint() + seconds(1000);

TEST(BusyWindow, EmptyIsIdle) {
  BusyWindow w(seconds(10), 100, 1, t0);
  EXPECT_DOUBLE_EQ(w.fraction(t0), 0.0);
  EXPECT_DOUBLE_EQ(w.fraction(t0 + seconds(5)), 0.0);
}

TEST(BusyWindow, BeforeAFullWindowUsesTheTimeSinceStart) {
  BusyWindow w(seconds(10), 100, 1, t0);
  w.add(t0, t0 + seconds(1));
  EXPECT_NEAR(w.fraction(t0 + seconds(2)), 0.5, 1e-9);
}

TEST(BusyWindow, SharesCapacityAcrossWorkers) {
  BusyWindow w(seconds(10), 100, 4, t0);
  w.add(t0 + seconds(10), t0 + seconds(20));  // one of four workers busy the whole window
  EXPECT_NEAR(w.fraction(t0 + seconds(20)), 0.25, 1e-9);
}

TEST(BusyWindow, OldBusyTimeSlidesOut) {
  BusyWindow w(seconds(10), 100, 1, t0);
  w.add(t0, t0 + seconds(5));
  EXPECT_NEAR(w.fraction(t0 + seconds(10)), 0.5, 1e-9);
  EXPECT_NEAR(w.fraction(t0 + seconds(12)), 0.3, 1e-9);  // [2 s, 12 s): 3 s of it busy
  EXPECT_NEAR(w.fraction(t0 + seconds(15)), 0.0, 1e-9);
  EXPECT_NEAR(w.fraction(t0 + seconds(100)), 0.0, 1e-9);
}

TEST(BusyWindow, ProratesTheBucketStraddlingTheWindowStart) {
  BusyWindow w(seconds(10), 10, 1, t0);  // 1 s buckets
  w.add(t0 + seconds(20), t0 + seconds(21));  // the whole of bucket 20
  // At 30.5 s the window starts at 20.5 s: half of bucket 20 is inside, assumed evenly busy.
  EXPECT_NEAR(w.fraction(t0 + milliseconds(30500)), 0.05, 1e-9);
}

TEST(BusyWindow, LongIntervalKeepsOnlyTheWindow) {
  BusyWindow w(seconds(10), 100, 1, t0);
  w.add(t0, t0 + seconds(60));
  EXPECT_NEAR(w.fraction(t0 + seconds(60)), 1.0, 1e-9);
}

TEST(BusyWindow, CountsRunningJobsUpToNow) {
  BusyWindow w(seconds(10), 100, 2, t0 - seconds(100));
  const TimePoint running[] = {t0 - seconds(20), t0 - seconds(5)};
  // 10 s (clipped to the window) + 5 s over 2 workers × 10 s.
  EXPECT_NEAR(w.fraction(t0, running), 0.75, 1e-9);
}

TEST(BusyWindow, LateReportsOfStaleIntervalsAreDropped) {
  BusyWindow w(seconds(10), 10, 1, t0);
  w.add(t0 + seconds(50), t0 + seconds(51));
  w.add(t0 + seconds(38), t0 + seconds(39));  // 12 slots: bucket 38 shares bucket 50's slot
  EXPECT_NEAR(w.fraction(t0 + seconds(55)), 0.1, 1e-9);
}

TEST(BusyWindow, NeverAboveOne) {
  BusyWindow w(seconds(10), 100, 1, t0);
  w.add(t0, t0 + seconds(10));
  w.add(t0, t0 + seconds(10));  // a double report (a bug elsewhere) must not read as 200%
  EXPECT_DOUBLE_EQ(w.fraction(t0 + seconds(10)), 1.0);
}

TEST(LatencyWindow, NearestRankPercentiles) {
  LatencyWindow w(1024);
  EXPECT_EQ(w.percentile(0.5), 0.0);
  for (int i = 1; i <= 100; ++i) w.add(i);
  EXPECT_EQ(w.count(), 100u);
  EXPECT_DOUBLE_EQ(w.percentile(0.50), 50);
  EXPECT_DOUBLE_EQ(w.percentile(0.95), 95);
  EXPECT_DOUBLE_EQ(w.percentile(1.0), 100);
  EXPECT_DOUBLE_EQ(w.percentile(0.0), 1);
}

TEST(LatencyWindow, KeepsOnlyTheLastSamples) {
  LatencyWindow w(4);
  for (double v : {100.0, 100.0, 100.0, 100.0, 1.0, 2.0, 3.0, 4.0}) w.add(v);
  EXPECT_EQ(w.count(), 8u);
  EXPECT_EQ(w.size(), 4u);
  EXPECT_DOUBLE_EQ(w.percentile(1.0), 4.0);
  EXPECT_DOUBLE_EQ(w.percentile(0.5), 2.0);
}

}  // namespace
}  // namespace hir::worker
