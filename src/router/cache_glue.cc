#include "router/cache_glue.h"

#include <algorithm>

#include "telemetry/log.h"

namespace hir::router {

Result<std::unique_ptr<CacheGlue>> CacheGlue::create(const Config& cfg, telemetry::Registry& metrics) {
  if (!cfg.cache) return std::unique_ptr<CacheGlue>();
  std::unique_ptr<CacheGlue> glue(new CacheGlue(metrics));
  auto cache = cache::FallbackCache::create(*cfg.cache, glue->clock_);
  if (!cache.ok()) return cache.status();
  glue->cache_ = std::move(*cache);
  const auto& redis = cfg.cache->redis;
  if (redis) {
    bool v6 = redis->host.find(':') != std::string::npos;  // bracketed, so the port stays readable
    glue->redis_address_ = (v6 ? "[" + redis->host + "]" : redis->host) + ":" + std::to_string(redis->port);
  }
  glue->make_metrics(redis.has_value());
  if (redis) glue->lookups_ = std::make_unique<WorkQueue>(redis->read_connections, kMaxQueued);
  telemetry::log_info("cache_enabled", {{"models", static_cast<int64_t>(cfg.cache->models.size())},
                                        {"max_bytes", static_cast<int64_t>(cfg.cache->max_bytes)},
                                        {"redis", redis ? glue->redis_address_ : std::string("none")}});
  return glue;
}

// Counters go through Registry counters rather than gauge_fn so that they are exposed with the
// counter type Prometheus' rate() expects; export_metrics() adds what the cache counted since.
void CacheGlue::make_metrics(bool with_redis) {
  const cache::CacheStats& s = cache_->stats();
  auto counter = [this](const std::atomic<uint64_t>& src, const std::string& name, const std::string& help) {
    counters_.push_back({&src, &metrics_.counter(name, help), 0});
  };
  counter(s.hits, "hir_cache_hits_total", "Requests answered from a fresh cache entry instead of a target");
  counter(s.stale_serves, "hir_cache_stale_served_total", "Requests answered from cache after every target failed");
  counter(s.misses, "hir_cache_misses_total", "Cache lookups neither level could answer");
  counter(s.stores, "hir_cache_stores_total", "Target answers stored in the cache");
  counter(s.evictions, "hir_cache_evictions_total", "In-process entries evicted for the byte budget");
  counter(s.expirations, "hir_cache_expirations_total", "In-process entries dropped past their stale window");
  counter(s.rejected, "hir_cache_rejected_total", "Answers too large for a shard, not kept");
  bytes_ = &metrics_.gauge("hir_cache_bytes", "Bytes held by the in-process cache level");
  entries_ = &metrics_.gauge("hir_cache_entries", "Entries held by the in-process cache level");
  if (!with_redis) return;  // a Redis gauge at 0 would read as an outage where none is configured
  counter(s.redis_hits, "hir_cache_redis_hits_total", "Redis lookups that found a usable value");
  counter(s.redis_misses, "hir_cache_redis_misses_total", "Redis lookups without a usable value");
  counter(s.redis_errors, "hir_cache_redis_errors_total", "Failed Redis connects and commands");
  counter(s.redis_skipped, "hir_cache_redis_skipped_total", "Lookups and writes that skipped Redis: down, backing off or busy");
  counter(s.redis_reconnects, "hir_cache_redis_reconnects_total", "Redis connections made after a failure");
  counter(s.redis_writes, "hir_cache_redis_writes_total", "Cache values written to Redis");
  counter(s.redis_write_drops, "hir_cache_redis_write_drops_total", "Cache values not written to Redis: queue full or Redis down");
  redis_up_ = &metrics_.gauge("hir_cache_redis_up", "1 when the last Redis operation worked");
}

bool CacheGlue::caches(std::string_view model) const { return cache_->policy(model) != nullptr; }

std::optional<cache::CacheKey> CacheGlue::key_for(const InferRequest& req, std::string_view model) const {
  if (cache_->policy(model) == nullptr) return std::nullopt;
  return cache_->key(req);
}

std::optional<cache::CacheHit> CacheGlue::lookup_local(const cache::CacheKey& key, std::string_view model,
                                                       cache::Use use, bool* ask_redis) {
  *ask_redis = false;
  if (!cache_->serves(model, use)) return std::nullopt;
  return cache_->lookup_local(key, model, use, ask_redis);
}

void CacheGlue::lookup_redis(const cache::CacheKey& key, cache::Use use,
                             std::function<void(std::optional<cache::CacheHit>)> done) {
  // Shared, so that a refused post leaves it here to run.
  auto job = std::make_shared<std::function<void(std::optional<cache::CacheHit>)>>(std::move(done));
  if (lookups_ && lookups_->post([this, key, use, job] {
        auto hit = cache_->lookup_redis(key, use);
        watch_redis();
        (*job)(std::move(hit));
      }))
    return;
  cache_->skip_redis(use);
  (*job)(std::nullopt);
}

CacheGlue::~CacheGlue() {
  if (lookups_) lookups_->stop();
}

void CacheGlue::store(const cache::CacheKey& key, std::string_view model, const InferResponse& resp) {
  cache_->store(key, model, resp);
  watch_redis();  // the write itself is queued: this sees the outcome of earlier ones
}

void CacheGlue::export_metrics() {
  const cache::CacheStats& s = cache_->stats();
  {
    std::lock_guard lock(export_mu_);
    for (Exported& e : counters_) {
      uint64_t v = e.source->load(std::memory_order_relaxed);
      if (v > e.seen) e.counter->inc(static_cast<double>(v - e.seen));
      e.seen = std::max(e.seen, v);
    }
  }
  bytes_->set(static_cast<double>(s.bytes.load(std::memory_order_relaxed)));
  entries_->set(static_cast<double>(s.entries.load(std::memory_order_relaxed)));
  if (redis_up_) redis_up_->set(s.redis_up.load(std::memory_order_relaxed) ? 1 : 0);
  watch_redis();
}

// Redis starts "unknown" (redis_up is false before the first connection): down is only news
// once an operation has failed, so a quiet start logs nothing.
void CacheGlue::watch_redis() {
  if (redis_address_.empty()) return;
  const cache::CacheStats& s = cache_->stats();
  bool up = s.redis_up.load(std::memory_order_relaxed);
  if (!up && s.redis_errors.load(std::memory_order_relaxed) == 0) return;
  int now = up ? 1 : 0;
  int before = redis_state_.load(std::memory_order_relaxed);
  if (before == now || !redis_state_.compare_exchange_strong(before, now)) return;
  if (up) {
    telemetry::log_info("cache_redis_up", {{"redis", redis_address_}});
  } else {
    // The error text is hiredis's (refused, reset, timed out): it carries no request data.
    telemetry::log_warn("cache_redis_down", {{"redis", redis_address_}, {"error", cache_->redis_status().last_error},
                                             {"action", "serving from the in-process level; reconnecting with backoff"}});
  }
}

InferResponse cached_answer(const InferResponse& stored, const InferRequest& form, const std::string& id,
                            std::string_view how) {
  InferResponse resp = stored;
  resp.id = id;
  resp.binary.assign(resp.outputs.size(), false);
  for (size_t i = 0; i < resp.outputs.size(); ++i) resp.binary[i] = form.wants_binary(resp.outputs[i].name);
  resp.parameters["hir_cache"] = std::string(how);
  return resp;
}

}  // namespace hir::router
