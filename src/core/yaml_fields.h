// Reading checked fields from YAML (yaml-cpp) for the configuration and the simulator's
// scenarios: unknown keys, wrong types and missing values become one error naming where it is.
// yaml-cpp reports errors by throwing, so these helpers throw FieldError too; each parser runs
// them inside one try block and turns FieldError and YAML::Exception into a Status there.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

namespace hir::yamlf {

struct FieldError {
  std::string message;
};

[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw FieldError{where + ": " + what};
}

inline void check_keys(const YAML::Node& n, const std::set<std::string>& allowed, const std::string& where) {
  if (!n.IsMap()) fail(where, "must be a mapping");
  // yaml-cpp keeps every duplicate and n[key] reads the first, where most YAML tools (PyYAML, an
  // overlay merge) take the last: a duplicate is refused rather than read either way.
  std::set<std::string> seen;
  for (const auto& kv : n) {
    auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) fail(where, "unknown key '" + key + "'");
    if (!seen.insert(key).second) fail(where, "duplicate key '" + key + "'");
  }
}

// n[key] as a T, or fallback when absent; the wrong type is an error naming the key.
template <class T>
T get(const YAML::Node& n, const char* key, const std::string& where, T fallback) {
  if (!n[key]) return fallback;
  try {
    return n[key].as<T>();
  } catch (const YAML::Exception&) {
    fail(where, std::string("'") + key + "' has the wrong type");
  }
}

inline std::string required_string(const YAML::Node& n, const char* key, const std::string& where) {
  auto s = get<std::string>(n, key, where, "");
  if (s.empty()) fail(where, std::string("'") + key + "' is required");
  return s;
}

}  // namespace hir::yamlf
