#include "worker/catalog.h"

namespace hir::worker {

Catalog::Catalog(std::vector<RepositoryModel> models) : models_(std::move(models)) {
  for (size_t m = 0; m < models_.size(); ++m) {
    first_slot_.push_back(slot_info_.size());
    for (size_t v = 0; v < models_[m].versions.size(); ++v) slot_info_.push_back({m, v});
  }
  states_ = std::make_unique<std::atomic<VersionState>[]>(slot_info_.size());
  for (size_t i = 0; i < slot_info_.size(); ++i) states_[i].store(VersionState::kLoading);
}

std::vector<Slot> Catalog::slots() const {
  std::vector<Slot> out;
  for (const SlotInfo& s : slot_info_) {
    const RepositoryModel& m = models_[s.model_index];
    const RowLayout rows = row_layout(m.config);
    out.push_back({m.config.name, m.versions[s.version_index].onnx_path, rows.features,
                   rows.outputs});
  }
  return out;
}

Result<ServedVersion> Catalog::find(std::string_view model, std::string_view version) const {
  size_t mi = 0;
  while (mi < models_.size() && models_[mi].config.name != model) ++mi;
  if (mi == models_.size())
    return NotFound("Request for unknown model: " + quote(model) + " is not found");
  const RepositoryModel& m = models_[mi];
  const size_t first = first_slot_[mi];
  auto served = [&](size_t vi) {
    return ServedVersion{&m, m.versions[vi].version, std::to_string(m.versions[vi].version),
                         first + vi};
  };
  if (version.empty()) {
    // The latest is the highest version that is serving; while loading, the highest overall.
    for (size_t vi = m.versions.size(); vi-- > 0;)
      if (state(first + vi) == VersionState::kReady) return served(vi);
    return served(m.versions.size() - 1);
  }
  for (size_t vi = 0; vi < m.versions.size(); ++vi)
    if (std::to_string(m.versions[vi].version) == version) return served(vi);
  return NotFound("Request for unknown model: " + quote(model) + " version " + clip(version) +
                  " is not found");
}

VersionState Catalog::state(size_t slot) const {
  return slot < slot_info_.size() ? states_[slot].load(std::memory_order_acquire)
                                  : VersionState::kFailed;
}

void Catalog::set_state(size_t slot, VersionState s) {
  if (slot < slot_info_.size()) states_[slot].store(s, std::memory_order_release);
}

ModelSignature Catalog::signature(const RepositoryModel& m) const {
  ModelSignature sig = m.signature;
  sig.versions.clear();
  size_t first = 0;
  while (first < models_.size() && &models_[first] != &m) ++first;
  if (first == models_.size()) return m.signature;
  for (size_t vi = 0; vi < m.versions.size(); ++vi)
    if (state(first_slot_[first] + vi) != VersionState::kFailed)
      sig.versions.push_back(std::to_string(m.versions[vi].version));
  return sig;
}

size_t Catalog::ready_count() const {
  size_t n = 0;
  for (size_t i = 0; i < slot_info_.size(); ++i)
    if (state(i) == VersionState::kReady) ++n;
  return n;
}

}  // namespace hir::worker
