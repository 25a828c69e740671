// The oracle routing accuracy is measured against. For each request it knows every candidate
// kind's realized latency — the very draws the simulated attempt will use (RTT + service time,
// scaled by any brownout at arrival and the device's own slowness), plus, when given a
// DeviceProbe, the exact wait each device's queue would impose (the ground-truth queue the run
// has built, replayed FIFO with the queued requests' own draws) — which kinds would answer with
// an error, and which devices are reachable. It picks the cheapest (group, variant) that would
// have met the budget, the accuracy need and max_cost. It never reads the router's estimates or
// state: only the scenario, the request's draws, the fault state and the devices' true queues.
// Without a probe it ignores queueing (every reachable group has a free device), the lower bound
// on cost that docs/simulator.md also reports ("Routing accuracy").
#pragma once

#include <optional>

#include "sim/faults.h"
#include "sim/fleet.h"
#include "sim/scenario.h"
#include "sim/schedule.h"
#include "sim/trace.h"

namespace hir::sim {

struct OracleChoice {
  int kind = -1;  // -1: no kind would have met every constraint
  Money cost;
  double latency_ms = 0;
};

// The realized latency and cost of kind k for request r on a device of its group with the given
// slowdown, under the fault state at arrival.
double realized_service_ms(const Fleet& f, const FaultState& fs, const TraceRequest& r, uint32_t k,
                           double device_slowdown);
double realized_rtt_ms(const Scenario& s, const TraceRequest& r, uint32_t group);
bool realized_error(const Scenario& s, const FaultState& fs, const TraceRequest& r, uint32_t group);

// Ground truth about a device's queue, from the engine.
class DeviceProbe {
 public:
  virtual ~DeviceProbe() = default;
  // When a request reaching device t at `reach` would start its service, or nullopt when it
  // would not be served (down, partitioned, outage, or refused by a full queue).
  virtual std::optional<TimePoint> start_time(routing::TargetIndex t, TimePoint reach) = 0;
};

// `now` is the request's arrival; with probe == nullptr, the queue-blind pick.
OracleChoice oracle_pick(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r,
                         TimePoint now = {}, DeviceProbe* probe = nullptr);

// The check behind the capacity-consistent figure ("no idle cheaper slot", docs/simulator.md,
// "Routing accuracy"), asked once a run's schedule is complete: whether some kind costing r less
// than `paid` (its realized cost, routing::predict_cost on its realized service time) — meeting
// r's accuracy need and max_cost, not answering 5xx (r's drawn uniform against the error rate
// under `fs`, the fault state at r's arrival), within the budget with no wait (RTT + service on
// that device, r's own draws, the device's slowness and the brownout under `fs`) — had a device
// that was reachable and had a thread idle (`sched`, not counting r's own attempts) for the whole
// time r would have held it: [arrival + RTT/2, arrival + RTT/2 + service). Sending r there would
// have displaced nobody. Like oracle_pick it reads only ground truth, never the router's state.
bool cheaper_idle_option(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r, Money paid,
                         const Schedule& sched, const Unreachable& unreachable);

}  // namespace hir::sim
