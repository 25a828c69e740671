#include "routing/estimators.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <vector>

#include "core/percentile.h"
#include "core/rng.h"

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0{};  // simulated time
TimePoint at(Duration d) { return kT0 + d; }

double exponential(Rng& rng, double mean) { return -mean * std::log(1.0 - rng.uniform()); }

// ---- Ewma ----

TEST(Ewma, FirstSampleSeedsThenSmooths) {
  Ewma e(0.5);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.value(), 0);
  e.add(10);
  EXPECT_FALSE(e.empty());
  EXPECT_DOUBLE_EQ(e.value(), 10);  // not 5: a young mean is not dragged towards 0
  e.add(20);
  EXPECT_DOUBLE_EQ(e.value(), 15);
  e.add(20);
  EXPECT_DOUBLE_EQ(e.value(), 17.5);
}

TEST(Ewma, AlphaOneTracksTheLastSampleAndBadAlphaIsClamped) {
  Ewma last(1.0);
  last.add(3);
  last.add(7);
  EXPECT_DOUBLE_EQ(last.value(), 7);
  Ewma big(5.0);  // clamped to 1
  big.add(3);
  big.add(7);
  EXPECT_DOUBLE_EQ(big.value(), 7);
}

TEST(Ewma, ConvergesToTheMeanOfAStationaryStream) {
  Rng rng(7);
  Ewma e(0.01);
  for (int i = 0; i < 20000; ++i) e.add(exponential(rng, 10.0));
  // Variance of an EWMA of iid samples is sigma^2 * alpha / (2 - alpha): sd ≈ 10 * 0.0709 = 0.71.
  // 3 ms is over 4 sd.
  EXPECT_NEAR(e.value(), 10.0, 3.0);
}

// ---- QuantileWindow ----

TEST(QuantileWindow, EmptyAnswersZeroAndCapacityZeroMeansOne) {
  QuantileWindow w(0);
  EXPECT_EQ(w.capacity(), 1u);
  EXPECT_EQ(w.count(), 0u);
  EXPECT_EQ(w.quantile(0.95), 0);
  w.add(4);
  w.add(9);
  EXPECT_EQ(w.count(), 1u);
  EXPECT_EQ(w.quantile(0.5), 9);
}

TEST(QuantileWindow, CapacityIsRespectedAndKeepsTheMostRecentSamples) {
  QuantileWindow w(100);
  for (int i = 1; i <= 10000; ++i) {
    w.add(i);
    ASSERT_LE(w.count(), 100u);
  }
  EXPECT_EQ(w.count(), 100u);
  EXPECT_EQ(w.total_added(), 10000u);
  EXPECT_EQ(w.quantile(0), 9901);
  EXPECT_EQ(w.quantile(1), 10000);
  EXPECT_EQ(w.quantile(0.5), 9950);   // nearest rank: the 50th of 100
  EXPECT_EQ(w.quantile(0.95), 9995);  // the 95th
}

TEST(QuantileWindow, ExactNearestRankOnAFreshSnapshot) {
  Rng rng(42);
  QuantileWindow w(256);
  std::vector<double> all;
  for (int i = 0; i < 1000; ++i) {
    double x = exponential(rng, 5.0);
    w.add(x);
    all.push_back(x);
  }
  std::vector<double> window(all.end() - 256, all.end());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0}) {
    std::vector<double> copy = window;
    EXPECT_EQ(w.quantile(q), percentile(copy, q)) << "q=" << q;
  }
}

// The incremental rebuild (the old snapshot minus the evicted samples, merged with the added
// ones) answers exactly as the plain lazy rebuild did: a full sort of the window at the same
// moments. Small integer samples make many ties; queries come at random intervals, so rebuilds
// see anything from one add to many (the from-scratch path), in growing and full windows.
TEST(QuantileWindow, IncrementalRebuildMatchesAFullSort) {
  Rng rng(11);
  for (size_t cap : {1u, 3u, 4u, 16u, 64u, 128u, 256u}) {
    QuantileWindow w(cap);
    std::deque<double> ring;     // the window
    std::vector<double> sorted;  // the reference snapshot
    size_t unsorted = 0;
    for (int i = 0; i < 20000; ++i) {
      const double x = rng.below(4) == 0 ? 0.25 * rng.below(40) : 100 * rng.uniform();
      w.add(x);
      ring.push_back(x);
      if (ring.size() > cap) ring.pop_front();
      ++unsorted;
      if (rng.below(1 + rng.below(40)) != 0) continue;
      if (i % 5000 == 4999) {  // now and then start over
        w.clear();
        ring.clear();
        sorted.clear();
        unsorted = 0;
        continue;
      }
      // The reference: the lazy rule of the header, with a full sort.
      if (sorted.empty() || unsorted >= std::max<size_t>(1, ring.size() / 16)) {
        sorted.assign(ring.begin(), ring.end());
        std::sort(sorted.begin(), sorted.end());
        unsorted = 0;
      }
      for (double q : {0.0, 0.05, 0.5, 0.95, 1.0}) {
        const auto rank = std::clamp<size_t>(
            static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))), 1, sorted.size());
        const double want = q <= 0 ? sorted.front() : q >= 1 ? sorted.back() : sorted[rank - 1];
        ASSERT_EQ(w.quantile(q), want) << "cap " << cap << " sample " << i << " q " << q;
      }
    }
  }
}

