// `hir sim SCENARIO.yaml`: run hir's Router and the trivial baselines over the same trace and
// fault timeline, and report the acceptance figures side by side.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/status.h"
#include "sim/report.h"
#include "sim/scenario.h"

namespace hir::sim {

struct SimOptions {
  std::string scenario_path;
  std::optional<uint64_t> seed;  // default: the scenario's
  std::string json_path;         // also write the figures here as JSON
  uint64_t max_requests = 0;     // 0: the scenario's duration
  bool progress = false;         // a progress bar on stderr
};

// Every policy (hir first) over the scenario; `progress` gets (policy index, share done).
// The most requests one run may simulate (--requests, or the scenario's rate × duration_s).
inline constexpr uint64_t kMaxSimRequests = 10'000'000;

Result<Report> simulate(const Scenario& s, uint64_t seed, uint64_t max_requests,
                        const std::function<void(size_t, double)>& progress = {});

// The CLI entry point: prints the table on stdout; errors on stderr. Returns the exit status.
int run_sim(const SimOptions& o);

}  // namespace hir::sim
