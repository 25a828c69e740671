#include "cache/fallback_cache.h"

#include "cache/redis_tier.h"
#include "cache/value.h"

namespace hir::cache {
namespace {

// Memory an entry costs beyond its encoded size: list node, map node, shared_ptr control block
// and the decoded strings' headers. An estimate; it keeps many tiny entries from looking free.
constexpr size_t kEntryOverhead = 256;

int64_t ms_count(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

bool allows(const ModelPolicy* p, Use use) {
  if (p == nullptr) return false;
  return use == Use::kFreshHit ? p->fresh_hit : p->stale_if_error;
}

}  // namespace

int64_t system_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<std::unique_ptr<FallbackCache>> FallbackCache::create(CacheConfig config, const Clock& clock,
                                                             UnixClock unix_now) {
  HIR_RETURN_IF_ERROR(validate(config));
  if (!unix_now) unix_now = system_unix_ms;
  return std::unique_ptr<FallbackCache>(new FallbackCache(std::move(config), clock, std::move(unix_now)));
}

FallbackCache::FallbackCache(CacheConfig config, const Clock& clock, UnixClock unix_now)
    : config_(std::move(config)), clock_(clock), unix_now_(std::move(unix_now)),
      lru_(config_.max_bytes, config_.shards, stats_) {
  if (config_.redis) redis_ = std::make_unique<RedisTier>(*config_.redis, stats_, clock_);
}

FallbackCache::~FallbackCache() = default;

bool FallbackCache::serves(std::string_view model, Use use) const { return allows(policy(model), use); }

std::optional<CacheHit> FallbackCache::lookup(const CacheKey& key, std::string_view model, Use use) {
  bool ask_redis = false;
  auto hit = lookup_local(key, model, use, &ask_redis);
  return ask_redis ? lookup_redis(key, use) : hit;
}

std::optional<CacheHit> FallbackCache::lookup_local(const CacheKey& key, std::string_view model, Use use,
                                                    bool* ask_redis) {
  *ask_redis = false;
  if (!allows(policy(model), use)) return std::nullopt;
  std::optional<CacheHit> hit;
  if (auto h = lru_.lookup(key, clock_.now())) {
    // A stale L1 entry does not end a fresh_hit lookup: another replica may have stored a fresh
    // answer in Redis since.
    if (use == Use::kStaleIfError || h->freshness == Freshness::kFresh)
      hit = CacheHit{std::move(h->response), h->freshness, Level::kMemory};
  }
  if (!hit && redis_) {
    *ask_redis = true;
    return std::nullopt;
  }
  count(hit, use);
  return hit;
}

std::optional<CacheHit> FallbackCache::lookup_redis(const CacheKey& key, Use use) {
  auto hit = from_redis(key, use);
  count(hit, use);
  return hit;
}

void FallbackCache::skip_redis(Use use) {
  stats_.redis_skipped.fetch_add(1, std::memory_order_relaxed);
  count(std::nullopt, use);
}

void FallbackCache::count(const std::optional<CacheHit>& hit, Use use) {
  auto& counter = !hit ? stats_.misses : use == Use::kFreshHit ? stats_.hits : stats_.stale_serves;
  counter.fetch_add(1, std::memory_order_relaxed);
}

std::optional<CacheHit> FallbackCache::from_redis(const CacheKey& key, Use use) {
  std::optional<std::string> bytes = redis_->get(key);
  Result<StoredValue> v = bytes ? decode_value(*bytes) : Result<StoredValue>(NotFound("absent"));
  int64_t now_ms = unix_now_();
  // Redis drops the key at stale_until by itself (PX); the check guards against clock skew
  // between the writer and this replica and against a value unreadable in this format version.
  // An expiry more than a year out was not written by a cache whose TTLs are checked (config.h):
  // a foreign or damaged value, whose time arithmetic below could overflow. A miss.
  constexpr int64_t kYearMs = int64_t{366} * 24 * 3600 * 1000;
  if (!v.ok() || now_ms >= v->stale_until_ms || v->stale_until_ms - now_ms > kYearMs ||
      v->fresh_until_ms > v->stale_until_ms) {
    if (bytes || redis_->up()) stats_.redis_misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  stats_.redis_hits.fetch_add(1, std::memory_order_relaxed);
  Freshness f = now_ms < v->fresh_until_ms ? Freshness::kFresh : Freshness::kStale;
  size_t size = bytes->size() + kEntryOverhead;
  auto resp = std::make_shared<const InferResponse>(std::move(v->response));
  // Re-base the wall-clock expiry on this process's steady clock.
  TimePoint now = clock_.now();
  lru_.insert(key, resp, size, now + std::chrono::milliseconds(v->fresh_until_ms - now_ms),
              now + std::chrono::milliseconds(v->stale_until_ms - now_ms));
  if (use == Use::kFreshHit && f != Freshness::kFresh) return std::nullopt;
  return CacheHit{std::move(resp), f, Level::kRedis};
}

void FallbackCache::store(const CacheKey& key, std::string_view model, const InferResponse& resp) {
  const ModelPolicy* p = policy(model);
  if (p == nullptr || !(p->fresh_hit || p->stale_if_error)) return;
  Duration ttl = p->ttl.value_or(config_.default_ttl);
  Duration stale = p->stale_window.value_or(config_.default_stale_window);
  int64_t now_ms = unix_now_();
  StoredValue v{now_ms + ms_count(ttl), now_ms + ms_count(ttl + stale), storable(resp)};
  std::string bytes = encode_value(v);
  TimePoint now = clock_.now();
  size_t size = bytes.size() + kEntryOverhead;
  lru_.insert(key, std::make_shared<const InferResponse>(std::move(v.response)), size, now + ttl, now + ttl + stale);
  stats_.stores.fetch_add(1, std::memory_order_relaxed);
  if (redis_) redis_->put(key, std::move(bytes), ttl + stale);
}

RedisStatus FallbackCache::redis_status() const {
  if (!redis_) return {};
  return RedisStatus{true, redis_->up(), redis_->last_error()};
}

bool FallbackCache::flush(Duration timeout) { return redis_ ? redis_->flush(timeout) : true; }

}  // namespace hir::cache
