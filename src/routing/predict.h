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
// others: s.others(now), passed in so that a caller that already has it for the same instant
// need not evaluate it twice.
LatencyPrediction predict_latency(const TargetState& s, const LatencyTerms& k, double others,
                                  TimePoint now);

Duration predict_latency_p95(const TargetState& s, const TargetInfo& t, VariantIndex v,
                             Duration service_prior, TimePoint now);

}  // namespace hir::routing
