// The simulated fleet built from a scenario: the routing Registry the router decides over (one
// target per device), the simulator's own ground truth per device (group, site, slowness) and the
// candidate kinds — (group, variant) pairs — for which each request draws its latencies up front.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "routing/policy.h"
#include "routing/registry.h"
#include "sim/scenario.h"

namespace hir::sim {

// A (group, variant) pair: every device of the group serving that variant shares the request's
// draw for it, so the oracle and the router see the same realized latency.
struct Kind {
  uint32_t group = 0;
  routing::VariantIndex variant = 0;
  LogNormal service;
};

struct Device {  // simulator-side truth about one routing target
  uint32_t group = 0;
  uint32_t site = 0;          // global site index (a failure domain)
  double slowdown = 1.0;      // a slow device serves everything this much slower
  std::vector<uint32_t> kinds;  // kinds it serves, indexed like its deployments
};

struct Fleet {
  routing::Registry registry;
  std::vector<Device> devices;                        // indexed by TargetIndex
  std::vector<Kind> kinds;
  std::vector<std::vector<uint32_t>> kinds_of_model;  // per ModelIndex
  std::vector<std::string> site_names;
  std::vector<uint32_t> site_group;                   // site -> group
  std::vector<std::vector<routing::TargetIndex>> group_devices;

  // The kind of (target, variant), or -1 when the target does not serve it.
  int kind_of(routing::TargetIndex t, routing::VariantIndex v) const;
};

// Checks references (a group serving an unknown variant, a fault naming an unknown group or
// site) and builds the fleet. `slow_seed` picks which devices are slow (fixed per scenario seed).
Result<Fleet> build_fleet(const Scenario& s, uint64_t slow_seed);

routing::PolicyConfig policy_config(const RouterSpec& r);

}  // namespace hir::sim
