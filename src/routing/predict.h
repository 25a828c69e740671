// Predicted p95 latency of sending one request for variant v to a target now:
//
//   p95  ≈ RTT_p95 + wait + S_p95
//   wait = own.wait + others_ahead × S / c
//
// Our own requests are replayed through the target's FIFO (TargetState::own_queue): each of
// ours in flight reaches it RTT_p50/2 after it was sent and holds one of its c threads for the
// variant's mean service time S; own.wait is how long a request sent now would wait behind
// them. That replay knows what a bare in-flight count does not: a request still on its way out
// or already on its way back holds no thread, which on a device with one thread and a waiting
// room of two is the difference between "full" and "free". Everyone else's requests (the load
// report's, aged; TargetState::others) are assumed to be ahead of ours, draining c at a time:
// with all threads busy, one completes every S/c on average, the M/G/c heavy-traffic picture
// (Kingman 1961; Whitt 1993, "Approximations for the GI/G/m queue").
//
// Assumptions, on the cautious side of a latency budget where they are not exact:
// - RTT and service are added as p95s; summing p95s bounds the p95 of the sum from above (equal
//   only when the terms move together). The wait uses mean service times: it is a sum over
//   several requests ahead, whose p95s would not co-occur.
// - Every in-flight request of ours at this target is taken to be for this variant (a target's
//   variants have similar service times, and most targets serve one).
// - FCFS queueing at the target; a target that refuses when full is the caller's business,
//   through `at_target` (compared with its threads + queue) and the report's queue flag.
#pragma once

#include <algorithm>

#include "core/time.h"
#include "routing/registry.h"
#include "routing/target_state.h"

namespace hir::routing {

// The terms of the prediction, for /v1/route/explain and tests.
struct LatencyPrediction {
  Duration rtt{};         // RTT p95
  Duration queue_wait{};  // see above
  Duration service{};     // S_p95
  Duration total{};       // the sum (saturating)
  double ahead = 0;       // requests ahead of ours waiting for a thread when it arrives
  double at_target = 0;   // everyone's requests at the target then (ours + others)
};

// service_prior: the variant's expected service time (VariantInfo::expected_service) until the
// state has measured or been told better. t supplies the concurrency when no report has.
LatencyPrediction predict_latency(const TargetState& s, const TargetInfo& t, VariantIndex v,
                                  Duration service_prior, TimePoint now);

// The terms of the prediction that change only when the target's state does (a result, a
// report, an RTT sample), not with time: the estimators' quantiles and means. Router keeps them
// per deployment between such changes and recomputes only the time-dependent queue terms, which
// gives the very same figures (predict_latency is this pair of calls), because a quantile
// window's snapshot changes only when a sample is added (estimators.h).
struct LatencyTerms {
  Duration rtt_p95{}, rtt_p50{}, service_p95{}, service_mean{};
};
LatencyTerms latency_terms(const TargetState& s, VariantIndex v, Duration service_prior);
namespace predict_detail {

// Durations near max() (an "unknown, assume the worst" prior) must not wrap when added.
inline Duration sat_add(Duration a, Duration b) {
  if (b > Duration::zero() && a > Duration::max() - b) return Duration::max();
  return a + b;
}

inline Duration from_ns_saturating(double ns) {
  if (!(ns > 0)) return Duration::zero();
  if (ns >= static_cast<double>(Duration::max().count())) return Duration::max();
  // std::llround (half away from zero) for 0 < ns < 2^63, without the library call: truncation
  // is exact here, and so is the fraction ns - i (below 2^53 i converts back exactly; above,
  // ns is an integer and the fraction is 0).
  auto i = static_cast<Duration::rep>(ns);
  if (ns - static_cast<double>(i) >= 0.5) ++i;
  return Duration(i);
}

}  // namespace predict_detail

// others: s.others(now), passed in so that a caller that already has it for the same instant
// need not evaluate it twice. Inline: the decision calls it for every prediction it redoes.
inline LatencyPrediction predict_latency(const TargetState& s, const LatencyTerms& k,
                                         double others, TimePoint now) {
  using predict_detail::from_ns_saturating;
  using predict_detail::sat_add;
  LatencyPrediction p;
  const double c = static_cast<double>(s.concurrency());
  p.rtt = std::max(Duration::zero(), k.rtt_p95);
  p.service = std::max(Duration::zero(), k.service_p95);
  const Duration mean = std::max(Duration::zero(), k.service_mean);
  const auto own = s.own_queue(now, k.rtt_p50 / 2, mean);
  p.at_target = own.at_target + others;
  p.ahead = std::max(0.0, p.at_target - c + 1.0);
  // Others ahead of ours only matter once they and ours fill the threads.
  const double others_ahead = std::min(others, p.ahead);
  p.queue_wait = sat_add(own.wait, from_ns_saturating(others_ahead * static_cast<double>(mean.count()) / c));
  p.total = sat_add(sat_add(p.rtt, p.queue_wait), p.service);
  return p;
}

Duration predict_latency_p95(const TargetState& s, const TargetInfo& t, VariantIndex v,
                             Duration service_prior, TimePoint now);

}  // namespace hir::routing
