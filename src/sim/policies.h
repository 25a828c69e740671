// What the simulator routes with: hir's own Router, or one of the trivial baselines it is
// compared against on the same trace. Baselines see the fleet's static configuration only (no
// load, no health, no latency estimates) and plan a single attempt: no fallback, no hedge.
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "routing/router.h"
#include "sim/fleet.h"

namespace hir::sim {

class SimPolicy {
 public:
  virtual ~SimPolicy() = default;
  virtual std::string_view name() const = 0;
  virtual Status plan(const routing::RouteRequest& r, TimePoint now, Rng& rng, routing::Plan& out) = 0;
  virtual void on_dispatch(routing::TargetIndex, TimePoint) {}
  // service: the target's own service time when it reports one (hir-worker does).
  virtual void on_result(routing::TargetIndex, routing::VariantIndex, routing::Outcome, Duration /*latency*/,
                         std::optional<Duration> /*service*/, Duration /*queued*/, TimePoint) {}
  virtual void on_load_report(routing::TargetIndex, const routing::LoadReport&, bool /*ready*/, TimePoint) {}
  virtual void on_cost(routing::TargetIndex, Money, TimePoint) {}
};

// hir: routing::Router, fed every dispatch, result, load report and cost.
std::unique_ptr<SimPolicy> make_hir(const Fleet& f, const routing::PolicyConfig& cfg);

// Baselines, by name:
//   always-cheapest  the kind with the lowest configured price whose variant meets min_accuracy
//                    (else the most accurate); a uniformly random device of its group
//   always-cloud     the cheapest cloud kind meeting min_accuracy (else the most accurate cloud one)
//   random           a uniformly random deployment whose variant meets min_accuracy
//   round-robin      the next deployment, in a fixed cycle, whose variant meets min_accuracy
// nullptr for an unknown name.
std::unique_ptr<SimPolicy> make_baseline(std::string_view name, const Fleet& f);

inline constexpr std::string_view kBaselines[] = {"always-cheapest", "always-cloud", "random", "round-robin"};

}  // namespace hir::sim
