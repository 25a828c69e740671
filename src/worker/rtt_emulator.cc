#include "worker/rtt_emulator.h"

#include <algorithm>

namespace hir::worker {

RttEmulator::RttEmulator(double rtt_ms, double jitter_ms, uint64_t seed)
    : rtt_ms_(std::max(rtt_ms, 0.0)), jitter_ms_(std::max(jitter_ms, 0.0)), rng_(seed) {}

Duration RttEmulator::next_delay() {
  if (!enabled()) return Duration::zero();
  double ms = rtt_ms_;
  if (jitter_ms_ > 0) {
    std::uniform_real_distribution<double> jitter(-jitter_ms_, jitter_ms_);
    std::lock_guard lock(mu_);
    ms += jitter(rng_);
  }
  return from_ms(std::max(ms, 0.0));
}

}  // namespace hir::worker
