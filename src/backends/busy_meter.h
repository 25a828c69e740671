// The share of recent time a device spent with one of our requests on it: the busy_fraction of
// its LoadReport (the device itself reports no such figure). Ten one-second buckets, so memory
// is fixed and old load ages out within ten seconds, the window LoadReport defines.
#pragma once

#include <array>
#include <cstdint>

#include "core/time.h"

namespace hir::backends {

class BusyMeter {
 public:
  static constexpr int kBuckets = 10;
  static constexpr Duration kBucket = std::chrono::seconds(1);

  explicit BusyMeter(TimePoint start = {}) : start_(start) {}

  // Counts a busy span. The whole span is charged to the bucket of `end`: a request lasts
  // milliseconds against one-second buckets, so the skew is negligible and the code stays simple.
  void add(TimePoint begin, TimePoint end) {
    if (end <= begin) return;
    Slot& s = slot(end);
    s.busy += end - begin;
  }

  // Busy share over the last ten seconds (or since start when younger), counting `open_since`
  // as busy until now when a request is in flight (pass TimePoint{} when none is).
  double fraction(TimePoint now, TimePoint open_since = {}) const {
    const int64_t sec = second(now);
    Duration busy{};
    for (const Slot& s : slots_)
      if (s.sec > sec - kBuckets && s.sec <= sec) busy += s.busy;
    if (open_since != TimePoint{} && open_since < now) busy += now - open_since;
    Duration window = std::chrono::duration_cast<Duration>(kBucket * kBuckets);
    if (now - start_ < window) window = now - start_;
    if (window <= Duration::zero()) return 0;
    const double f = static_cast<double>(busy.count()) / static_cast<double>(window.count());
    return f > 1 ? 1 : f;
  }

 private:
  struct Slot {
    int64_t sec = -1;
    Duration busy{};
  };
  static int64_t second(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  }
  Slot& slot(TimePoint t) {
    const int64_t sec = second(t);
    Slot& s = slots_[static_cast<size_t>(sec % kBuckets)];
    if (s.sec != sec) s = Slot{sec, {}};
    return s;
  }

  TimePoint start_;
  std::array<Slot, kBuckets> slots_{};
};

}  // namespace hir::backends
