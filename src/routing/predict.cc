#include "routing/predict.h"

#include <algorithm>
#include <cmath>

namespace hir::routing {
namespace {

// Durations near max() (an "unknown, assume the worst" prior) must not wrap when added.
Duration sat_add(Duration a, Duration b) {
  if (b > Duration::zero() && a > Duration::max() - b) return Duration::max();
  return a + b;
}

Duration from_ns_saturating(double ns) {
  if (!(ns > 0)) return Duration::zero();
  if (ns >= static_cast<double>(Duration::max().count())) return Duration::max();
  return Duration(static_cast<Duration::rep>(std::llround(ns)));
}

}  // namespace

LatencyTerms latency_terms(const TargetState& s, VariantIndex v, Duration service_prior) {
  LatencyTerms k;
  k.rtt_p95 = s.rtt_p95();
  k.service_p95 = s.service_p95(v, service_prior);
  k.service_mean = s.service_mean(v, service_prior);
  k.rtt_p50 = s.rtt_p50();
  return k;
}

LatencyPrediction predict_latency(const TargetState& s, const LatencyTerms& k, double others,
                                  TimePoint now) {
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
