// Latency distributions for simulated service times and network round trips.
//
// A lognormal is fixed by its median m and 95th percentile q: ln X ~ N(ln m, s^2) with
// s = ln(q / m) / z_0.95 (z_0.95 = 1.6448536...), the usual fit for heavy-right-tailed service
// times (e.g. Dean & Barroso, "The Tail at Scale", CACM 2013). Sampling is split in two so that
// one standard-normal draw per request can be shared: the oracle and the routed attempt see the
// *same* realized latency for the same (request, candidate) pair.
#pragma once

#include <cmath>
#include <numbers>

#include "core/rng.h"
#include "core/time.h"

namespace hir::sim {

inline constexpr double kZ95 = 1.6448536269514722;

// A standard normal draw (Box–Muller; one of the pair is discarded — simplicity over speed).
inline double standard_normal(Rng& rng) {
  double u1 = rng.uniform();
  double u2 = rng.uniform();
  if (u1 < 1e-300) u1 = 1e-300;  // log(0) guard
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Exponential with the given mean (inverse transform).
inline double exponential(Rng& rng, double mean) { return -mean * std::log(1.0 - rng.uniform()); }

struct LogNormal {
  double median_ms = 1;
  double sigma = 0;  // 0: constant at the median

  static LogNormal from_median_p95(double median_ms, double p95_ms) {
    return {median_ms, p95_ms > median_ms ? std::log(p95_ms / median_ms) / kZ95 : 0.0};
  }
  // The value at standard-normal draw z, scaled (a slow device, a brownout).
  double at_ms(double z, double scale = 1.0) const { return scale * median_ms * std::exp(sigma * z); }
  double p95_ms() const { return median_ms * std::exp(sigma * kZ95); }
};

}  // namespace hir::sim
