#include "worker/repository.h"

#include <algorithm>
#include <system_error>

namespace hir::worker {
namespace fs = std::filesystem;

std::optional<int64_t> parse_version_dir(std::string_view name) {
  if (name.empty() || name.size() > 18) return std::nullopt;  // 18 digits cannot overflow int64
  int64_t v = 0;
  for (char ch : name) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  if (v <= 0) return std::nullopt;
  return v;
}

namespace {

// One model directory: its config and versions, or why it cannot be served.
Result<RepositoryModel> scan_model(const fs::path& dir) {
  const std::string name = dir.filename().string();
  auto cfg = load_model_config(dir / "config.yaml");
  if (!cfg.ok()) return cfg.status();
  // The directory name is what clients address, so a config naming another model is a mistake.
  if (cfg->name.empty()) cfg->name = name;
  if (cfg->name != name)
    return InvalidArgument("model directory '" + name + "' holds a config named '" + cfg->name +
                           "'");
  HIR_RETURN_IF_ERROR(check_supported(*cfg));

  RepositoryModel m;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    auto v = parse_version_dir(it->path().filename().string());
    if (!v) continue;  // Triton ignores non-numeric subdirectories too
    fs::path onnx = it->path() / "model.onnx";
    if (!fs::is_regular_file(onnx, ec)) continue;  // an empty version directory is not servable
    m.versions.push_back({*v, std::move(onnx)});
  }
  if (ec) return Internal("model '" + name + "': cannot list " + dir.string() + ": " + ec.message());
  if (m.versions.empty())
    return NotFound("model '" + name + "': no version directory with a model.onnx under " +
                    dir.string());
  std::sort(m.versions.begin(), m.versions.end(),
            [](const ModelVersion& a, const ModelVersion& b) { return a.version < b.version; });
  std::vector<std::string> names;
  for (const ModelVersion& v : m.versions) names.push_back(std::to_string(v.version));
  m.signature = signature_of(*cfg, std::move(names));
  m.config = std::move(*cfg);
  return m;
}

}  // namespace

Result<RepositoryScan> scan_repository(const fs::path& root, const std::vector<std::string>& only) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return NotFound("model repository '" + root.string() + "' is not a directory");
  std::vector<fs::path> dirs;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) dirs.push_back(it->path());
  if (ec) return Internal("cannot list model repository '" + root.string() + "': " + ec.message());
  std::sort(dirs.begin(), dirs.end());

  RepositoryScan scan;
  auto wanted = [&](const std::string& n) {
    return only.empty() || std::find(only.begin(), only.end(), n) != only.end();
  };
  for (const fs::path& dir : dirs) {
    const std::string name = dir.filename().string();
    if (!wanted(name) || name.starts_with('.')) continue;
    auto m = scan_model(dir);
    if (!m.ok()) {
      if (!only.empty()) return m.status();  // asked for by name: fail loudly
      scan.problems.push_back("skipping " + dir.string() + ": " + m.status().message());
      continue;
    }
    scan.models.push_back(std::move(*m));
  }
  for (const std::string& n : only) {
    auto has = [&](const RepositoryModel& m) { return m.config.name == n; };
    if (std::none_of(scan.models.begin(), scan.models.end(), has))
      return NotFound("model '" + n + "' (from --models) is not in repository '" + root.string() +
                      "'");
  }
  if (scan.models.empty()) {
    std::string msg = "no servable model in repository '" + root.string() + "'";
    for (const std::string& p : scan.problems) msg += "; " + p;
    return NotFound(msg);
  }
  return scan;
}

}  // namespace hir::worker
