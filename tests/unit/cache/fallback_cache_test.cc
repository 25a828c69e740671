#include "cache/fallback_cache.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace hir::cache {
namespace {

using std::chrono::seconds;
using testing::ManualClock;
using testing::request;
using testing::response;

ModelPolicy policy(std::string model, bool fresh_hit, bool stale_if_error) {
  ModelPolicy p;
  p.model = std::move(model);
  p.deterministic = fresh_hit;
  p.fresh_hit = fresh_hit;
  p.stale_if_error = stale_if_error;
  return p;
}

CacheConfig config() {
  CacheConfig c;
  c.max_bytes = 1 << 20;
  c.shards = 4;
  c.default_ttl = seconds(10);
  c.default_stale_window = seconds(50);
  c.models = {policy("det", true, true), policy("flaky", false, true), policy("fast", true, false)};
  c.models[1].ttl = seconds(1);
  c.models[1].stale_window = seconds(5);
  return c;
}

class FallbackCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = FallbackCache::create(config(), clock, [this] { return clock.unix_ms(); });
    ASSERT_TRUE(c.ok()) << c.status().message();
    cache = std::move(*c);
  }
  // Stores the response to request(model) and returns the request's key.
  CacheKey store(const std::string& model) {
    CacheKey k = cache->key(request(model));
    cache->store(k, model, response(model));
    return k;
  }

  ManualClock clock;
  std::unique_ptr<FallbackCache> cache;
};

TEST_F(FallbackCacheTest, FreshHitServesAFreshEntryWithoutTheRequestsDetails) {
  CacheKey k = store("det");
  auto hit = cache->lookup(k, "det", Use::kFreshHit);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->freshness, Freshness::kFresh);
  EXPECT_EQ(hit->level, Level::kMemory);
  EXPECT_TRUE(hit->response->id.empty());
  EXPECT_EQ(hit->response->parameters.count("hir_target"), 0u);
  EXPECT_EQ(hit->response->outputs[0].data, response("det").outputs[0].data);
  EXPECT_EQ(cache->stats().hits.load(), 1u);
  EXPECT_EQ(cache->stats().stores.load(), 1u);
}

TEST_F(FallbackCacheTest, TtlThenStaleWindowThenGone) {
  CacheKey k = store("det");
  clock.advance(seconds(10));  // the TTL has passed
  EXPECT_FALSE(cache->lookup(k, "det", Use::kFreshHit));
  auto stale = cache->lookup(k, "det", Use::kStaleIfError);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->freshness, Freshness::kStale);
  clock.advance(seconds(49));
  EXPECT_TRUE(cache->lookup(k, "det", Use::kStaleIfError));
  clock.advance(seconds(1));  // the stale window has passed too
  EXPECT_FALSE(cache->lookup(k, "det", Use::kStaleIfError));
  EXPECT_EQ(cache->stats().hits.load(), 0u);
  EXPECT_EQ(cache->stats().stale_serves.load(), 2u);
  EXPECT_EQ(cache->stats().misses.load(), 2u);
  EXPECT_EQ(cache->stats().entries.load(), 0);
}

TEST_F(FallbackCacheTest, PerModelTtlOverridesTheDefault) {
  CacheKey k = store("flaky");
  clock.advance(seconds(1));
  auto hit = cache->lookup(k, "flaky", Use::kStaleIfError);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->freshness, Freshness::kStale);
  clock.advance(seconds(5));
  EXPECT_FALSE(cache->lookup(k, "flaky", Use::kStaleIfError));
}

TEST_F(FallbackCacheTest, StaleIfErrorServesFreshEntriesToo) {
  CacheKey k = store("flaky");
  auto hit = cache->lookup(k, "flaky", Use::kStaleIfError);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->freshness, Freshness::kFresh);
  EXPECT_EQ(cache->stats().stale_serves.load(), 1u);
}

TEST_F(FallbackCacheTest, ModesAreEnforcedPerModel) {
  CacheKey flaky = store("flaky");
  CacheKey fast = store("fast");
  // flaky is not deterministic: never answered before dispatch, and that is not a miss.
  EXPECT_FALSE(cache->serves("flaky", Use::kFreshHit));
  EXPECT_FALSE(cache->lookup(flaky, "flaky", Use::kFreshHit));
  // fast has no stale_if_error.
  EXPECT_TRUE(cache->serves("fast", Use::kFreshHit));
  EXPECT_FALSE(cache->serves("fast", Use::kStaleIfError));
  EXPECT_FALSE(cache->lookup(fast, "fast", Use::kStaleIfError));
  EXPECT_TRUE(cache->lookup(fast, "fast", Use::kFreshHit));
  EXPECT_EQ(cache->stats().misses.load(), 0u);
}

TEST_F(FallbackCacheTest, ModelsWithoutAPolicyAreNeverStored) {
  CacheKey k = store("unlisted");
  EXPECT_EQ(cache->policy("unlisted"), nullptr);
  EXPECT_FALSE(cache->lookup(k, "unlisted", Use::kStaleIfError));
  EXPECT_EQ(cache->stats().stores.load(), 0u);
  EXPECT_EQ(cache->stats().entries.load(), 0);
}

TEST_F(FallbackCacheTest, DifferentInputsAreDifferentEntries) {
  cache->store(cache->key(request("det", 0.1f)), "det", response("det", 0.1f));
  cache->store(cache->key(request("det", 0.2f)), "det", response("det", 0.2f));
  auto a = cache->lookup(cache->key(request("det", 0.1f)), "det", Use::kFreshHit);
  auto b = cache->lookup(cache->key(request("det", 0.2f)), "det", Use::kFreshHit);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->response->outputs[0].data, response("det", 0.1f).outputs[0].data);
  EXPECT_EQ(b->response->outputs[0].data, response("det", 0.2f).outputs[0].data);
  EXPECT_FALSE(cache->lookup(cache->key(request("det", 0.3f)), "det", Use::kFreshHit));
}

TEST_F(FallbackCacheTest, WithoutRedisTheStatusSaysSo) {
  EXPECT_FALSE(cache->redis_status().configured);
  EXPECT_TRUE(cache->flush(seconds(1)));
}

TEST(CacheConfig, ValidateRejectsBadSettings) {
  ManualClock clock;
  auto bad = [&](auto change) {
    CacheConfig c = config();
    change(c);
    auto r = FallbackCache::create(c, clock);
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_NE(bad([](CacheConfig& c) { c.models[0].deterministic = false; }).find("deterministic"), std::string::npos);
  EXPECT_NE(bad([](CacheConfig& c) { c.models.push_back(c.models[0]); }).find("twice"), std::string::npos);
  EXPECT_NE(bad([](CacheConfig& c) { c.shards = 0; }), "");
  EXPECT_NE(bad([](CacheConfig& c) { c.default_ttl = Duration::zero(); }), "");
  EXPECT_NE(bad([](CacheConfig& c) { c.models[1].ttl = seconds(-1); }), "");
  EXPECT_NE(bad([](CacheConfig& c) { c.models[1].stale_window = seconds(-1); }), "");
  EXPECT_NE(bad([](CacheConfig& c) { c.redis = RedisConfig{}; c.redis->port = 0; }), "");
  EXPECT_NE(bad([](CacheConfig& c) { c.redis = RedisConfig{}; c.redis->read_connections = 0; }), "");
  EXPECT_EQ(bad([](CacheConfig&) {}), "");
}

}  // namespace
}  // namespace hir::cache
