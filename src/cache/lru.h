// The in-process level: a sharded LRU of decoded responses with a byte budget, a fresh TTL and a
// stale window per entry.
//
// Thread-safety: every method may be called from any thread; each shard has its own mutex and
// a key always maps to one shard, so threads contend only when their keys share a shard.
// Time: callers pass `now` (a steady-clock TimePoint), so tests control it.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cache/key.h"
#include "cache/stats.h"
#include "core/tensor.h"
#include "core/time.h"

namespace hir::cache {

enum class Freshness { kFresh, kStale };

struct LruHit {
  std::shared_ptr<const InferResponse> response;  // shared, immutable: copy before changing
  Freshness freshness = Freshness::kFresh;
};

class ShardedLru {
 public:
  // max_bytes is the total; each of `shards` shards gets an equal part. stats must outlive this.
  ShardedLru(size_t max_bytes, size_t shards, CacheStats& stats);
  ShardedLru(const ShardedLru&) = delete;
  ShardedLru& operator=(const ShardedLru&) = delete;

  // A fresh or stale entry, made most recently used; nullopt when absent or past its stale
  // window (then it is removed and counted as expired).
  std::optional<LruHit> lookup(const CacheKey& key, TimePoint now);

  // Inserts or replaces. `bytes` is what the entry is charged against the budget (the caller's
  // estimate of its memory); least recently used entries are evicted until it fits. An entry
  // larger than a shard's budget is not kept (counted as rejected). Requires fresh_until <= stale_until.
  void insert(const CacheKey& key, std::shared_ptr<const InferResponse> response, size_t bytes,
              TimePoint fresh_until, TimePoint stale_until);

  void erase(const CacheKey& key);
  void clear();
  size_t shard_of(const CacheKey& key) const;
  size_t shard_count() const { return shards_.size(); }
  size_t shard_budget() const { return shard_budget_; }
  size_t shard_bytes(size_t shard) const;  // for tests and debugging

 private:
  struct Entry {
    CacheKey key;
    std::shared_ptr<const InferResponse> response;
    size_t bytes = 0;
    TimePoint fresh_until;
    TimePoint stale_until;
  };
  // Most recently used at the front; the map points into the list.
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> order;
    std::unordered_map<CacheKey, std::list<Entry>::iterator, CacheKeyHash> index;
    size_t bytes = 0;
  };

  void remove_locked(Shard& s, std::list<Entry>::iterator it);

  std::vector<std::unique_ptr<Shard>> shards_;
  size_t shard_budget_;
  CacheStats& stats_;
};

}  // namespace hir::cache
