#include "routing/estimators.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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
  if (x != x) nan_ = true;  // NaN: a sort's order is then not a merge's
  if (ring_.size() < capacity_) {
    ring_.push_back(x);
  } else {
    if (!resort_ && !sorted_.empty()) {
      if (evicted_.size() < capacity_ / 4) {
        evicted_.push_back(ring_[next_]);
      } else {
        resort_ = true;
        evicted_.clear();
      }
    }
    ring_[next_] = x;
    next_ = (next_ + 1) % capacity_;
  }
  ++total_;
  ++unsorted_;
}

void QuantileWindow::clear() {
  ring_.clear();
  sorted_.clear();
  evicted_.clear();
  next_ = 0;
  unsorted_ = 0;
  resort_ = false;
  nan_ = false;
}

void QuantileWindow::rebuild() const {
  const size_t u = unsorted_;
  unsorted_ = 0;
  const bool full_sort = sorted_.empty() || resort_ || nan_ || u > capacity_ / 4;
  resort_ = false;
  if (full_sort) {
    evicted_.clear();
    sorted_.assign(ring_.begin(), ring_.end());
    std::sort(sorted_.begin(), sorted_.end());
    return;
  }
  // The snapshot was ring_ as it was u adds ago (u <= capacity/4, so no slot was written twice):
  // the new one is the old without the samples those adds overwrote (evicted_, each of which was
  // in the old snapshot), plus the samples they wrote — the u most recent, which sit just before
  // next_ in a full ring (an append that filled it wrote the slots up to capacity - 1, and the
  // wrap went on from 0) and at the end of one still growing.
  added_.clear();
  const size_t n = ring_.size();
  if (n < capacity_) {
    added_.assign(ring_.end() - static_cast<std::ptrdiff_t>(u), ring_.end());
  } else {
    for (size_t k = 1; k <= u; ++k) added_.push_back(ring_[(next_ + capacity_ - k) % capacity_]);
  }
  std::sort(added_.begin(), added_.end());
  std::sort(evicted_.begin(), evicted_.end());
  // Drop the evicted samples, in place, front to back: find each (they ascend) and close the gap
  // before it, a run of kept samples at a time.
  double* const v = sorted_.data();
  const size_t old_n = sorted_.size();
  size_t dst = 0, src = 0;
  for (const double x : evicted_) {
    const size_t at = static_cast<size_t>(std::lower_bound(v + src, v + old_n, x) - v);
    if (at == old_n || v[at] != x) {  // cannot happen (see above); sort from scratch if it does
      evicted_.clear();
      sorted_.assign(ring_.begin(), ring_.end());
      std::sort(sorted_.begin(), sorted_.end());
      return;
    }
    std::memmove(v + dst, v + src, (at - src) * sizeof(double));
    dst += at - src;
    src = at + 1;
  }
  std::memmove(v + dst, v + src, (old_n - src) * sizeof(double));
  const size_t kept = dst + (old_n - src);
  evicted_.clear();
  // Insert the added ones, back to front: each after the kept samples equal to it, the runs in
  // between moved up once.
  sorted_.resize(kept + added_.size());
  double* const w = sorted_.data();
  size_t hi = kept, end = sorted_.size();
  for (size_t b = added_.size(); b-- > 0;) {
    const double y = added_[b];
    const size_t at = static_cast<size_t>(std::upper_bound(w, w + hi, y) - w);
    end -= hi - at;
    std::memmove(w + end, w + at, (hi - at) * sizeof(double));
    w[--end] = y;
    hi = at;
  }
}

void QuantileWindow::refresh() const {
  // Rebuild when more than 1/16 of the window is new since the last snapshot (see the header):
  // the threshold grows with the window, so a young window is exact and a full one of 256
  // re-sorts every 16 samples.
  const size_t refresh_every = std::max<size_t>(1, ring_.size() / 16);
  if (!ring_.empty() && (sorted_.empty() || unsorted_ >= refresh_every)) rebuild();
}

double QuantileWindow::quantile(double q) const {
  if (ring_.empty()) return 0;
  refresh();
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
