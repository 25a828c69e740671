// The fallback cache's configuration: plain structs the router's config code fills (from the
// `cache:` YAML section, see cache/config_yaml.h) and validate() checks. Units are strong types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace hir::cache {

// What the cache may do for one model. A model without a policy is never cached.
struct ModelPolicy {
  std::string model;
  // The operator's word that the same input always gives the same output; fresh_hit needs it,
  // since answering from cache without asking a target is only right for such a model.
  bool deterministic = false;
  bool fresh_hit = false;       // serve a fresh entry before dispatch, calling no target
  bool stale_if_error = false;  // serve a fresh or stale entry when every target failed
  std::optional<Duration> ttl;           // fresh for this long; unset: CacheConfig::default_ttl
  std::optional<Duration> stale_window;  // then stale for this long; unset: the default
};

struct RedisConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string key_prefix = "hir:v1:";  // bump the version when the value format changes
  Duration connect_timeout = std::chrono::milliseconds(20);
  Duration command_timeout = std::chrono::milliseconds(20);
  // After a failure no connection is attempted before the backoff passes; it doubles per
  // failure up to the maximum and resets on success.
  Duration reconnect_min = std::chrono::milliseconds(100);
  Duration reconnect_max = std::chrono::seconds(5);
  size_t write_queue = 1024;    // pending SETs; a full queue drops the newest (counted)
  size_t read_connections = 4;  // lookups that find all busy skip Redis (counted as busy)
  // AUTH after each connect when password is set (from HIR_REDIS_URL's user info, never from the
  // YAML file); username empty: the default user.
  std::string username, password;
};

struct CacheConfig {
  size_t max_bytes = size_t{64} << 20;  // the in-process level's budget, across all shards
  size_t shards = 16;
  Duration default_ttl = std::chrono::seconds(60);
  Duration default_stale_window = std::chrono::minutes(10);
  std::vector<ModelPolicy> models;
  std::optional<RedisConfig> redis;  // unset: no shared level

  const ModelPolicy* find(std::string_view model) const;
};

// Checks ranges and the rules: fresh_hit only for a deterministic model, each model at most
// once, a positive TTL, a non-negative stale window, at least one shard. The error names the field.
Status validate(const CacheConfig& c);

}  // namespace hir::cache
