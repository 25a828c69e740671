// The fallback cache: the in-process sharded LRU (L1) in front of an optional Redis level shared
// by replicas. The service asks it at two points of a request, per the model's policy:
//   before dispatch, lookup(key, model, Use::kFreshHit): a fresh answer for a fresh_hit model;
//   after every target failed (or the deadline would be missed), lookup(..., Use::kStaleIfError):
//   a fresh or stale answer for a stale_if_error model;
// and store(key, model, response) after a target answered successfully.
// Models without a policy are never stored or answered. Nothing here logs or throws.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/config.h"
#include "cache/key.h"
#include "cache/lru.h"
#include "cache/stats.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"

namespace hir::cache {

class RedisTier;

// Wall-clock milliseconds since the Unix epoch: the time base of values in Redis, shared by
// replicas (a steady clock means nothing across processes). Tests inject their own.
using UnixClock = std::function<int64_t()>;
int64_t system_unix_ms();

enum class Use {
  kFreshHit,      // answer instead of dispatching: fresh entries only
  kStaleIfError,  // answer because dispatch failed: fresh or stale entries
};

enum class Level { kMemory, kRedis };

struct CacheHit {
  std::shared_ptr<const InferResponse> response;  // shared, immutable: copy to set id/parameters
  Freshness freshness = Freshness::kFresh;       // kStale: past its TTL, within its stale window
  Level level = Level::kMemory;                  // where it was found
};

struct RedisStatus {
  bool configured = false;
  bool up = false;         // the last operation worked
  std::string last_error;  // the most recent failure's text, for the service's log and /metrics
};

class FallbackCache {
 public:
  // Validates the config (see cache/config.h). clock (steady, for the in-process level) must
  // outlive the cache; unix_now defaults to the system clock.
  static Result<std::unique_ptr<FallbackCache>> create(CacheConfig config, const Clock& clock,
                                                       UnixClock unix_now = system_unix_ms);
  ~FallbackCache();

  // The model's policy; nullptr when the model is not cached at all.
  const ModelPolicy* policy(std::string_view model) const { return config_.find(model); }
  // True when lookup(…, use) can ever answer for this model: callers skip hashing otherwise.
  bool serves(std::string_view model, Use use) const;
  CacheKey key(const InferRequest& req) const { return make_key(req, key_options_); }

  // L1 first, then Redis; a Redis answer fills L1 with the expiry the value carries. nullopt
  // (counted as a miss) when neither level has a usable entry, and nullopt without counting when
  // the model's policy does not allow `use`. May block on Redis (see cache/redis_tier.h).
  std::optional<CacheHit> lookup(const CacheKey& key, std::string_view model, Use use);
  // The same in two halves, so that a caller on an event loop never waits on Redis. The local
  // half answers from L1; when it finds nothing and Redis may still answer, it sets *ask_redis
  // and counts nothing yet: the caller then runs lookup_redis (which blocks) off its loop, and
  // that counts the outcome.
  std::optional<CacheHit> lookup_local(const CacheKey& key, std::string_view model, Use use, bool* ask_redis);
  std::optional<CacheHit> lookup_redis(const CacheKey& key, Use use);
  bool has_redis() const { return redis_ != nullptr; }
  // A Redis half not run (its caller had no thread free for it): a miss, counted as skipped.
  void skip_redis(Use use);

  // Keeps a successful response for the model's TTL + stale window in L1 and, queued, in Redis.
  // The request id, binary flags and hir_* parameters are not kept (see value.h). No-op for a
  // model without a policy. Never blocks on Redis.
  void store(const CacheKey& key, std::string_view model, const InferResponse& resp);

  const CacheStats& stats() const { return stats_; }
  RedisStatus redis_status() const;
  // Waits until queued Redis writes are sent (for tests and a clean shutdown).
  bool flush(Duration timeout);
  ShardedLru& memory() { return lru_; }

 private:
  FallbackCache(CacheConfig config, const Clock& clock, UnixClock unix_now);
  std::optional<CacheHit> from_redis(const CacheKey& key, Use use);
  void count(const std::optional<CacheHit>& hit, Use use);

  const CacheConfig config_;
  const Clock& clock_;
  UnixClock unix_now_;
  KeyOptions key_options_;
  CacheStats stats_;
  ShardedLru lru_;
  std::unique_ptr<RedisTier> redis_;
};

}  // namespace hir::cache
