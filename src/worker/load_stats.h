// The load maths that /v1/load reports, kept free of clocks and threads so tests drive time.
// Neither class is thread-safe: the owner (the executor) holds a lock around them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/time.h"

namespace hir::worker {

// The share of worker-thread time spent busy over the last `window` (0..1).
//
// Busy intervals land in fixed-width buckets (window / buckets wide), so memory stays bounded at
// any request rate. The bucket that straddles the window's start is prorated, assuming its busy
// time was spread evenly across it; the error is at most one bucket's worth of busy time.
class BusyWindow {
 public:
  // `start`: when the workers began; before `window` has passed, the share is over the time since.
  BusyWindow(Duration window, int buckets, int workers, TimePoint start);

  // One finished busy interval of one worker. Parts older than the window are dropped.
  void add(TimePoint begin, TimePoint end);
  // `running_since`: start times of the jobs still running, counted busy up to `now`.
  double fraction(TimePoint now, std::span<const TimePoint> running_since = {}) const;

 private:
  struct Bucket {
    int64_t index = -1;  // which bucket since start_ this slot holds now
    Duration busy{0};
  };
  int64_t index_of(TimePoint t) const;
  TimePoint bucket_begin(int64_t index) const { return start_ + width_ * index; }

  Duration window_;
  Duration width_;
  int workers_;
  TimePoint start_;
  std::vector<Bucket> slots_;  // every bucket the window touches, the straddling one included
};

// Percentiles of the last `capacity` samples (a ring), plus an all-time count.
class LatencyWindow {
 public:
  explicit LatencyWindow(size_t capacity = 1024);

  void add(double ms);
  uint64_t count() const { return count_; }
  size_t size() const { return samples_.size(); }
  // Nearest-rank percentile (core/percentile.h), q in [0, 1]; 0 with no samples. O(n log n).
  double percentile(double q) const;

 private:
  size_t capacity_;
  size_t next_ = 0;
  uint64_t count_ = 0;
  std::vector<double> samples_;
};

}  // namespace hir::worker
