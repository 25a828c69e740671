// What the router knows, live, about one target: our in-flight requests, its last load report,
// network RTT and per-variant service-time estimates, and its recent failure share. Fed by the
// dispatcher (on_dispatch / on_result), the load poller (on_load_report, on_rtt_sample) and the
// simulator alike; read by predict.h and the policy. Time is passed in; nothing here reads a
// clock. Not thread-safe: the owner serialises calls (const readers included — the quantile
// windows cache a snapshot).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/time.h"
#include "routing/estimators.h"
#include "routing/registry.h"
#include "routing/types.h"

namespace hir::routing {

enum class Outcome : uint8_t {
  kOk,
  kError,       // 5xx, garbage
  kTimeout,     // our deadline passed first
  kRefused,     // connect failed
  kOverloaded,  // 503, 429
  // We stopped waiting for reasons of our own: a hedge's loser cancelled once the other copy
  // answered, or an attempt cut by the request's budget well before the target was due. Says
  // nothing of the target: no failure, no latency sample (a cut-off time is not its latency).
  kAbandoned,
};

struct LoadReport {  // what a worker's GET /v1/load (or an MCU heartbeat) says
  uint32_t in_flight = 0, queue_depth = 0, queue_capacity = 0, concurrency = 1;
  double busy_fraction = 0;  // 0..1 over its last 10 s
  std::vector<std::pair<VariantIndex, double>> service_p95_ms;  // per variant it serves, if known
};

// Tuning; the defaults suit a load poll every ~1 s.
struct TargetStateOptions {
  size_t service_window = 128;  // samples per variant in the service-time quantile window
  size_t rtt_window = 64;       // RTT samples
  double mean_alpha = 0.1;      // EWMA weight for the streaming means
  // Own samples needed before our quantiles replace the report's / configured priors: below
  // this a nearest-rank p95 is just the maximum of a handful of samples.
  size_t min_samples = 4;
  Duration error_window = std::chrono::seconds(10);
  int error_buckets = 10;
  // How fast a load report's snapshot gives way to its 10-s busy fraction as it ages (see
  // utilization()). About a few poll intervals.
  Duration report_decay = std::chrono::seconds(3);
};

class TargetState {
 public:
  explicit TargetState(const TargetInfo& info, const TargetStateOptions& opt = {});

  void on_dispatch(TimePoint now);  // one more request in flight from us
  // One of our requests finished. latency: the whole call as we saw it. The service time is
  // derived as latency - RTT p50 estimate, floored at 0; use the overload below when the target
  // reported its own. Only kOk and kTimeout feed the latency estimators: a timeout's latency is a
  // lower bound on the real one (counting it keeps p95 honest in a brownout), while errors,
  // refusals and overload answers come back fast and say nothing about service time. Every
  // outcome other than kOk counts as a failure in error_rate().
  void on_result(VariantIndex v, Outcome o, Duration latency, TimePoint now);
  // As above with the target's own service time and, when it says, how long the request waited
  // in its queue (then latency - queued - service is an RTT sample).
  void on_result(VariantIndex v, Outcome o, Duration latency, Duration service, TimePoint now,
                 Duration queued = Duration::zero());
  void on_load_report(const LoadReport& r, TimePoint now);
  // A direct RTT measurement, e.g. the round trip of the cheap GET /v1/load poll itself.
  void on_rtt_sample(Duration rtt, TimePoint now);

