#include "routing/estimators.h"

#include <algorithm>
#include <cmath>

namespace hir::routing {

// ---- Ewma ----

Ewma::Ewma(double alpha) : alpha_(std::isnan(alpha) ? 1.0 : std::clamp(alpha, 1e-9, 1.0)) {}

void Ewma::add(double x) {
  if (empty_) {
    value_ = x;
    empty_ = false;
    return;
  }
  value_ += alpha_ * (x - value_);
}

// ---- QuantileWindow ----

QuantileWindow::QuantileWindow(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}

void QuantileWindow::add(double x) {
  if (ring_.size() < capacity_) {
    ring_.push_back(x);
  } else {
    ring_[next_] = x;
    next_ = (next_ + 1) % capacity_;
  }
  ++total_;
  ++unsorted_;
}

void QuantileWindow::clear() {
  ring_.clear();
  sorted_.clear();
  next_ = 0;
  unsorted_ = 0;
}

double QuantileWindow::quantile(double q) const {
  if (ring_.empty()) return 0;
  // Rebuild when more than 1/16 of the window is new since the last snapshot (see the header):
  // the threshold grows with the window, so a young window is exact and a full one of 256
  // re-sorts every 16 samples.
  const size_t refresh_every = std::max<size_t>(1, ring_.size() / 16);
  if (sorted_.empty() || unsorted_ >= refresh_every) {
    sorted_.assign(ring_.begin(), ring_.end());
    std::sort(sorted_.begin(), sorted_.end());
    unsorted_ = 0;
  }
  if (!(q > 0)) return sorted_.front();  // also catches NaN
  if (q >= 1) return sorted_.back();
  // Nearest rank: the ceil(q*n)-th smallest (1-based).
  const auto n = static_cast<double>(sorted_.size());
  auto rank = static_cast<size_t>(std::ceil(q * n));
  rank = std::clamp<size_t>(rank, 1, sorted_.size());
  return sorted_[rank - 1];
}

// ---- RateWindow ----

RateWindow::RateWindow(Duration window, int buckets)
    : width_(std::max<Duration::rep>(1, window.count() / std::max(1, buckets))),
      buckets_(static_cast<size_t>(std::max(1, buckets))) {}

int64_t RateWindow::epoch_of(TimePoint t) const {
  // Floor division, so that time points before the clock's epoch (a simulator may start
  // anywhere) still map to consecutive slices.
  const int64_t ns = std::chrono::duration_cast<Duration>(t.time_since_epoch()).count();
  const int64_t w = width_.count();
  int64_t e = ns / w;
  if (ns % w != 0 && ns < 0) --e;
  return e;
}

template <class F>
void RateWindow::for_live(TimePoint now, F&& f) const {
  const int64_t cur = epoch_of(now);
  const auto n = static_cast<int64_t>(buckets_.size());
  for (const auto& b : buckets_)
    if (b.epoch != INT64_MIN && b.epoch <= cur && b.epoch > cur - n) f(b);
}

void RateWindow::add(bool failure, TimePoint now) {
  const int64_t e = epoch_of(now);
  const auto n = static_cast<int64_t>(buckets_.size());
  auto& b = buckets_[static_cast<size_t>(((e % n) + n) % n)];
  if (b.epoch != e) {
    if (b.epoch != INT64_MIN && b.epoch > e) return;  // older than this slot's data: drop
    b = Bucket{e, 0, 0};
  }
  ++b.total;
  if (failure) ++b.failures;
}

uint64_t RateWindow::total(TimePoint now) const {
  uint64_t t = 0;
  for_live(now, [&](const Bucket& b) { t += b.total; });
  return t;
}

uint64_t RateWindow::failures(TimePoint now) const {
  uint64_t f = 0;
  for_live(now, [&](const Bucket& b) { f += b.failures; });
  return f;
}

double RateWindow::failure_rate(TimePoint now) const {
  uint64_t t = 0, f = 0;
  for_live(now, [&](const Bucket& b) {
    t += b.total;
    f += b.failures;
  });
  return t == 0 ? 0.0 : static_cast<double>(f) / static_cast<double>(t);
}

}  // namespace hir::routing
