// Reads the `cache:` section of the router's YAML configuration into a CacheConfig.
//
// Header-only on purpose: hir_cache does not link yaml-cpp, so only code that already does (the
// router's config parser) includes this. Unknown keys are errors; the error names the field.
//
//   cache:
//     max_bytes: 67108864        # in-process level, across all shards
//     shards: 16
//     ttl_ms: 60000              # default fresh TTL
//     stale_window_ms: 600000    # default stale window after it
//     redis:                     # optional: the level shared by replicas
//       host: 127.0.0.1
//       port: 6379
//       key_prefix: "hir:v1:"
//       connect_timeout_ms: 20
//       command_timeout_ms: 20
//       reconnect_min_ms: 100
//       reconnect_max_ms: 5000
//       write_queue: 1024
//       read_connections: 4
//     models:
//       - {name: fmnist, deterministic: true, modes: [fresh_hit, stale_if_error], ttl_ms: 30000}
//       - {name: other, modes: [stale_if_error]}
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "cache/config.h"
#include "core/yaml_fields.h"

namespace hir::cache {

namespace yaml_detail {

// A duration in milliseconds within [0 or (0, a day]: beyond any sane cache lifetime for a
// fallback, far from overflow.
inline Duration ms_field(const YAML::Node& n, const char* key, const std::string& w, Duration fallback, bool zero_ok) {
  double v = yamlf::get<double>(n, key, w, to_ms(fallback));
  if (!((zero_ok ? v >= 0 : v > 0) && v <= 86.4e6))
    yamlf::fail(w, std::string("'") + key + "' must be within " + (zero_ok ? "[0" : "(0") + ", 86400000] ms");
  return from_ms(v);
}

inline RedisConfig parse_redis(const YAML::Node& n) {
  const std::string w = "cache.redis";
  yamlf::check_keys(n, {"host", "port", "key_prefix", "connect_timeout_ms", "command_timeout_ms",
                        "reconnect_min_ms", "reconnect_max_ms", "write_queue", "read_connections"}, w);
  RedisConfig r;
  r.host = yamlf::get<std::string>(n, "host", w, r.host);
  int port = yamlf::get<int>(n, "port", w, r.port);
  if (port < 1 || port > 65535) yamlf::fail(w, "port out of range");
  r.port = static_cast<uint16_t>(port);
  r.key_prefix = yamlf::get<std::string>(n, "key_prefix", w, r.key_prefix);
  r.connect_timeout = ms_field(n, "connect_timeout_ms", w, r.connect_timeout, false);
  r.command_timeout = ms_field(n, "command_timeout_ms", w, r.command_timeout, false);
  r.reconnect_min = ms_field(n, "reconnect_min_ms", w, r.reconnect_min, false);
  r.reconnect_max = ms_field(n, "reconnect_max_ms", w, r.reconnect_max, false);
  r.write_queue = yamlf::get<size_t>(n, "write_queue", w, r.write_queue);
  r.read_connections = yamlf::get<size_t>(n, "read_connections", w, r.read_connections);
  return r;
}

inline ModelPolicy parse_model(const YAML::Node& n, size_t i) {
  std::string w = "cache.models[" + std::to_string(i) + "]";
  yamlf::check_keys(n, {"name", "deterministic", "modes", "ttl_ms", "stale_window_ms"}, w);
  ModelPolicy p;
  p.model = yamlf::required_string(n, "name", w);
  w = "cache.models['" + p.model + "']";
  p.deterministic = yamlf::get<bool>(n, "deterministic", w, false);
  const YAML::Node modes = n["modes"];
  if (!modes || !modes.IsSequence() || modes.size() == 0) yamlf::fail(w, "'modes' needs fresh_hit and/or stale_if_error");
  for (const auto& m : modes) {
    auto s = m.as<std::string>();
    if (s == "fresh_hit") p.fresh_hit = true;
    else if (s == "stale_if_error") p.stale_if_error = true;
    else yamlf::fail(w, "mode '" + s + "' is not one of fresh_hit, stale_if_error");
  }
  if (n["ttl_ms"]) p.ttl = ms_field(n, "ttl_ms", w, Duration::zero(), false);
  if (n["stale_window_ms"]) p.stale_window = ms_field(n, "stale_window_ms", w, Duration::zero(), true);
  return p;
}

}  // namespace yaml_detail

// Throws yamlf::FieldError or YAML::Exception, like the router's other section parsers, so it
// runs inside their one try block. An absent section gives the defaults with no model cached.
inline CacheConfig parse_cache_section(const YAML::Node& n) {
  CacheConfig c;
  if (!n) return c;
  const std::string w = "cache";
  yamlf::check_keys(n, {"max_bytes", "shards", "ttl_ms", "stale_window_ms", "redis", "models"}, w);
  c.max_bytes = yamlf::get<size_t>(n, "max_bytes", w, c.max_bytes);
  c.shards = yamlf::get<size_t>(n, "shards", w, c.shards);
  c.default_ttl = yaml_detail::ms_field(n, "ttl_ms", w, c.default_ttl, false);
  c.default_stale_window = yaml_detail::ms_field(n, "stale_window_ms", w, c.default_stale_window, true);
  if (n["redis"]) c.redis = yaml_detail::parse_redis(n["redis"]);
  if (const YAML::Node ms = n["models"]) {
    if (!ms.IsSequence()) yamlf::fail(w, "'models' must be a list");
    for (size_t i = 0; i < ms.size(); ++i) c.models.push_back(yaml_detail::parse_model(ms[i], i));
  }
  // validate() names the key in full ("cache.models[...]"): no second prefix.
  if (Status s = validate(c); !s.ok()) throw yamlf::FieldError{s.message()};
  return c;
}

// The same, with errors as values, for callers outside a try block.
inline Result<CacheConfig> parse_cache_config(const YAML::Node& n) {
  try {
    return parse_cache_section(n);
  } catch (const yamlf::FieldError& e) {
    return InvalidArgument("config: " + e.message);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config: ") + e.what());
  }
}

}  // namespace hir::cache
