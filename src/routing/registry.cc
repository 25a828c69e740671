#include "routing/registry.h"

#include <algorithm>
#include <cassert>

namespace hir::routing {

ModelIndex Registry::add_model(std::string name) {
  models_.push_back({std::move(name), {}, {}});
  return static_cast<ModelIndex>(models_.size() - 1);
}

VariantIndex Registry::add_variant(VariantInfo v) {
  assert(v.model < models_.size());
  auto i = static_cast<VariantIndex>(variants_.size());
  models_[v.model].variants.push_back(i);
  variants_.push_back(std::move(v));
  return i;
}

TargetIndex Registry::add_target(TargetInfo t) {
  targets_.push_back(std::move(t));
  return static_cast<TargetIndex>(targets_.size() - 1);
}

void Registry::deploy(VariantIndex v, TargetIndex t) {
  assert(v < variants_.size() && t < targets_.size());
  models_[variants_[v].model].deployments.push_back({v, t});
}

const ModelInfo* Registry::find_model(std::string_view name) const {
  for (const auto& m : models_)
    if (m.name == name) return &m;
  return nullptr;
}

double Registry::accuracy_at(VariantIndex v, double complexity) const {
  return accuracy_at(variants_[v].accuracy, variants_[v].accuracy_by_band, complexity);
}

double Registry::accuracy_at(double accuracy, std::span<const double> by_band, double complexity) {
  if (by_band.empty()) return accuracy;
  double c = std::clamp(complexity, 0.0, 1.0);
  auto n = by_band.size();
  auto band = std::min(n - 1, static_cast<size_t>(c * static_cast<double>(n)));
  return by_band[band];
}

std::string_view Registry::failure_domain(TargetIndex t) const {
  const auto& info = targets_[t];
  return info.failure_domain.empty() ? std::string_view(info.name) : std::string_view(info.failure_domain);
}

}  // namespace hir::routing