  uint32_t in_flight() const { return in_flight_; }  // ours
  uint32_t reported_queue_depth() const { return report_ ? report_->queue_depth : 0; }
  // Requests the target serves at once: the report's figure when it gave one, else the
  // configured one; at least 1.
  uint32_t concurrency() const {
    return report_ && report_->concurrency > 0 ? report_->concurrency : configured_concurrency_;
  }
  // Best current estimate of occupancy / concurrency (0..1+; above 1 means a queue):
  //   occupancy = others(now) + ours(now)
  //   others(now) = w * others_at_report + (1 - w) * others_mean
  //   others_at_report = max(0, reported in_flight + queue_depth - ours_at_report)
  //   others_mean = max(0, busy_fraction * concurrency - ours_at_report)
  //   w = exp(-staleness / report_decay)
  // A fresh snapshot is trusted; as it ages it reverts to the report's 10-s mean load, because
  // an old snapshot of a queue says little about the queue now (and trusting an old "empty"
  // forever is how herding starts). Without any report, others = 0.
  double utilization(TimePoint now) const;
  // The same from others(now), for a caller that has it already.
  double utilization_with(double others) const {
    return (others + static_cast<double>(in_flight_)) / static_cast<double>(concurrency());
  }
  // Requests (everyone's) estimated to be in service or queued at the target now: the
  // `occupancy` above, before dividing by concurrency.
  double occupancy(TimePoint now) const;
  // Our own requests as the target's FIFO sees them: each in-flight request, in dispatch order,
  // reaches the target one_way after it was sent and holds a thread for `service`; one whose
  // modelled end has passed without a reply is taken to be there still when a request sent now
  // arrives. From that replay, for a request sent now (it arrives at now + one_way):
  struct OwnQueue {
    double at_target = 0;  // ours in service or waiting there when it arrives
    double waiting = 0;    // ours still waiting for a thread then
    Duration wait{};       // how long it would wait for a thread behind ours
  };
  OwnQueue own_queue(TimePoint now, Duration one_way, Duration service) const {
    // Nothing of ours in flight (then nothing timed either): nothing at the target, no wait —
    // what the replay gives, without it. Most targets of a large fleet are in that state.
    if (in_flight_ == 0) return {};
    return replay_own_queue(now, one_way, service);
  }
  // Everyone else's requests at the target (the `others` term of occupancy()). Inline, with the
  // report's two ends (snapshot and mean) worked out when it arrives: the decision evaluates it
  // for most targets it looks at, and only the weight moves with time.
  double others(TimePoint now) const {
    if (!report_) return 0;
    const double age = to_ms(std::max(Duration::zero(), now - report_at_));
    const double w = std::exp(-age / report_decay_ms_);
    return w * others_snapshot_ + (1 - w) * others_mean_;
  }
  // Forgets the learnt RTT and service times (back to the report's and the priors) when none
  // of ours is in flight and our last dispatch or result is old; true if it did. "Old" is
  // `after`, or sooner when `gaps` > 0: `gaps` of our usual intervals between dispatches (their
  // EWMA), but at least kForgetFloor. A target that had a request every few milliseconds and
  // then none for a tenth of a second is being left out — most often because a short stall
  // put its learnt p95 over the budgets — and keeping those figures for the whole of `after`
  // would refuse its traffic for that long. The interval that ends such a spell counts as a
  // usual one only up to the limit that fired, so each spell lengthens the usual interval
  // about threefold: a target left out again and again is retried ever less often, and one
  // whose traffic has slowed for good soon stops forgetting. A target that sees a request a
  // second waits the whole of `after`, as before. `after` zero: never (whatever `gaps`).
  bool forget_if_idle(TimePoint now, Duration after, double gaps = 0) {
    if (!learnt_ || in_flight_ > 0 || after <= Duration::zero()) return false;
    const Duration idle = now - last_touch_;
    if (idle < after && idle < kForgetFloor) return false;
    const Duration limit = std::min(after, std::max(kForgetFloor, gap_limit(gaps)));
    if (idle < limit) return false;
    forget();
    spell_cap_ms_ = to_ms(limit);
    return true;
  }
  // The shortest idle spell forget_if_idle's `gaps` rule waits for.
  static constexpr Duration kForgetFloor = std::chrono::milliseconds(100);
  Duration staleness(TimePoint now) const {  // since the last load report (max if none)
    if (!report_) return Duration::max();
    return std::max(Duration::zero(), now - report_at_);
  }
  double error_rate(TimePoint now) const;   // recent failure share (0 with no results)
  Duration rtt_p95() const;                 // network RTT p95 estimate (prior: info.expected_rtt)
  Duration rtt_p50() const;
  // Per-variant service time p95: our own window once it holds min_samples; else the last
  // report's figure for v; else `prior`.
  Duration service_p95(VariantIndex v, Duration prior) const;
  Duration service_mean(VariantIndex v, Duration prior) const;  // streaming EWMA, same fallbacks
  uint64_t requests() const { return requests_; }  // results received (every outcome)
  const std::optional<LoadReport>& last_report() const { return report_; }
  // The last report said its queue was full (and it set a capacity): new work would be refused.
  bool reported_queue_full() const;

 private:
  struct VariantStats {
    VariantIndex v;
    QuantileWindow p95;
    Ewma mean;
  };
  OwnQueue replay_own_queue(TimePoint now, Duration one_way, Duration service) const;
  Duration gap_limit(double gaps) const;  // gaps x the usual interval; max() without one
  void forget();  // forget_if_idle's work
  VariantStats& stats_for(VariantIndex v);
  const VariantStats* find_stats(VariantIndex v) const;
  std::optional<double> reported_p95_ms(VariantIndex v) const;
  void record(VariantIndex v, Outcome o, Duration latency, std::optional<Duration> service,
              Duration queued, TimePoint now);

  TargetStateOptions opt_;
  Duration rtt_prior_;
  double report_decay_ms_;  // opt_.report_decay in ms, at least 1e-6
  uint32_t configured_concurrency_;
  uint32_t in_flight_ = 0;
  // Dispatch times of our in-flight requests, oldest first, in a fixed ring (no allocation
  // after construction). Beyond its size the extra requests are counted, not timed. Replies are
  // matched oldest first, the FIFO assumption.
  static constexpr size_t kSentRing = 32;
  std::array<TimePoint, kSentRing> sent_{};
  size_t sent_head_ = 0, sent_count_ = 0;
  TimePoint last_end_{};     // when the last answered request left its thread, about
  TimePoint last_touch_{};   // our last dispatch or result
  TimePoint last_dispatch_{};
  bool dispatched_ = false;
  double spell_cap_ms_ = -1;  // the limit at which forget_if_idle forgot since the last dispatch (ms); < 0: none
  double gap_ms_ = -1;       // EWMA (mean_alpha) of the intervals between our dispatches; < 0: none yet
  bool learnt_ = false;      // our own latency samples are in the windows
  uint64_t requests_ = 0;
  std::optional<LoadReport> report_;
  TimePoint report_at_{};
  uint32_t ours_at_report_ = 0;
  double others_snapshot_ = 0, others_mean_ = 0;  // others() at the report and long after it
  QuantileWindow rtt_;
  RateWindow errors_;
  std::vector<VariantStats> variants_;  // few per target: a linear scan beats a map
};

}  // namespace hir::routing
