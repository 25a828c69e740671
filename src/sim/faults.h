// The fault timeline (ground truth) and the fault state at a moment. The whole timeline — device
// churn included — is drawn up front from its own generator, so every policy run faces the very
// same failures at the very same times.
#pragma once

#include <vector>

#include "core/time.h"
#include "sim/fleet.h"
#include "sim/scenario.h"

namespace hir::sim {

struct FaultEvent {
  enum class Kind : uint8_t { kDeviceDown, kDeviceUp, kPartitionStart, kPartitionEnd,
                              kBrownoutStart, kBrownoutEnd, kOutageStart, kOutageEnd };
  Duration at{};
  Kind kind = Kind::kDeviceDown;
  uint32_t subject = 0;  // device, site or group
  double slowdown = 1, error_rate = 0;
};

// Sorted by time (stable for equal times). Churn runs over [0, horizon).
std::vector<FaultEvent> fault_timeline(const Scenario& s, const Fleet& f, uint64_t seed, Duration horizon);

class FaultState {
 public:
  explicit FaultState(const Fleet& f);
  void apply(const FaultEvent& e);

  bool device_up(routing::TargetIndex t) const { return up_[t]; }
  bool site_partitioned(uint32_t site) const { return partitioned_[site] > 0; }
  // Reachable: up and not behind a partition (an outage takes the whole group down).
  bool reachable(routing::TargetIndex t) const;
  double slowdown(uint32_t group) const { return slowdown_[group]; }
  double extra_error_rate(uint32_t group) const { return error_[group]; }
  bool outage(uint32_t group) const { return outage_[group] > 0; }
  // Some device of the group is reachable (the oracle's view of availability).
  bool group_available(uint32_t group) const;

 private:
  const Fleet& f_;
  std::vector<bool> up_;
  std::vector<int> partitioned_, outage_;
  std::vector<uint32_t> reachable_count_;  // per group: devices up, not partitioned
  std::vector<double> slowdown_, error_;
  void recount(uint32_t group);
};

}  // namespace hir::sim
