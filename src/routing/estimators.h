// Bounded-memory streaming estimators for the routing core: a mean (EWMA), quantiles over a window
// of the most recent samples, and a failure rate over a sliding time window.
//
// Contracts shared by all three: memory is fixed by the constructor's arguments, never by the
// number of samples; time is passed in (no clock is read); not thread-safe — the owner (one
// TargetState) serialises access, and const methods may update a private cache (QuantileWindow),
// so even concurrent readers need the owner's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/time.h"

namespace hir::routing {

// Exponentially weighted moving average (exponential smoothing; Roberts 1959, "Control chart
// tests based on geometric moving averages"): m <- m + alpha * (x - m). The first sample seeds the
// mean, so a young estimator is not dragged towards 0. alpha in (0, 1]: larger reacts faster;
// the effective memory is about 1/alpha samples. Values outside (0, 1] are clamped.
class Ewma {
 public:
  explicit Ewma(double alpha);
  void add(double x);
  double value() const { return value_; }  // 0 while empty
  bool empty() const { return empty_; }
  void clear() { value_ = 0, empty_ = true; }

 private:
  double alpha_;
  double value_ = 0;
  bool empty_ = true;
};

// Quantiles of the most recent `capacity` samples (a sliding count window).
//
// Method: a fixed ring buffer holds the window; quantile() reads a sorted snapshot of it and
// answers by the nearest-rank rule (Hyndman & Fan 1996, definition 1: the smallest sample x with
// F_n(x) >= q), the same rule as core/percentile.h, so the router's estimates and the reports'
// figures agree. The snapshot is rebuilt lazily, only when at least max(1, count/16) samples have
// arrived since the last rebuild — so at most 1/16 of the window is unseen by a query, a rebuild
// (O(n) moves, see below; O(n log n) at worst, n <= capacity) is amortised over >= capacity/16
// adds, and a query between rebuilds is O(1). That keeps quantile() cheap enough to call for every candidate of every
// routing decision.
//
// A rebuild after a few adds does not sort the whole window again: the samples evicted since the
// last snapshot are remembered, and the new snapshot is the old one without them merged with
// the samples added (binary searches, and a memmove of each run in between) — the same sorted
// array as a sort of the window would give, so the same answers at the same moments. A rebuild after many adds (more than a quarter of the window), or once a NaN has
// been seen, sorts from scratch as before.
//
// Memory: two arrays of at most `capacity` doubles, plus two of at most capacity/4 for the
// incremental rebuild, grown on demand (a target that sees few samples costs little — it
// matters with 10,000 simulated targets). capacity 0 is treated as 1.
class QuantileWindow {
 public:
  explicit QuantileWindow(size_t capacity = 256);
  void add(double x);
  // q in [0, 1] (clamped). 0 when empty. May rebuild the cached snapshot (see above).
  double quantile(double q) const;
  // Rebuilds the snapshot now if the next quantile() would (the rule above): for a caller that
  // learns after an answer has gone out, so that the rebuild is not paid on the next request's
  // way in (docs/perf/proxy.md, "Twentieth pass"). It is a query that reads nothing: answers
  // follow the lazy rule with each refresh counted as a query. So a burst of samples between two
  // real queries is seen in steps of count/16 (at most count/16 - 1 unseen, as the rule allows),
  // where a query alone would have taken the whole burst at once.
  void refresh() const;
  size_t count() const { return ring_.size(); }  // samples in the window, <= capacity()
  size_t capacity() const { return capacity_; }
  uint64_t total_added() const { return total_; }
  void clear();  // empty again (memory kept)

 private:
  size_t capacity_;
  std::vector<double> ring_;        // size() == min(total_, capacity_)
  size_t next_ = 0;                 // where the next sample goes once the ring is full
  uint64_t total_ = 0;
  mutable std::vector<double> sorted_;  // snapshot of ring_, sorted
  mutable size_t unsorted_ = 0;         // samples added since the snapshot was taken
  // Samples overwritten in ring_ since the snapshot, while at most capacity/4 (else `resort_`).
  mutable std::vector<double> evicted_;
  mutable std::vector<double> added_;  // rebuild scratch: the samples added, sorted
  mutable bool resort_ = false;        // the next rebuild sorts from scratch
  bool nan_ = false;                   // a NaN was added since clear(): always sort from scratch

  void rebuild() const;
};

// Failure share over a sliding time window, kept as `buckets` sub-windows of window/buckets each
// (the bucketed rolling window of Hystrix's HealthCounts and Envoy's outlier detection). A query
// at `now` counts the bucket holding `now` and the buckets-1 before it, so it covers between
// (buckets-1)/buckets of the window and the whole window: more buckets, finer sliding.
// Memory: `buckets` counters. buckets < 1 is treated as 1; a window shorter than one
// nanosecond per bucket is widened to that. A sample older than the data in its bucket's slot
// (time running backwards by more than a window) is dropped rather than erasing newer data.
class RateWindow {
 public:
  RateWindow(Duration window, int buckets);
  void add(bool failure, TimePoint now);
  double failure_rate(TimePoint now) const;  // failures / total; 0 with no samples
  uint64_t total(TimePoint now) const;       // samples in the window
  uint64_t failures(TimePoint now) const;

 private:
  struct Bucket {
    int64_t epoch = INT64_MIN;  // which width-sized slice of time the counts belong to
    uint64_t total = 0;
    uint64_t failures = 0;
  };
  int64_t epoch_of(TimePoint t) const;
  template <class F>
  void for_live(TimePoint now, F&& f) const;

  Duration width_;
  std::vector<Bucket> buckets_;
};

}  // namespace hir::routing
