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

LatencyPrediction predict_latency(const TargetState& s, const TargetInfo& t, VariantIndex v,
                                  Duration service_prior, TimePoint now) {
  LatencyPrediction p;
  // The report's concurrency wins (the worker knows its threads); else the configured one.
  const uint32_t c_int = s.last_report() && s.last_report()->concurrency > 0
                             ? s.last_report()->concurrency
                             : std::max<uint32_t>(1, t.concurrency);
  const double c = static_cast<double>(c_int);
  p.rtt = std::max(Duration::zero(), s.rtt_p95());
  p.service = std::max(Duration::zero(), s.service_p95(v, service_prior));
  p.ahead = std::max(0.0, s.occupancy(now) - c + 1.0);
  p.queue_wait = from_ns_saturating(p.ahead * static_cast<double>(p.service.count()) / c);
  p.total = sat_add(sat_add(p.rtt, p.queue_wait), p.service);
  return p;
}

Duration predict_latency_p95(const TargetState& s, const TargetInfo& t, VariantIndex v,
                             Duration service_prior, TimePoint now) {
  return predict_latency(s, t, v, service_prior, now).total;
}

}  // namespace hir::routing
