#include "routing/breaker.h"

#include <algorithm>
#include <cstdio>

namespace hir::routing {
namespace {

// Operators read ejections in seconds; %g keeps "2s" and "0.5s" short.
std::string seconds_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", to_ms(d) / 1000.0);
  return buf;
}

// Floor division, so that a simulated clock may start before the epoch without skewing buckets.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

Status validate(const BreakerConfig& cfg) {
  if (cfg.window <= Duration::zero()) return InvalidArgument("breaker: window must be > 0");
  if (cfg.base_ejection <= Duration::zero())
    return InvalidArgument("breaker: base_ejection must be > 0");
  if (cfg.max_ejection < cfg.base_ejection)
    return InvalidArgument("breaker: max_ejection must be >= base_ejection");
  if (!(cfg.failure_rate >= 0.0 && cfg.failure_rate <= 1.0))  // also rejects NaN
    return InvalidArgument("breaker: failure_rate must be within [0, 1]");
  if (cfg.consecutive_span < Duration::zero())
    return InvalidArgument("breaker: consecutive_span must be >= 0");
  if (cfg.half_open_probes == 0) return InvalidArgument("breaker: half_open_probes must be >= 1");
  if (cfg.stale_report_after <= Duration::zero())
    return InvalidArgument("breaker: stale_report_after must be > 0");
  return Status::Ok();
}

std::string_view breaker_state_name(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
  }
  return "?";
}

Breaker::Breaker(const BreakerConfig& cfg)
    : cfg_(cfg), bucket_len_(std::max(cfg.window / kBuckets, Duration(1))) {}

Duration Breaker::ejection_length(uint32_t k, const BreakerConfig& cfg) {
  Duration d = cfg.base_ejection;
  // Double step by step and stop at the cap, so 2^(k-1) never overflows however large k grows.
  for (uint32_t i = 1; i < k && d < cfg.max_ejection; ++i) d *= 2;
  return std::min(d, cfg.max_ejection);
}

bool Breaker::probe_slot_free(TimePoint now) const {
  // A probe whose result never came back (a caller bug, a lost callback) must not strand the
  // target half-open forever; after a whole window it no longer holds its slot.
  return probes_out_ < cfg_.half_open_probes || now - last_probe_ >= cfg_.window;
}

bool Breaker::would_allow(TimePoint now) const {
  switch (state(now)) {
    case BreakerState::kClosed: return true;
    case BreakerState::kOpen: return false;
    case BreakerState::kHalfOpen: return probe_slot_free(now);
  }
  return false;
}

bool Breaker::allow(TimePoint now) {
  decay(now);
  const BreakerState s = state(now);
  if (s != BreakerState::kHalfOpen) return s == BreakerState::kClosed;
  if (!probe_slot_free(now)) return false;
  if (probes_out_ >= cfg_.half_open_probes) probes_out_ = 0;  // the lost probes give way
  ++probes_out_;
  last_probe_ = now;
  return true;
}

void Breaker::on_success(TimePoint now) {
  decay(now);
  switch (state(now)) {
    case BreakerState::kOpen: return;  // a result from before the ejection
    case BreakerState::kHalfOpen: close(now); return;
    case BreakerState::kClosed:
      consecutive_ = 0;
      record(now, false);
      return;
  }
}

void Breaker::on_failure(TimePoint now) {
  decay(now);
  switch (state(now)) {
    case BreakerState::kOpen: return;  // a result from before the ejection
    case BreakerState::kHalfOpen: eject(now, "half-open probe failed"); return;
    case BreakerState::kClosed: break;
  }
  record(now, true);
  if (consecutive_++ == 0) run_since_ = now;
  if (cfg_.consecutive_failures > 0 && consecutive_ >= cfg_.consecutive_failures &&
      now - run_since_ >= cfg_.consecutive_span) {
    eject(now, std::to_string(consecutive_) + " consecutive failures");
    return;
  }
  uint32_t requests = 0, failures = 0;
  window_totals(now, requests, failures);
  const uint32_t floor = std::max<uint32_t>(cfg_.min_requests, 1);
  const double share = requests ? static_cast<double>(failures) / requests : 0.0;
  if (requests >= floor && share > cfg_.failure_rate) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "failure rate %.0f%% (%u of %u requests) over %s", share * 100,
                  failures, requests, seconds_text(cfg_.window).c_str());
    eject(now, buf);
  }
}

void Breaker::on_abandoned(TimePoint now) {
  if (state(now) == BreakerState::kHalfOpen && probes_out_ > 0) --probes_out_;
}

void Breaker::eject(TimePoint now, std::string why) {
  ++ejections_;
  const Duration len = ejection_length(ejections_, cfg_);
  ejected_ = true;
  open_until_ = now + len;
  consecutive_ = 0;
  probes_out_ = 0;
  buckets_ = {};  // the next closed spell is judged on its own results
  reason_ = std::move(why) + "; ejection " + std::to_string(ejections_) + " for " +
            seconds_text(len);
}

void Breaker::close(TimePoint now) {
  ejected_ = false;
  consecutive_ = 0;
  probes_out_ = 0;
  buckets_ = {};
  reason_.clear();
  closed_since_ = now;
}

void Breaker::decay(TimePoint now) {
  // Envoy decrements a host's ejection multiplier for each interval it stays healthy; one
  // `window` of closed time forgives one ejection, so an old incident stops lengthening new ones.
  if (ejected_ || ejections_ == 0 || now <= closed_since_) return;
  const auto steps = (now - closed_since_) / cfg_.window;
  if (steps <= 0) return;
  const auto forgiven = static_cast<uint32_t>(std::min<int64_t>(steps, ejections_));
  ejections_ -= forgiven;
  closed_since_ += forgiven * cfg_.window;
}

int64_t Breaker::bucket_epoch(TimePoint now) const {
  return floor_div(now.time_since_epoch().count(), bucket_len_.count());
}

void Breaker::record(TimePoint now, bool failed) {
  const int64_t e = bucket_epoch(now);
  Bucket& b = buckets_[static_cast<size_t>(((e % kBuckets) + kBuckets) % kBuckets)];
  if (b.epoch != e) b = Bucket{e, 0, 0};
  ++(failed ? b.failures : b.successes);
}

void Breaker::window_totals(TimePoint now, uint32_t& requests, uint32_t& failures) const {
  const int64_t e = bucket_epoch(now);
  requests = failures = 0;
  for (const Bucket& b : buckets_) {
    if (b.epoch <= e - kBuckets || b.epoch > e) continue;  // outside the rolling window
    requests += b.successes + b.failures;
    failures += b.failures;
  }
}

}  // namespace hir::routing
