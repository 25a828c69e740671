#include "router/policy.h"

#include <fmt/format.h>

#include <algorithm>

namespace hir::router {

Result<Plan> OrderedPreferencePolicy::plan(const ModelConfig& model,
                                           const RequestHints& hints) const {
  Plan p;
  double best_accuracy = 0;
  size_t too_expensive = 0;
  for (const auto& v : model.variants) {
    best_accuracy = std::max(best_accuracy, v.accuracy);
    if (hints.min_accuracy && v.accuracy < *hints.min_accuracy) continue;
    for (const auto& tname : v.targets) {
      const TargetConfig* t = cfg_.find_target(tname);
      if (!t) continue;  // parse_config rejects unknown names; this is only a guard
      if (hints.max_cost && t->cost_per_request > *hints.max_cost) {
        ++too_expensive;
        continue;
      }
      p.attempts.push_back({t, &v});
    }
  }
  if (p.attempts.empty()) {
    if (hints.min_accuracy && best_accuracy < *hints.min_accuracy)
      return InvalidArgument(fmt::format(
          "no variant of model '{}' reaches min_accuracy {} (the best is {})",
          model.signature.name, *hints.min_accuracy, best_accuracy));
    if (!hints.max_cost) return Internal("model '" + model.signature.name + "' has no usable target");
    return InvalidArgument(fmt::format("no target for model '{}' fits max_cost_usd {} ({} priced above it)",
                                       model.signature.name, hints.max_cost->usd(), too_expensive));
  }
  p.reason = fmt::format("ordered preference: {} candidate(s), primary {} on {}", p.attempts.size(),
                         p.attempts[0].variant->name, p.attempts[0].target->name);
  return p;
}

}  // namespace hir::router
