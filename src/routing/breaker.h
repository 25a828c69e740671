// Per-target circuit breaker with outlier ejection, in the spirit of Envoy's outlier detection
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier): a target is
// ejected inline after `consecutive_failures` failures in a row that have lasted at least
// `consecutive_span` (one stall's burst does not; see the field), or when its failure share over
// a rolling `window` exceeds `failure_rate` with at least `min_requests` requests (Envoy's
// failure_percentage detector, evaluated per result instead of per interval). Ejection k lasts
// min(base_ejection * 2^(k-1), max_ejection) — exponential rather than Envoy's linear multiplier, so
// a flapping device backs off fast. After the ejection the breaker is half-open and lets a few probe
// requests through (Nygard, "Release It!", the Circuit Breaker pattern): a success closes it, a
// failure ejects it again, longer. The ejection count decays by one per `window` spent closed, like
// Envoy's multiplier, which shrinks for each interval a host stays healthy.
//
// Pure: no clock, no threads; every call takes the caller's `now`. Not thread-safe: one owner
// (the router's routing strand or the simulator) serialises calls. Memory is fixed (a ring of
// kBuckets counters), whatever the request rate.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"
#include "routing/types.h"

namespace hir::routing {

struct BreakerConfig {
  uint32_t consecutive_failures = 5;     // open after this many failures in a row (0: detector off)
  // ... once the run has lasted this long, from its first failure to its last. A stall of the
  // target fails every request it holds within a few tens of milliseconds, and the first
  // success after it ends the run; a target that is down keeps failing past the span (its
  // requests meanwhile fall back). Zero: the count alone.
  Duration consecutive_span = std::chrono::milliseconds(100);
  double failure_rate = 0.5;             // or when the failure share over `window` exceeds this...
  uint32_t min_requests = 20;            // ...with at least this many requests in the window
  Duration window = std::chrono::seconds(10);
  // First open period. Short: five failures in a row most often come from one stall of the
  // target, which times out every request it holds at once; one that stays down backs off.
  Duration base_ejection = std::chrono::milliseconds(500);
  Duration max_ejection = std::chrono::seconds(60);   // ejection k lasts min(base * 2^(k-1), max)
  uint32_t half_open_probes = 1;         // requests let through while half-open
  Duration stale_report_after = std::chrono::seconds(5);  // (used by health below)
};

// Rejects configurations that would make the breaker meaningless (non-positive durations, a rate
// outside [0, 1], base above max, no probes). Data-plane code never throws: load-time code calls
// this and reports the Status.
Status validate(const BreakerConfig& cfg);

enum class BreakerState : uint8_t { kClosed, kOpen, kHalfOpen };
std::string_view breaker_state_name(BreakerState s);  // "closed", "open", "half-open"

// Contract: every allow() that returned true is followed by exactly one on_success(),
// on_failure() or on_abandoned() for that request (a timeout reports failure; an attempt the
// caller gave up on for its own reasons, abandoned). Results that arrive while the breaker is
// open belong to requests sent before the ejection and are ignored.
class Breaker {
 public:
  explicit Breaker(const BreakerConfig& cfg);

  // Open turns half-open when its ejection time has passed.
  BreakerState state(TimePoint now) const {
    if (!ejected_) return BreakerState::kClosed;
    return now < open_until_ ? BreakerState::kOpen : BreakerState::kHalfOpen;
  }

  // May a request go to this target now? Closed: true. Open: false. Half-open: true for up to
  // half_open_probes outstanding probes (each true acquires one), false otherwise.
  bool allow(TimePoint now);
  // allow() without acquiring a probe: for filtering candidates before one is picked.
  bool would_allow(TimePoint now) const;

  void on_success(TimePoint now);  // half-open + success -> closed (the ejection count decays later)
  void on_failure(TimePoint now);  // counts toward opening; half-open + failure -> open again, longer
  // Neither: the caller stopped waiting for reasons of its own (a hedge's loser, a request out
  // of budget before the target was due). Counts nothing; a half-open probe's slot is freed.
  void on_abandoned(TimePoint now);

  TimePoint open_until() const { return open_until_; }  // end of the current/last ejection
  uint32_t ejections() const { return ejections_; }     // as of the last call that took `now`
  // Why it is open or half-open, for operators ("5 consecutive failures"); "" while closed.
  std::string reason() const { return reason_; }

  // The length of ejection number k (k >= 1) under cfg: min(base * 2^(k-1), max), overflow-safe.
  static Duration ejection_length(uint32_t k, const BreakerConfig& cfg);

 private:
  // A rolling window of kBuckets slots, each covering window/kBuckets (Hystrix-style rolling
  // counters): bounded memory, and old results fall out bucket by bucket.
  static constexpr int kBuckets = 10;
  struct Bucket {
    int64_t epoch = -1;  // which bucket-length slice of time this slot currently counts
    uint32_t successes = 0;
    uint32_t failures = 0;
  };

  void record(TimePoint now, bool failed);
  void window_totals(TimePoint now, uint32_t& requests, uint32_t& failures) const;
  int64_t bucket_epoch(TimePoint now) const;
  void eject(TimePoint now, std::string why);
  void close(TimePoint now);
  void decay(TimePoint now);
  bool ejected_at(TimePoint now) const { return ejected_ && now < open_until_; }
  bool probe_slot_free(TimePoint now) const;

  BreakerConfig cfg_;
  Duration bucket_len_;
  std::array<Bucket, kBuckets> buckets_{};
  uint32_t consecutive_ = 0;
  TimePoint run_since_{};     // the first failure of the current run of consecutive_
  bool ejected_ = false;  // open or half-open
  TimePoint open_until_{};
  uint32_t ejections_ = 0;
  TimePoint closed_since_{};  // start of the current closed spell, for the decay
  uint32_t probes_out_ = 0;
  TimePoint last_probe_{};    // a probe never reported is presumed lost after `window`
  std::string reason_;
};

// Health from load reports: a target whose last report is older than stale_report_after, or
// which reports not ready, is unhealthy. A target that has never reported (has_report false) is
// healthy: MCUs and third-party cloud endpoints have no /v1/load, and a new worker must not be
// shunned until its first poll — its breaker guards it passively. `staleness` is ignored then.
inline bool healthy(bool has_report, Duration staleness, bool ready, const BreakerConfig& cfg) {
  if (!has_report) return true;  // see above: judged passively by its breaker
  return ready && staleness <= cfg.stale_report_after;
}

}  // namespace hir::routing
