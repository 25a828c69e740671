// hir's own JSON messages beside the v2 protocol: a worker's load report (GET /v1/load) and an
// operator's route-explain request (POST /v1/route/explain). Parsed with the same reader as v2.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace hir::protocol {

struct LoadReportMsg {
  bool ready = true;
  uint32_t in_flight = 0, queue_depth = 0, queue_capacity = 0, concurrency = 1;
  double busy_fraction = 0;
  std::vector<std::pair<std::string, double>> model_p95_ms;  // per model name it serves
};
// {"in_flight":n,"queue_depth":n,"queue_capacity":n,"concurrency":n,"busy_fraction":x,
//  "models":{"m":{"p95_ms":x,...}},"ready":b}; unknown keys are ignored (newer workers).
Result<LoadReportMsg> parse_load_report(std::string_view body);

struct ExplainRequestMsg {
  std::string model;
  Parameters parameters;  // the routing hints, as in an infer request's `parameters`
};
// {"model":"fmnist","parameters":{"latency_budget_ms":50,...}}
Result<ExplainRequestMsg> parse_explain_request(std::string_view body);

}  // namespace hir::protocol
