#include "cache/lru.h"

namespace hir::cache {

ShardedLru::ShardedLru(size_t max_bytes, size_t shards, CacheStats& stats)
    : shard_budget_(max_bytes / (shards == 0 ? 1 : shards)), stats_(stats) {
  shards_.resize(shards == 0 ? 1 : shards);
  for (auto& s : shards_) s = std::make_unique<Shard>();
}

// The high half picks the shard and the hash map uses both halves, so the two stay independent.
size_t ShardedLru::shard_of(const CacheKey& key) const { return static_cast<size_t>(key.hi % shards_.size()); }

size_t ShardedLru::shard_bytes(size_t shard) const {
  const Shard& s = *shards_.at(shard);
  std::lock_guard lock(s.mu);
  return s.bytes;
}

void ShardedLru::remove_locked(Shard& s, std::list<Entry>::iterator it) {
  s.bytes -= it->bytes;
  stats_.bytes.fetch_sub(static_cast<int64_t>(it->bytes), std::memory_order_relaxed);
  stats_.entries.fetch_sub(1, std::memory_order_relaxed);
  s.index.erase(it->key);
  s.order.erase(it);
}

std::optional<LruHit> ShardedLru::lookup(const CacheKey& key, TimePoint now) {
  Shard& s = *shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  auto found = s.index.find(key);
  if (found == s.index.end()) return std::nullopt;
  auto it = found->second;
  if (now >= it->stale_until) {
    remove_locked(s, it);
    stats_.expirations.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  s.order.splice(s.order.begin(), s.order, it);
  return LruHit{it->response, now < it->fresh_until ? Freshness::kFresh : Freshness::kStale};
}

void ShardedLru::insert(const CacheKey& key, std::shared_ptr<const InferResponse> response, size_t bytes,
                        TimePoint fresh_until, TimePoint stale_until) {
  Shard& s = *shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  if (auto found = s.index.find(key); found != s.index.end()) remove_locked(s, found->second);
  if (bytes > shard_budget_) {
    stats_.rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  while (s.bytes + bytes > shard_budget_ && !s.order.empty()) {
    remove_locked(s, std::prev(s.order.end()));
    stats_.evictions.fetch_add(1, std::memory_order_relaxed);
  }
  s.order.push_front(Entry{key, std::move(response), bytes, fresh_until, stale_until});
  s.index.emplace(key, s.order.begin());
  s.bytes += bytes;
  stats_.bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  stats_.entries.fetch_add(1, std::memory_order_relaxed);
}

void ShardedLru::erase(const CacheKey& key) {
  Shard& s = *shards_[shard_of(key)];
  std::lock_guard lock(s.mu);
  if (auto found = s.index.find(key); found != s.index.end()) remove_locked(s, found->second);
}

void ShardedLru::clear() {
  for (auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    while (!sp->order.empty()) remove_locked(*sp, sp->order.begin());
  }
}

}  // namespace hir::cache
