// Scans a Triton-layout model repository:
//
//   <repo>/<model>/config.yaml
//   <repo>/<model>/<version>/model.onnx     (version: a positive integer directory name)
//
// Scanning reads configs and lists files only; it loads no model (the executor does that, once per
// inference thread). Bad entries are skipped and described in `problems`, so one broken model does
// not take the others down; only an unusable repository as a whole is an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "worker/model_config.h"

namespace hir::worker {

struct ModelVersion {
  int64_t version = 0;
  std::filesystem::path onnx_path;
};

struct RepositoryModel {
  ModelConfig config;
  ModelSignature signature;           // the v2 metadata, versions included
  std::vector<ModelVersion> versions;  // ascending; never empty
};

struct RepositoryScan {
  std::vector<RepositoryModel> models;  // sorted by name
  std::vector<std::string> problems;    // one line per skipped entry, for the log
};

// `only`: serve just these model names (empty: all). A name in `only` that is not servable is an
// error, since the operator asked for it explicitly. Errors: the repository is missing or not a
// directory, a requested model is missing or broken, or no model at all is servable.
Result<RepositoryScan> scan_repository(const std::filesystem::path& root,
                                       const std::vector<std::string>& only = {});

// Parses a version directory name: digits only, > 0, no leading '+' or '-'.
std::optional<int64_t> parse_version_dir(std::string_view name);

}  // namespace hir::worker
