// The discrete-event engine: runs one policy over a scenario's trace and fault timeline on a
// simulated clock (TimePoint = a fixed epoch + simulated nanoseconds) and collects what each
// request experienced. Deterministic for a seed: every random stream (trace, faults, slow
// devices, report phases, the policy's own draws) is seeded from it, and ties between events at
// the same nanosecond are broken by the order they were scheduled.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/money.h"
#include "sim/fleet.h"
#include "sim/policies.h"
#include "sim/scenario.h"

namespace hir::sim {

// One request's fate, kept for the figures (a few dozen bytes each).
struct RequestRecord {
  enum class Fate : uint8_t { kOk, kFailed, kShed };
  Fate fate = Fate::kFailed;
  bool fell_back = false, hedged = false;
  float latency_ms = 0;     // to the answer, or to the failure (not for shed requests)
  int32_t final_kind = -1;  // the kind that answered
  int32_t oracle_kind = -1; // the oracle's pick; -1: nothing could have met the constraints
  int32_t blind_oracle_kind = -1;  // the queue-blind oracle's pick (see sim/oracle.h)
  float budget_ms = 0;
  int64_t cost_nano = 0;    // every attempt's cost, hedges and lost work included
  int64_t oracle_cost_nano = 0;
  int64_t blind_oracle_cost_nano = 0;
  bool accuracy_met = true; // the answering variant met min_accuracy at the request's complexity
  // Judged once the run is over, for requests answered OK in budget with an oracle pick: a kind
  // cheaper than cost_nano had a device the run left idle for the whole time this request would
  // have held it (sim/oracle.h, cheaper_idle_option).
  bool cheaper_idle = false;
};

struct RunResult {
  std::vector<RequestRecord> requests;
  Money total_cost;
  double edge_busy_s = 0;      // slot-seconds of service on edge targets within the window
  double edge_capacity_s = 0;  // slot-seconds of edge targets that were up within the window
  double window_s = 0;         // first to last arrival
  uint64_t events = 0;
  std::array<uint64_t, 5> attempts{};  // attempt outcomes, by routing::Outcome
};

struct RunOptions {
  uint64_t seed = 1;
  uint64_t max_requests = 0;  // 0: the scenario's duration
  // Called now and then with the share of the trace done (0..1).
  std::function<void(double)> progress;
};

RunResult run_policy(const Scenario& s, const Fleet& f, SimPolicy& policy, const RunOptions& opt);

// Seeds of the independent random streams, derived from the run's seed.
uint64_t stream_seed(uint64_t seed, uint64_t stream);
enum Stream : uint64_t { kTraceStream = 1, kFaultStream, kSlowStream, kPhaseStream, kPolicyStream };

}  // namespace hir::sim
