// The oracle routing accuracy is measured against. For each request it knows every candidate
// kind's realized latency — the very draws the simulated attempt will use (RTT + service time,
// scaled by any brownout at arrival) — which kinds would answer with an error, and which groups
// have any reachable device. It picks the cheapest (group, variant) that would have met the
// budget, the accuracy need and max_cost. It never reads the router's estimates or state: only
// the scenario, the request's draws and the ground-truth fault state. It ignores queueing, which
// depends on the routing itself (see docs/simulator.md, "Routing accuracy").
#pragma once

#include "sim/faults.h"
#include "sim/fleet.h"
#include "sim/scenario.h"
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

OracleChoice oracle_pick(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r);

}  // namespace hir::sim
