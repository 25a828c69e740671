#include "sim/trace.h"

#include <cmath>
#include <numbers>

#include "sim/distribution.h"

namespace hir::sim {

Trace::Trace(const Scenario& s, const Fleet& f, uint64_t seed, uint64_t max_requests)
    : s_(s), f_(f), rng_(seed), max_requests_(max_requests), max_rate_(max_rate()) {
  for (const auto& [name, w] : s.workload.models)
    model_index_.push_back(static_cast<routing::ModelIndex>(f.registry.find_model(name) - &f.registry.model(0)));
}

double Trace::rate_at(double t) const { return s_.workload.rate_at(t); }

double Trace::max_rate() const {
  const auto& w = s_.workload;
  if (w.diurnal) return w.diurnal->mean_rps * (1 + w.diurnal->amplitude);
  double m = 0;
  for (const auto& p : w.rate) m = std::max(m, p.rps);
  return m;
}

template <class T>
const T& Trace::pick(const Weighted<T>& w) {
  double total = 0;
  for (const auto& e : w) total += e.second;
  double u = rng_.uniform() * total;
  for (const auto& e : w) {
    if (u < e.second) return e.first;
    u -= e.second;
  }
  return w.back().first;
}

std::optional<TraceRequest> Trace::next(bool draws) {
  if (max_rate_ <= 0) return std::nullopt;
  if (max_requests_ && produced_ >= max_requests_) return std::nullopt;
  // Thinning (Lewis & Shedler 1979, "Simulation of nonhomogeneous Poisson processes by
  // thinning"): candidate arrivals at the peak rate, each kept with probability rate(t)/peak.
  // With --requests the trace runs past duration_s, repeating the rate of its last moment.
  for (;;) {
    t_s_ += exponential(rng_, 1.0 / max_rate_);
    if (!max_requests_ && t_s_ >= s_.duration_s) return std::nullopt;
    double t = max_requests_ ? std::fmod(t_s_, s_.duration_s) : t_s_;
    if (rng_.uniform() * max_rate_ < rate_at(t)) break;
  }
  TraceRequest r;
  r.id = produced_++;
  r.arrival = from_ms(t_s_ * 1e3);
  const auto& w = s_.workload;
  size_t mi = 0;
  {
    double total = 0;
    for (const auto& e : w.models) total += e.second;
    double u = rng_.uniform() * total;
    for (; mi + 1 < w.models.size() && u >= w.models[mi].second; ++mi) u -= w.models[mi].second;
  }
  r.route.model = model_index_[mi];
  r.route.priority = pick(w.priorities);
  r.route.complexity = w.complexity_min + (w.complexity_max - w.complexity_min) * rng_.uniform();
  r.route.min_accuracy = pick(w.min_accuracy);
  r.budget = from_ms(pick(w.budgets_ms));
  r.route.budget = r.budget;
  // Draws for every kind and group, whether or not the model uses them, so the random stream
  // does not depend on the mix.
  if (!draws) {  // the same uniforms, untransformed: two per standard normal, one per 5xx draw
    for (size_t i = 0, n = 2 * f_.kinds.size() + 3 * f_.group_devices.size(); i < n; ++i) rng_.uniform();
    return r;
  }
  r.z_service.resize(f_.kinds.size());
  for (auto& z : r.z_service) z = static_cast<float>(standard_normal(rng_));
  r.z_rtt.resize(f_.group_devices.size());
  r.u_error.resize(f_.group_devices.size());
  for (size_t g = 0; g < r.z_rtt.size(); ++g) {
    r.z_rtt[g] = static_cast<float>(standard_normal(rng_));
    r.u_error[g] = static_cast<float>(rng_.uniform());
  }
  return r;
}

}  // namespace hir::sim
