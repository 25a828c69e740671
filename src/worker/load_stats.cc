#include "worker/load_stats.h"

#include <algorithm>
#include <cmath>

#include "core/percentile.h"

namespace hir::worker {

BusyWindow::BusyWindow(Duration window, int buckets, int workers, TimePoint start)
    : window_(window),
      width_(window / std::max(buckets, 1)),
      workers_(std::max(workers, 1)),
      start_(start) {
  if (width_ <= Duration::zero()) width_ = Duration(1);
  // A window that is not a whole number of buckets spans one more; +1 keeps the straddling one.
  slots_.resize(static_cast<size_t>(window_ / width_) + 2);
}

int64_t BusyWindow::index_of(TimePoint t) const {
  if (t <= start_) return 0;
  return (t - start_) / width_;
}

void BusyWindow::add(TimePoint begin, TimePoint end) {
  begin = std::max(begin, start_);
  if (end <= begin) return;
  const int64_t last = index_of(end);
  const auto n = static_cast<int64_t>(slots_.size());
  // Only the newest slots.size() buckets are kept, so older parts of a long interval are dropped.
  for (int64_t i = std::max(index_of(begin), last - n + 1); i <= last; ++i) {
    Bucket& b = slots_[static_cast<size_t>(i % n)];
    if (b.index > i) continue;  // the slot already holds a newer bucket: this part is stale
    if (b.index < i) b = Bucket{i, Duration::zero()};
    const TimePoint lo = std::max(begin, bucket_begin(i));
    const TimePoint hi = std::min(end, bucket_begin(i + 1));
    if (hi > lo) b.busy += hi - lo;
  }
}

double BusyWindow::fraction(TimePoint now, std::span<const TimePoint> running_since) const {
  const TimePoint ws = std::max(start_, now - window_);
  const Duration span = now - ws;
  if (span <= Duration::zero()) return 0.0;
  const auto n = static_cast<int64_t>(slots_.size());
  double busy = 0;  // in nanoseconds
  const int64_t first = index_of(ws);
  for (int64_t i = first; i <= index_of(now); ++i) {
    const Bucket& b = slots_[static_cast<size_t>(i % n)];
    if (b.index != i) continue;
    double share = 1.0;
    if (i == first && bucket_begin(i) < ws)  // the straddling bucket: keep the part in the window
      share = static_cast<double>((bucket_begin(i + 1) - ws).count()) /
              static_cast<double>(width_.count());
    busy += static_cast<double>(b.busy.count()) * share;
  }
  for (TimePoint s : running_since)
    if (now > s) busy += static_cast<double>((now - std::max(s, ws)).count());
  const double capacity = static_cast<double>(span.count()) * workers_;
  return std::clamp(busy / capacity, 0.0, 1.0);
}

LatencyWindow::LatencyWindow(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
  samples_.reserve(capacity_);
}

void LatencyWindow::add(double ms) {
  ++count_;
  if (samples_.size() < capacity_) {
    samples_.push_back(ms);
    return;
  }
  samples_[next_] = ms;
  next_ = (next_ + 1) % capacity_;
}

double LatencyWindow::percentile(double q) const {
  std::vector<double> v = samples_;  // hir::percentile sorts in place
  return hir::percentile(v, std::clamp(q, 0.0, 1.0));
}

}  // namespace hir::worker
