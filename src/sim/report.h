// The figures the acceptance asks for, computed from one run's request records, and
// their text and JSON forms. Definitions (docs/simulator.md says the same in prose):
//   latency p50/p95/p99  nearest-rank, over every request that was not shed, to its answer or
//                        to its failure (a timed-out request counts at its deadline)
//   success rate         answered OK within the budget / all requests (shed ones included)
//   fallback rate        requests that needed a fallback attempt (hedges not counted) / all
//   edge utilization     service slot-seconds on edge targets / slot-seconds of edge targets up,
//                        over the window from the first to the last arrival
//   cost per inference   total spend (every attempt, wasted work included) / successful requests
//   cost vs cloud        total spend / the always-cloud baseline's total spend on the same trace
//   routing accuracy     see routing_correct() in report.cc
//   no idle cheaper slot the capacity-consistent companion: routed right when answered OK in
//                        budget meeting the accuracy need and no cheaper kind had a device the
//                        run left idle for the request (RequestRecord::cheaper_idle); same
//                        denominator as routing accuracy
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/money.h"
#include "sim/engine.h"
#include "sim/fleet.h"

namespace hir::sim {

struct Figures {
  std::string policy;
  uint64_t requests = 0, ok = 0, failed = 0, shed = 0, fell_back = 0, hedged = 0;
  uint64_t oracle_feasible = 0, routed_right = 0;
  uint64_t blind_oracle_feasible = 0, blind_routed_right = 0;  // against the queue-blind oracle
  uint64_t no_idle_cheaper_right = 0;  // of oracle_feasible: routed right by "no idle cheaper slot"
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
  double success_rate = 0, fallback_rate = 0, edge_utilization = 0, routing_accuracy = 0,
         blind_routing_accuracy = 0, no_idle_cheaper_accuracy = 0;
  Money total_cost;
  double cost_per_inference_usd = 0;
  double cost_vs_cloud = 0;  // total / always-cloud total; NaN when always-cloud spent nothing
  std::array<uint64_t, 4> answered_by_class{};  // by HardwareClass
  double window_s = 0;
  uint64_t events = 0;
  std::array<uint64_t, 5> attempts{};  // attempt outcomes: ok, error, timeout, refused, overloaded
};

Figures compute_figures(const std::string& policy, const Fleet& f, const RunResult& r);

struct Report {
  std::string scenario;
  uint64_t seed = 0;
  std::vector<Figures> runs;  // hir first, then the baselines
};

// A table: one column per policy, one row per figure.
std::string format_text(const Report& r);
std::string format_json(const Report& r);

}  // namespace hir::sim
