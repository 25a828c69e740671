// Predicted p95 latency of sending one request for variant v to a target now:
//
//   p95 ≈ RTT_p95 + wait + S_p95
//   wait  = ahead × S_p95 / c
//   ahead = max(0, occupancy(now) − c + 1)
//
// where c is the target's concurrency (servers), S_p95 the variant's service-time p95 on it and
// occupancy(now) everyone's requests in service or queued there — the reported in-flight plus
// queue depth, less ours at report time, aged towards the report's 10-s mean as it goes stale,
// plus our in-flight now (TargetState::occupancy documents that estimate). `ahead` is how many
// requests must finish before ours starts: none while a server is free; with all c busy and k
// queued, k + 1. With c servers draining in parallel, one completes every S/c on average, which
// is the M/G/c heavy-traffic picture (Kingman 1961; Whitt 1993, "Approximations for the
// GI/G/m queue"): wait ≈ ahead × S / c. `ahead` is fractional, since occupancy is an estimate, so
// the prediction is continuous and monotone in load.
//
// Assumptions, all on the cautious side of a latency budget:
// - Each request ahead takes this variant's S_p95. Summing p95s bounds the p95 of the sum from
//   above (equal only when the terms move together), so the wait is overestimated on a
//   lightly-loaded target rather than under; requests ahead for other variants are assumed to
//   cost the same as ours.
// - RTT, wait and service are added as p95s for the same reason.
// - FCFS queueing at the target; a target that refuses when full is the admission layer's
//   business (TargetState::reported_queue_full), not this estimate's.
#pragma once

#include "core/time.h"
#include "routing/registry.h"
#include "routing/target_state.h"

namespace hir::routing {

// The terms of the prediction, for /v1/route/explain and tests.
struct LatencyPrediction {
  Duration rtt{};         // RTT p95
  Duration queue_wait{};  // ahead × S_p95 / c
  Duration service{};     // S_p95
  Duration total{};       // the sum (saturating)
  double ahead = 0;       // requests ahead of ours
};

// service_prior: the variant's expected service time (VariantInfo::expected_service) until the
// state has measured or been told better. t supplies the concurrency when no report has.
LatencyPrediction predict_latency(const TargetState& s, const TargetInfo& t, VariantIndex v,
                                  Duration service_prior, TimePoint now);

Duration predict_latency_p95(const TargetState& s, const TargetInfo& t, VariantIndex v,
                             Duration service_prior, TimePoint now);

}  // namespace hir::routing
