// The request trace: arrivals (a non-homogeneous Poisson process), each request's hints, and the
// latency draws for every candidate kind, generated lazily from a generator of its own so every
// policy run on the same scenario and seed sees exactly the same trace.
#pragma once

#include <optional>
#include <vector>

#include "core/rng.h"
#include "core/time.h"
#include "routing/policy.h"
#include "sim/fleet.h"
#include "sim/scenario.h"

namespace hir::sim {

struct TraceRequest {
  uint64_t id = 0;
  Duration arrival{};  // since the simulation epoch
  routing::RouteRequest route;
  Duration budget{};
  // Per kind (Fleet::kinds): the standard-normal draw of its service time. Per group: the
  // standard-normal draw of its RTT and a uniform draw deciding a 5xx (error if below the rate).
  std::vector<float> z_service;
  std::vector<float> z_rtt, u_error;
};

class Trace {
 public:
  // max_requests 0: until duration_s.
  Trace(const Scenario& s, const Fleet& f, uint64_t seed, uint64_t max_requests);
  // The next request, or nullopt when the trace is over. With draws == false its latency draws
  // are taken from the stream but not computed (z_service, z_rtt and u_error left empty): the
  // requests after it are the same either way.
  std::optional<TraceRequest> next(bool draws = true);
  uint64_t produced() const { return produced_; }  // the id the next request will get
  double rate_at(double t_s) const;  // requests per second at t

 private:
  double max_rate() const;
  template <class T>
  const T& pick(const Weighted<T>& w);

  const Scenario& s_;
  const Fleet& f_;
  Rng rng_;
  uint64_t max_requests_, produced_ = 0;
  double t_s_ = 0, max_rate_;
  std::vector<routing::ModelIndex> model_index_;  // per workload.models entry
};

}  // namespace hir::sim
