// A simulation scenario: the fleet (target groups), the models and their variants, the workload
// and the faults, as read from a scenario YAML file (see docs/simulator.md for every key).
// Parsing never throws: errors come back as a Status naming the offending key.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "routing/policy.h"
#include "routing/types.h"
#include "sim/distribution.h"

namespace hir::sim {

struct VariantSpec {
  std::string name;
  double accuracy = 0;
  std::vector<double> accuracy_by_band;
  int64_t size_bytes = 0;
};

struct ModelSpec {
  std::string name;
  std::vector<VariantSpec> variants;
};

struct ServeSpec {  // one variant a group serves, with its service-time distribution
  std::string model, variant;
  LogNormal service;
};

struct GroupSpec {
  std::string name;
  routing::HardwareClass hw = routing::HardwareClass::kEdgeCpu;
  int count = 1;
  int sites = 1;              // failure domains "<group>/site-<i>"; devices spread round-robin
  uint32_t concurrency = 1;
  uint32_t queue = 0;         // waiting room beyond `concurrency`; a full queue refuses (503)
  Money cost_per_request, cost_per_second;
  LogNormal rtt;
  double error_rate = 0;      // share of attempts answered with a 5xx
  bool reports = true;        // sends load reports (third-party cloud endpoints do not)
  std::vector<ServeSpec> serves;
};

struct RatePoint {  // piecewise-constant arrival rate from `at_s` on
  double at_s = 0, rps = 0;
};
struct Diurnal {  // rate(t) = mean * (1 + amplitude * sin(2 pi (t - phase) / period))
  double mean_rps = 0, amplitude = 0, period_s = 86400, phase_s = 0;
};

template <class T>
using Weighted = std::vector<std::pair<T, double>>;  // value, weight (weights need not sum to 1)

struct WorkloadSpec {
  std::vector<RatePoint> rate;
  std::optional<Diurnal> diurnal;  // replaces `rate` when set
  Weighted<std::string> models;
  Weighted<double> budgets_ms;
  Weighted<routing::Priority> priorities;
  Weighted<std::optional<double>> min_accuracy;  // nullopt: no accuracy need
  double complexity_min = 0, complexity_max = 1;

  double rate_at(double t_s) const;  // requests per second at t
  // The mean number of requests over [0, duration_s): the integral of rate_at.
  double expected_requests(double duration_s) const;
};

struct ChurnSpec { std::string group; double mean_up_s = 0, mean_down_s = 0; };
struct WindowFault {  // a partition (site), a brownout or an outage (group), over [from, to)
  std::string where;
  double from_s = 0, to_s = 0;
  double slowdown = 1, error_rate = 0;  // brownouts only
};
struct SlowSpec { std::string group; double fraction = 0, slowdown = 1; };

struct FaultSpec {
  std::vector<ChurnSpec> churn;
  std::vector<WindowFault> partitions, brownouts, outages;
  std::vector<SlowSpec> slow;
};

struct RouterSpec {  // the routing configuration plus how the simulated dispatcher behaves
  double default_budget_ms = 100;
  double edge_preference = 0;
  double cloud_spend_cap_usd_per_s = 0;  // 0: no cap
  size_t max_fallbacks = 2;
  double hedge_when_p95_over = 0.8;
  double report_interval_ms = 1000;
  // A non-final attempt times out after factor x its predicted p95 (so a black-holed target
  // leaves budget for the fallback); the final attempt gets the whole remaining budget. 0: every
  // attempt gets the remaining budget.
  double attempt_timeout_factor = 2.0;
  size_t sample_groups_over = routing::PolicyConfig{}.sample_groups_over;  // PolicyConfig's
};

struct Scenario {
  std::string name, description;
  double duration_s = 60;
  uint64_t seed = 1;
  RouterSpec router;
  std::vector<ModelSpec> models;
  std::vector<GroupSpec> groups;
  WorkloadSpec workload;
  FaultSpec faults;
};

Result<Scenario> load_scenario(const std::string& path);
// `origin` names the text in error messages (a file name).
Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& origin);

}  // namespace hir::sim
