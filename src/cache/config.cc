#include "cache/config.h"

#include <set>

namespace hir::cache {

const ModelPolicy* CacheConfig::find(std::string_view model) const {
  for (const auto& m : models)
    if (m.model == model) return &m;
  return nullptr;
}

namespace {

Status check_redis(const RedisConfig& r) {
  if (r.host.empty()) return InvalidArgument("cache.redis.host is required");
  if (r.port == 0) return InvalidArgument("cache.redis.port must be within 1..65535");
  if (r.connect_timeout <= Duration::zero() || r.command_timeout <= Duration::zero())
    return InvalidArgument("cache.redis timeouts must be positive");
  if (r.reconnect_min <= Duration::zero() || r.reconnect_max < r.reconnect_min)
    return InvalidArgument("cache.redis: reconnect_min must be positive and at most reconnect_max");
  if (r.write_queue == 0) return InvalidArgument("cache.redis.write_queue must be at least 1");
  if (r.read_connections == 0 || r.read_connections > 256)
    return InvalidArgument("cache.redis.read_connections must be within 1..256");
  return Status::Ok();
}

}  // namespace

Status validate(const CacheConfig& c) {
  if (c.shards == 0 || c.shards > 4096) return InvalidArgument("cache.shards must be within 1..4096");
  if (c.default_ttl <= Duration::zero()) return InvalidArgument("cache.ttl must be positive");
  if (c.default_stale_window < Duration::zero())
    return InvalidArgument("cache.stale_window must not be negative");
  std::set<std::string> seen;
  for (const auto& m : c.models) {
    const std::string w = "cache.models['" + m.model + "']";
    if (m.model.empty()) return InvalidArgument("cache.models: a model needs a name");
    if (!seen.insert(m.model).second) return InvalidArgument(w + " is listed twice");
    if (m.fresh_hit && !m.deterministic)
      return InvalidArgument(w + ": fresh_hit needs the model to be declared deterministic");
    if (m.ttl && *m.ttl <= Duration::zero()) return InvalidArgument(w + ": ttl must be positive");
    if (m.stale_window && *m.stale_window < Duration::zero())
      return InvalidArgument(w + ": stale_window must not be negative");
  }
  if (c.redis) HIR_RETURN_IF_ERROR(check_redis(*c.redis));
  return Status::Ok();
}

}  // namespace hir::cache