// Queried after every sample, the answer is the exact nearest-rank quantile of the window as it
// was at most max(1, count/16) samples ago — the lazy-refresh bound the header promises.
TEST(QuantileWindow, LazyRefreshLagsAtMostASixteenthOfTheWindow) {
  Rng rng(3);
  const size_t cap = 256;
  QuantileWindow w(cap);
  std::deque<double> recent;
  std::deque<double> exact_history;  // exact p95 after each of the last adds
  for (int i = 0; i < 3000; ++i) {
    double x = 1 + 99 * rng.uniform();
    w.add(x);
    recent.push_back(x);
    if (recent.size() > cap) recent.pop_front();
    std::vector<double> copy(recent.begin(), recent.end());
    exact_history.push_back(percentile(copy, 0.95));
    if (exact_history.size() > 17) exact_history.pop_front();
    const double got = w.quantile(0.95);
    const size_t lag = std::max<size_t>(1, recent.size() / 16);
    bool found = false;
    for (size_t k = 0; k < std::min(lag, exact_history.size()) && !found; ++k)
      found = exact_history[exact_history.size() - 1 - k] == got;
    ASSERT_TRUE(found) << "sample " << i << " answer " << got;
  }
}

// refresh() is a query that reads nothing: a window refreshed after every add answers as one
// queried after every add, whenever either is asked.
TEST(QuantileWindow, ARefreshIsAQueryThatReadsNothing) {
  Rng rng(5);
  QuantileWindow refreshed(128), queried(128), lazy(128);
  bool lazy_differed = false;
  for (int i = 0; i < 5000; ++i) {
    const double x = 100 * rng.uniform();
    refreshed.add(x);
    queried.add(x);
    lazy.add(x);
    refreshed.refresh();
    (void)queried.quantile(0.5);
    if (rng.below(7) != 0) continue;
    for (double q : {0.0, 0.5, 0.95, 1.0}) {
      ASSERT_EQ(refreshed.quantile(q), queried.quantile(q)) << "sample " << i << " q " << q;
      lazy_differed |= lazy.quantile(q) != refreshed.quantile(q);
    }
  }
  EXPECT_TRUE(lazy_differed);  // the refreshes did change what the snapshot holds when asked
}

TEST(QuantileWindow, ASpikeShowsOnceASixteenthOfTheWindowIsNew) {
  QuantileWindow w(256);
  for (int i = 0; i < 256; ++i) w.add(1);
  EXPECT_EQ(w.quantile(1), 1);
  for (int i = 0; i < 15; ++i) w.add(1000);
  EXPECT_EQ(w.quantile(1), 1);  // cached: 15 < 256/16
  w.add(1000);
  EXPECT_EQ(w.quantile(1), 1000);
  EXPECT_EQ(w.quantile(0.95), 1000);  // 16 of 256 = 6.25% of the window is the spike
}

// Against the distribution's true quantiles, window 1024. Tolerances are about 4 standard errors
// of a sample quantile, sqrt(p(1-p)/n) / f(x_p) (asymptotic normality, e.g. David & Nagaraja,
// Order Statistics, §10.2).
TEST(QuantileWindow, TracksTrueQuantilesOfSeededDistributions) {
  Rng rng(2024);
  const double n = 1024;
  {
    QuantileWindow w(1024);
    for (int i = 0; i < 5000; ++i) w.add(rng.uniform());
    // Uniform(0,1): f = 1; se(p95) = sqrt(.95*.05/1024) = 0.0068; se(p50) = 0.0156.
    EXPECT_NEAR(w.quantile(0.95), 0.95, 4 * std::sqrt(0.95 * 0.05 / n));
    EXPECT_NEAR(w.quantile(0.5), 0.5, 4 * std::sqrt(0.25 / n));
  }
  {
    QuantileWindow w(1024);
    for (int i = 0; i < 5000; ++i) w.add(exponential(rng, 10.0));
    // Exponential(mean 10): x_p = -10 ln(1-p); f(x_p) = (1-p)/10.
    const double p95 = -10 * std::log(0.05), p50 = 10 * std::log(2.0);
    EXPECT_NEAR(w.quantile(0.95), p95, 4 * std::sqrt(0.95 * 0.05 / n) / (0.05 / 10));
    EXPECT_NEAR(w.quantile(0.5), p50, 4 * std::sqrt(0.25 / n) / (0.5 / 10));
  }
}

