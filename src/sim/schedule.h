// The schedule one policy's run produced, kept for the capacity-consistent routing-accuracy
// figure ("no idle cheaper slot", docs/simulator.md, "Routing accuracy"): per device, the spans
// its threads spent serving (appended in start order as the engine starts them), and when each
// device could not serve at all (down, behind a partitioned site, its group in an outage), from
// the fault timeline. Times are nanoseconds since the simulation epoch; every span is half-open,
// [from, to), so a span ending exactly when another begins does not overlap it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "routing/registry.h"
#include "sim/faults.h"
#include "sim/fleet.h"

namespace hir::sim {

class Schedule {
 public:
  explicit Schedule(size_t devices) : busy_(devices), longest_(devices, 0) {}

  // Device t starts serving request `owner` over [from, to); returns the span's handle for cut().
  uint32_t add(routing::TargetIndex t, int64_t from, int64_t to, uint64_t owner);
  // The device dropped that work at `to` (it went down while serving it).
  void cut(routing::TargetIndex t, uint32_t span, int64_t to);

  // Whether, at every instant of [from, to), fewer than `concurrency` of device t's service spans
  // were running, not counting request `except`'s own: a thread idle for the whole window (an
  // idle thread means an empty queue: the engine starts a queued request as soon as one frees).
  // A window of zero length is taken as one nanosecond.
  bool idle_thread(routing::TargetIndex t, int64_t from, int64_t to, uint32_t concurrency, uint64_t except) const;

  size_t spans(routing::TargetIndex t) const { return busy_[t].size(); }

 private:
  struct Busy {
    int64_t from, to;
    uint64_t owner;
  };
  std::vector<std::vector<Busy>> busy_;
  std::vector<int64_t> longest_;  // per device, the longest span added (an upper bound after cut)
  mutable std::vector<std::pair<int64_t, int>> sweep_;
};

// When each device could not serve, from a fault timeline (FaultEvent::at is the time since the
// epoch): down spells per device, partitions per site, outages per group.
class Unreachable {
 public:
  Unreachable(const Fleet& f, const std::vector<FaultEvent>& timeline);
  // Whether device t was up, its site not partitioned and its group not in an outage at every
  // instant of [from, to) (zero length: the instant `from`).
  bool reachable_throughout(routing::TargetIndex t, int64_t from, int64_t to) const;

 private:
  struct Span {
    int64_t from, to;
  };
  static bool overlaps(const std::vector<Span>& spans, int64_t from, int64_t to);
  const Fleet& f_;
  std::vector<std::vector<Span>> device_, site_, group_;  // each sorted and disjoint
};

}  // namespace hir::sim
