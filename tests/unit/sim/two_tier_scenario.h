// A small scenario for the simulator's unit tests: 3 edge devices on 3 sites and a cloud group,
// one model with two variants, a step in the arrival rate at 5 s.
#pragma once

namespace hir::sim::testing {

constexpr const char* kTwoTier = R"(
name: t
duration_s: 10
models: [{name: m, variants: [{name: a, accuracy: 0.8}, {name: b, accuracy: 0.95}]}]
targets:
  - {group: edge, class: edge-cpu, count: 3, sites: 3, concurrency: 1, cost_per_request_usd: 0.000001,
     rtt: {median_ms: 2}, serves: {a: {median_ms: 5, p95_ms: 10}}}
  - {group: cloud, class: cloud, cost_per_request_usd: 0.0001, rtt: {median_ms: 30},
     serves: {a: {median_ms: 2}, b: {median_ms: 4}}}
workload:
  rate: [{at_s: 0, rps: 100}, {at_s: 5, rps: 300}]
  models: {m: 1}
  budgets_ms: {100: 1}
  priorities: {standard: 1}
  min_accuracy: {none: 1}
)";

}  // namespace hir::sim::testing
