// Stands in for a WAN link in local deployments: each response is held back by rtt ± jitter
// (uniform), so a hir-worker on loopback behaves like a cloud endpoint far away. Only the
// delay is computed here; the service holds the response with a timer on the event loop, not a
// sleeping thread, so a delayed response costs no thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

#include "core/time.h"

namespace hir::worker {

class RttEmulator {
 public:
  // Negative values count as 0. `seed` fixes the jitter sequence (tests).
  RttEmulator(double rtt_ms, double jitter_ms, uint64_t seed);

  bool enabled() const { return rtt_ms_ > 0 || jitter_ms_ > 0; }
  // The next response's delay, in [max(0, rtt - jitter), rtt + jitter]. Thread-safe.
  Duration next_delay();

 private:
  double rtt_ms_;
  double jitter_ms_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace hir::worker
