#include "routing/predict.h"

#include <algorithm>
#include <cmath>

namespace hir::routing {

LatencyTerms latency_terms(const TargetState& s, VariantIndex v, Duration service_prior) {
  LatencyTerms k;
  k.rtt_p95 = s.rtt_p95();
  k.service_p95 = s.service_p95(v, service_prior);
  k.service_mean = s.service_mean(v, service_prior);
  k.rtt_p50 = s.rtt_p50();
  return k;
}

LatencyPrediction predict_latency(const TargetState& s, const TargetInfo& t, VariantIndex v,
                                  Duration service_prior, TimePoint now) {
  (void)t;  // TargetState already holds the configured concurrency and RTT prior
  return predict_latency(s, latency_terms(s, v, service_prior), s.others(now), now);
}

Duration predict_latency_p95(const TargetState& s, const TargetInfo& t, VariantIndex v,
                             Duration service_prior, TimePoint now) {
  return predict_latency(s, t, v, service_prior, now).total;
}

}  // namespace hir::routing
