#include "cache/lru.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_support.h"

namespace hir::cache {
namespace {

using std::chrono::seconds;

CacheKey key(uint64_t i) { return CacheKey{i * 0x9e3779b97f4a7c15ULL, i}; }
std::shared_ptr<const InferResponse> value(float p = 0.5f) {
  return std::make_shared<const InferResponse>(testing::response("m", p));
}

class LruTest : public ::testing::Test {
 protected:
  CacheStats stats;
  TimePoint t0 = TimePoint(seconds(100));
  TimePoint fresh = t0 + seconds(10);
  TimePoint stale = t0 + seconds(20);
};

TEST_F(LruTest, EvictsLeastRecentlyUsedFirst) {
  ShardedLru lru(300, 1, stats);
  lru.insert(key(1), value(), 100, fresh, stale);
  lru.insert(key(2), value(), 100, fresh, stale);
  lru.insert(key(3), value(), 100, fresh, stale);
  ASSERT_TRUE(lru.lookup(key(1), t0));  // 2 is now the least recently used
  lru.insert(key(4), value(), 100, fresh, stale);
  EXPECT_TRUE(lru.lookup(key(1), t0));
  EXPECT_FALSE(lru.lookup(key(2), t0));
  EXPECT_TRUE(lru.lookup(key(3), t0));
  EXPECT_TRUE(lru.lookup(key(4), t0));
  EXPECT_EQ(stats.evictions.load(), 1u);
  EXPECT_EQ(stats.entries.load(), 3);
}

TEST_F(LruTest, KeepsWithinTheByteBudget) {
  ShardedLru lru(1000, 1, stats);
  for (uint64_t i = 0; i < 50; ++i) {
    lru.insert(key(i), value(), 90 + i % 7, fresh, stale);
    EXPECT_LE(lru.shard_bytes(0), 1000u);
    EXPECT_EQ(static_cast<size_t>(stats.bytes.load()), lru.shard_bytes(0));
  }
  EXPECT_GT(stats.evictions.load(), 0u);
  // One large entry pushes out as many as it needs.
  lru.insert(key(99), value(), 900, fresh, stale);
  EXPECT_LE(lru.shard_bytes(0), 1000u);
  EXPECT_TRUE(lru.lookup(key(99), t0));
}

TEST_F(LruTest, RejectsAnEntryLargerThanAShard) {
  ShardedLru lru(1000, 4, stats);
  EXPECT_EQ(lru.shard_budget(), 250u);
  lru.insert(key(1), value(), 251, fresh, stale);
  EXPECT_FALSE(lru.lookup(key(1), t0));
  EXPECT_EQ(stats.rejected.load(), 1u);
  EXPECT_EQ(stats.bytes.load(), 0);
}

TEST_F(LruTest, ReplacingAnEntryRechargesItsBytes) {
  ShardedLru lru(1000, 1, stats);
  lru.insert(key(1), value(0.1f), 100, fresh, stale);
  lru.insert(key(1), value(0.9f), 300, fresh, stale);
  EXPECT_EQ(stats.bytes.load(), 300);
  EXPECT_EQ(stats.entries.load(), 1);
  auto hit = lru.lookup(key(1), t0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response->outputs[0].data, testing::response("m", 0.9f).outputs[0].data);
}

TEST_F(LruTest, FreshThenStaleThenGone) {
  ShardedLru lru(1000, 1, stats);
  lru.insert(key(1), value(), 100, fresh, stale);
  auto h = lru.lookup(key(1), fresh - std::chrono::nanoseconds(1));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->freshness, Freshness::kFresh);
  h = lru.lookup(key(1), fresh);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->freshness, Freshness::kStale);
  h = lru.lookup(key(1), stale - std::chrono::nanoseconds(1));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->freshness, Freshness::kStale);
  EXPECT_FALSE(lru.lookup(key(1), stale));
  EXPECT_EQ(stats.expirations.load(), 1u);
  EXPECT_EQ(stats.entries.load(), 0);
  EXPECT_EQ(stats.bytes.load(), 0);
}

TEST_F(LruTest, ShardsSplitTheBudgetAndTheKeys) {
  ShardedLru lru(8000, 8, stats);
  std::vector<size_t> per_shard(8);
  for (uint64_t i = 0; i < 800; ++i) ++per_shard[lru.shard_of(key(i))];
  for (size_t n : per_shard) EXPECT_GT(n, 50u);  // spread, not all on one shard
  // Each shard keeps to its own part of the budget.
  for (uint64_t i = 0; i < 800; ++i) lru.insert(key(i), value(), 100, fresh, stale);
  for (size_t s = 0; s < 8; ++s) EXPECT_LE(lru.shard_bytes(s), 1000u);
  EXPECT_LE(stats.bytes.load(), 8000);
  lru.clear();
  EXPECT_EQ(stats.bytes.load(), 0);
  EXPECT_EQ(stats.entries.load(), 0);
}

TEST_F(LruTest, ManyThreadsKeepTheAccountsStraight) {
  ShardedLru lru(50'000, 4, stats);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 2000; ++i) {
        uint64_t k = (i * 7 + static_cast<uint64_t>(t)) % 600;
        if (i % 3 == 0) lru.insert(key(k), value(), 100 + k % 50, fresh, stale);
        else if (i % 11 == 0) lru.erase(key(k));
        else (void)lru.lookup(key(k), t0);
      }
    });
  for (auto& th : threads) th.join();
  size_t total = 0;
  for (size_t s = 0; s < lru.shard_count(); ++s) total += lru.shard_bytes(s);
  EXPECT_EQ(static_cast<size_t>(stats.bytes.load()), total);
  EXPECT_LE(total, 50'000u);
}

}  // namespace
}  // namespace hir::cache