TEST(QuantileWindow, FollowsAShiftInTheDistributionWithinOneWindow) {
  Rng rng(11);
  QuantileWindow w(256);
  for (int i = 0; i < 1000; ++i) w.add(10 + rng.uniform());
  EXPECT_LT(w.quantile(0.95), 11);
  for (int i = 0; i < 256; ++i) w.add(50 + rng.uniform());
  EXPECT_GE(w.quantile(0.05), 50);  // the old regime has left the window entirely
}

// ---- RateWindow ----

TEST(RateWindow, EmptyIsZero) {
  RateWindow r(seconds(10), 10);
  EXPECT_EQ(r.failure_rate(kT0), 0);
  EXPECT_EQ(r.total(kT0), 0u);
}

TEST(RateWindow, CountsFailuresAndTotal) {
  RateWindow r(seconds(10), 10);
  for (int i = 0; i < 3; ++i) r.add(true, at(milliseconds(100 * i)));
  r.add(false, at(milliseconds(900)));
  EXPECT_EQ(r.total(at(seconds(1))), 4u);
  EXPECT_EQ(r.failures(at(seconds(1))), 3u);
  EXPECT_DOUBLE_EQ(r.failure_rate(at(seconds(1))), 0.75);
}

TEST(RateWindow, ASampleLeavesAfterOneWindow) {
  RateWindow r(seconds(10), 10);  // 1-s buckets
  r.add(true, at(milliseconds(500)));
  EXPECT_EQ(r.total(at(milliseconds(9999))), 1u);  // bucket 0 is still among 0..9
  EXPECT_EQ(r.total(at(seconds(10))), 0u);         // buckets 1..10 now
  EXPECT_EQ(r.failure_rate(at(seconds(10))), 0);
}

TEST(RateWindow, RateSlidesDownOnceFailuresStop) {
  RateWindow r(seconds(10), 10);
  // One sample every 100 ms; failures for the first 15 s, then successes.
  for (int i = 0; i < 150; ++i) r.add(true, at(milliseconds(100 * i)));
  EXPECT_DOUBLE_EQ(r.failure_rate(at(milliseconds(14950))), 1.0);
  double prev = 1.0;
  for (int i = 150; i < 300; ++i) {
    const TimePoint t = at(milliseconds(100 * i));
    r.add(false, t);
    const double rate = r.failure_rate(t);
    EXPECT_LE(rate, prev) << "at " << i;
    prev = rate;
    // A window holds 90..100 samples, so the total stays bounded whatever the history.
    EXPECT_LE(r.total(t), 100u);
    // At 20 s the buckets for 11..20 s are live: 40 failures (11.0..14.9 s) in 91 samples.
    if (i == 200) {
      EXPECT_NEAR(rate, 40.0 / 91.0, 1e-12);
    }
  }
  EXPECT_EQ(r.failure_rate(at(seconds(25) + milliseconds(1))), 0);
}

TEST(RateWindow, WorksBeforeTheClockEpochAndAcrossIt) {
  RateWindow r(seconds(1), 4);
  const TimePoint t = kT0 - milliseconds(100);
  r.add(true, t);
  r.add(false, kT0 + milliseconds(100));
  EXPECT_EQ(r.total(kT0 + milliseconds(100)), 2u);
  EXPECT_DOUBLE_EQ(r.failure_rate(kT0 + milliseconds(100)), 0.5);
}

TEST(RateWindow, TimeRunningBackwardsDoesNotEraseNewerData) {
  RateWindow r(seconds(4), 4);
  r.add(false, at(seconds(10)));
  r.add(true, at(seconds(2)));  // same slot (2 ≡ 10 mod 4), but a window older: dropped
  EXPECT_EQ(r.total(at(seconds(10))), 1u);
  EXPECT_EQ(r.failure_rate(at(seconds(10))), 0);
}

TEST(RateWindow, DegenerateArgumentsAreMadeSafe) {
  RateWindow r(Duration::zero(), 0);  // one bucket, one nanosecond wide
  r.add(true, kT0);
  EXPECT_EQ(r.total(kT0), 1u);
  EXPECT_EQ(r.total(kT0 + Duration(1)), 0u);
}

}  // namespace
}  // namespace hir::routing
