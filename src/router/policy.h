// The seam where the routing decision plugs in. A policy turns (model, hints) into a plan: the
// ordered (target, variant) pairs to try. Dispatch (service.cc) only follows plans, so a better
// policy replaces this one without touching transport or failover.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "router/config.h"
#include "router/hints.h"

namespace hir::router {

struct Candidate {
  const TargetConfig* target = nullptr;
  const VariantConfig* variant = nullptr;
};

struct Plan {
  std::vector<Candidate> attempts;  // primary first, then the fallback chain
  std::string reason;               // for operators: why this order
};

class RoutingPolicy {
 public:
  virtual ~RoutingPolicy() = default;
  virtual Result<Plan> plan(const ModelConfig& model, const RequestHints& hints) const = 0;
};

// Tries variants in their configured order (each on its targets in order), keeping only those
// that meet min_accuracy and whose per-request price fits max_cost_usd.
class OrderedPreferencePolicy final : public RoutingPolicy {
 public:
  explicit OrderedPreferencePolicy(const Config& cfg) : cfg_(cfg) {}  // cfg outlives the policy
  Result<Plan> plan(const ModelConfig& model, const RequestHints& hints) const override;

 private:
  const Config& cfg_;
};

}  // namespace hir::router
