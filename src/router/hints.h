// Routing hints a client attaches to a request: in the request's `parameters`, or, for clients
// that cannot add parameters, in x-hir-* headers. Parameters win over headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"
#include "net/http.h"
#include "routing/types.h"

namespace hir::router {

using routing::Priority;
using routing::priority_name;

struct RequestHints {
  std::optional<Duration> latency_budget;  // latency_budget_ms / x-hir-latency-budget-ms, > 0
  Priority priority = Priority::kStandard;  // priority / x-hir-priority
  double complexity = 0.5;                  // complexity / x-hir-complexity, 0..1
  std::optional<double> min_accuracy;       // min_accuracy / x-hir-min-accuracy, 0..1
  std::optional<Money> max_cost;            // max_cost_usd / x-hir-max-cost-usd, >= 0
};

// Reads and checks the hints; a value out of range or of the wrong type is kInvalidArgument
// naming the hint, so a client learns about a typo instead of silently getting defaults.
//
// `priority` is also a Triton parameter (an integer, its scheduling priority): an integer value is
// left to the target and does not change hir's priority.
Result<RequestHints> parse_hints(const Parameters& params, const net::Headers& headers);

// Removes hir's own hints from a request's parameters before it goes to a target: a Triton
// target rejects a string `priority`, and the others mean nothing there. Returns how many it
// removed; `removed`, when given, gets their keys.
size_t strip_hints(Parameters& params, std::vector<std::string>* removed = nullptr);
// How many of hir's hints params holds (strip_hints would remove); `keys`, when given, gets them.
size_t count_hints(const Parameters& params, std::vector<std::string>* keys = nullptr);

}  // namespace hir::router
