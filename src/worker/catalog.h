// The models this worker serves: the scanned repository, one "slot" per (model, version), and
// each slot's loading state. The set of models is fixed at start; only the states change.
//
// Thread-safety: states are atomics; everything else is immutable after construction.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "worker/executor.h"
#include "worker/repository.h"

namespace hir::worker {

enum class VersionState { kLoading, kReady, kFailed };

struct ServedVersion {
  const RepositoryModel* model = nullptr;
  int64_t version = 0;
  std::string version_name;  // "3"
  size_t slot = 0;
};

class Catalog {
 public:
  explicit Catalog(std::vector<RepositoryModel> models);

  const std::vector<RepositoryModel>& models() const { return models_; }
  // One per slot, in slot order: what the executor loads.
  std::vector<Slot> slots() const;

  // `version` empty: the highest ready version (the highest of all while none is ready yet).
  // NotFound with Triton's wording for an unknown model or version.
  Result<ServedVersion> find(std::string_view model, std::string_view version) const;

  VersionState state(size_t slot) const;
  void set_state(size_t slot, VersionState s);
  // The model's v2 metadata, listing the versions that have not failed to load.
  ModelSignature signature(const RepositoryModel& m) const;
  size_t ready_count() const;

 private:
  struct SlotInfo {
    size_t model_index;
    size_t version_index;
  };
  std::vector<RepositoryModel> models_;
  std::vector<SlotInfo> slot_info_;
  std::vector<size_t> first_slot_;  // per model: the slot of its first (lowest) version
  std::unique_ptr<std::atomic<VersionState>[]> states_;
};

}  // namespace hir::worker
