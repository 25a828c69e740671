// The Redis level against a real redis-server started by the test. No test asserts a timing:
// waits are bounded polls that end as soon as the expected state is reached.
#include <gtest/gtest.h>

#include <thread>

#include "cache/fallback_cache.h"
#include "cache/value.h"
#include "redis_server.h"
#include "test_support.h"

namespace hir::cache {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ManualClock;
using testing::RedisServer;
using testing::raw_command;
using testing::request;
using testing::response;

CacheConfig config_for(int port, Duration command_timeout = milliseconds(500)) {
  CacheConfig c;
  c.default_ttl = seconds(10);
  c.default_stale_window = seconds(50);
  ModelPolicy det;
  det.model = "det";
  det.deterministic = det.fresh_hit = det.stale_if_error = true;
  ModelPolicy quick = det;
  quick.model = "quick";
  quick.ttl = milliseconds(100);
  quick.stale_window = milliseconds(100);
  c.models = {det, quick};
  RedisConfig r;
  r.port = static_cast<uint16_t>(port);
  r.key_prefix = "hir:test:";
  // Generous for a loaded test machine; the product's default is 20 ms.
  r.connect_timeout = command_timeout;
  r.command_timeout = command_timeout;
  r.reconnect_min = milliseconds(10);
  r.reconnect_max = milliseconds(100);
  c.redis = r;
  return c;
}

std::unique_ptr<FallbackCache> make_cache(CacheConfig c, const Clock& clock, UnixClock unix = system_unix_ms) {
  auto r = FallbackCache::create(std::move(c), clock, std::move(unix));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(*r) : nullptr;
}

// Polls `done` every 20 ms for up to 15 s: long enough for any loaded machine, and the test
// asserts only that the state was reached, never how soon.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 750; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::redis_available()) GTEST_SKIP() << "redis-server is not installed at " << testing::kRedisServer;
    ASSERT_TRUE(server.start());
  }
  std::string redis_key(const CacheKey& k) const { return "hir:test:" + k.hex(); }

  RealClock clock;
  RedisServer server;
};

TEST_F(RedisTest, TwoReplicasShareAHitThroughRedis) {
  auto a = make_cache(config_for(server.port()), clock);
  auto b = make_cache(config_for(server.port()), clock);
  CacheKey k = a->key(request("det"));
  a->store(k, "det", response("det"));
  ASSERT_TRUE(a->flush(seconds(10)));
  EXPECT_EQ(a->stats().redis_writes.load(), 1u);

  // The key carries the end of the stale window as its expiry.
  auto pttl = raw_command(server.port(), {"PTTL", redis_key(k)});
  ASSERT_TRUE(pttl);
  ASSERT_EQ(pttl->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(pttl->integer, 0);
  EXPECT_LE(pttl->integer, 60'000);

  auto hit = b->lookup(k, "det", Use::kFreshHit);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, Level::kRedis);
  EXPECT_EQ(hit->freshness, Freshness::kFresh);
  EXPECT_EQ(hit->response->outputs[0].data, response("det").outputs[0].data);
  EXPECT_EQ(b->stats().redis_hits.load(), 1u);
  // The Redis hit filled b's own level.
  hit = b->lookup(k, "det", Use::kFreshHit);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, Level::kMemory);

  EXPECT_FALSE(b->lookup(b->key(request("det", 0.9f)), "det", Use::kFreshHit));
  EXPECT_EQ(b->stats().redis_misses.load(), 1u);
  EXPECT_TRUE(b->redis_status().up);
  EXPECT_EQ(b->stats().redis_errors.load(), 0u);
}

TEST_F(RedisTest, TheValueCarriesItsOwnExpiry) {
  ManualClock writer_clock;
  auto a = make_cache(config_for(server.port()), writer_clock, [&] { return writer_clock.unix_ms(); });
  CacheKey k = a->key(request("det"));
  a->store(k, "det", response("det"));
  ASSERT_TRUE(a->flush(seconds(10)));

  // A replica whose clock reads past the TTL sees the value as stale...
  ManualClock later;
  later.advance(seconds(10));
  auto b = make_cache(config_for(server.port()), later, [&] { return later.unix_ms(); });
  auto stale = b->lookup(k, "det", Use::kStaleIfError);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->level, Level::kRedis);
  EXPECT_EQ(stale->freshness, Freshness::kStale);
  // ...and the stale entry it copied into memory keeps the same deadlines.
  EXPECT_FALSE(b->lookup(k, "det", Use::kFreshHit));
  later.advance(seconds(49));
  EXPECT_TRUE(b->lookup(k, "det", Use::kStaleIfError));
  later.advance(seconds(1));
  EXPECT_FALSE(b->lookup(k, "det", Use::kStaleIfError));

  // One past the stale window ignores it even though Redis still holds the key.
  ManualClock much_later;
  much_later.advance(seconds(60));
  auto c = make_cache(config_for(server.port()), much_later, [&] { return much_later.unix_ms(); });
  EXPECT_FALSE(c->lookup(k, "det", Use::kStaleIfError));
}

TEST_F(RedisTest, RedisDropsTheKeyAtTheEndOfTheStaleWindow) {
  auto a = make_cache(config_for(server.port()), clock);
  CacheKey k = a->key(request("quick"));
  a->store(k, "quick", response("quick"));
  ASSERT_TRUE(a->flush(seconds(10)));
  EXPECT_TRUE(eventually([&] {
    auto r = raw_command(server.port(), {"GET", redis_key(k)});
    return r && r->type == REDIS_REPLY_NIL;
  }));
}

// A value whose expiry no cache of ours writes (a century out: foreign or damaged) is a miss, not
// an entry whose deadline arithmetic overflows.
TEST_F(RedisTest, AValueWithAnExpiryFarOutIsAMiss) {
  auto a = make_cache(config_for(server.port()), clock);
  CacheKey k = a->key(request("det"));
  const int64_t century = int64_t{100} * 366 * 24 * 3600 * 1000;
  StoredValue v{system_unix_ms() + century, system_unix_ms() + century, response("det")};
  ASSERT_TRUE(raw_command(server.port(), {"SET", redis_key(k), encode_value(v)}));
  EXPECT_FALSE(a->lookup(k, "det", Use::kStaleIfError));
  v.fresh_until_ms = v.stale_until_ms = system_unix_ms() + 60'000;  // the same value, sane
  ASSERT_TRUE(raw_command(server.port(), {"SET", redis_key(k), encode_value(v)}));
  EXPECT_TRUE(a->lookup(k, "det", Use::kFreshHit));
}

TEST_F(RedisTest, AnUnreadableValueIsAMiss) {
  auto a = make_cache(config_for(server.port()), clock);
  CacheKey k = a->key(request("det"));
  ASSERT_TRUE(raw_command(server.port(), {"SET", redis_key(k), "not a cache value"}));
  EXPECT_FALSE(a->lookup(k, "det", Use::kStaleIfError));
  EXPECT_EQ(a->stats().redis_misses.load(), 1u);
  EXPECT_EQ(a->stats().misses.load(), 1u);
}

// A server that refuses every command of a kind (no AUTH, a full memory) is down, as an
// unreachable one is: the gauge and the log say so, and the backoff spares it. Before, its error
// replies were counted while redis_up stayed 1, and nothing was logged.
TEST_F(RedisTest, ARedisThatWantsAPasswordIsDownWithoutItAndUpWithIt) {
  ASSERT_TRUE(raw_command(server.port(), {"CONFIG", "SET", "requirepass", "s3cret"}));
  auto without = make_cache(config_for(server.port()), clock);
  CacheKey k = without->key(request("det"));
  EXPECT_FALSE(without->lookup(k, "det", Use::kStaleIfError));
  EXPECT_FALSE(without->redis_status().up);
  EXPECT_NE(without->redis_status().last_error.find("NOAUTH"), std::string::npos) << without->redis_status().last_error;

  CacheConfig c = config_for(server.port());
  c.redis->password = "s3cret";
  auto with = make_cache(c, clock);
  with->store(k, "det", response("det"));
  ASSERT_TRUE(with->flush(seconds(10)));
  EXPECT_EQ(with->stats().redis_writes.load(), 1u);
  auto reader = make_cache(c, clock);
  auto hit = reader->lookup(k, "det", Use::kFreshHit);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, Level::kRedis);
  EXPECT_TRUE(reader->redis_status().up);
  EXPECT_EQ(with->redis_status().last_error.find("s3cret"), std::string::npos);

  c.redis->password = "wrong";
  auto wrong = make_cache(c, clock);
  EXPECT_FALSE(wrong->lookup(k, "det", Use::kStaleIfError));
  EXPECT_FALSE(wrong->redis_status().up);
  EXPECT_EQ(wrong->redis_status().last_error.find("wrong"), std::string::npos) << wrong->redis_status().last_error;
}

TEST_F(RedisTest, AFullRedisIsDownForWritesAndAWrongTypeKeyIsOnlyAMiss) {
  auto a = make_cache(config_for(server.port()), clock);
  CacheKey odd = a->key(request("det", 0.7f));
  ASSERT_TRUE(raw_command(server.port(), {"LPUSH", redis_key(odd), "x"}));
  EXPECT_FALSE(a->lookup(odd, "det", Use::kStaleIfError));
  EXPECT_TRUE(a->redis_status().up) << "one key of another type says nothing of the server";

  ASSERT_TRUE(raw_command(server.port(), {"CONFIG", "SET", "maxmemory-policy", "noeviction"}));
  ASSERT_TRUE(raw_command(server.port(), {"CONFIG", "SET", "maxmemory", "1"}));
  a->store(a->key(request("det", 0.8f)), "det", response("det", 0.8f));
  ASSERT_TRUE(a->flush(seconds(10)));
  EXPECT_GE(a->stats().redis_write_drops.load(), 1u);
  EXPECT_FALSE(a->redis_status().up);
  EXPECT_NE(a->redis_status().last_error.find("OOM"), std::string::npos) << a->redis_status().last_error;
}

TEST_F(RedisTest, KilledRedisLeavesMemoryServingAndReconnectsWhenBack) {
  auto a = make_cache(config_for(server.port()), clock);
  CacheKey cached = a->key(request("det", 0.1f));
  a->store(cached, "det", response("det", 0.1f));
  ASSERT_TRUE(a->flush(seconds(10)));
  ASSERT_TRUE(a->redis_status().up);

  server.kill();
  CacheKey uncached = a->key(request("det", 0.2f));
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(a->lookup(uncached, "det", Use::kStaleIfError));
    auto hit = a->lookup(cached, "det", Use::kFreshHit);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->level, Level::kMemory);
  }
  EXPECT_GE(a->stats().redis_errors.load(), 1u);
  EXPECT_FALSE(a->redis_status().up);
  EXPECT_FALSE(a->redis_status().last_error.empty());
  // Stores keep working in memory; the writes Redis could not take are counted.
  CacheKey during = a->key(request("det", 0.3f));
  a->store(during, "det", response("det", 0.3f));
  ASSERT_TRUE(a->flush(seconds(10)));
  EXPECT_GE(a->stats().redis_write_drops.load(), 1u);
  EXPECT_TRUE(a->lookup(during, "det", Use::kFreshHit));

  ASSERT_TRUE(server.start(server.port()));
  auto b = make_cache(config_for(server.port()), clock);
  CacheKey after = a->key(request("det", 0.4f));
  EXPECT_TRUE(eventually([&] {
    a->store(after, "det", response("det", 0.4f));
    a->flush(seconds(10));
    auto hit = b->lookup(after, "det", Use::kFreshHit);
    return hit && hit->level == Level::kRedis;
  }));
  EXPECT_TRUE(a->redis_status().up);
  EXPECT_GE(a->stats().redis_reconnects.load(), 1u);
  // Reads reconnect too: a's lookup of what b has not got in memory goes to Redis.
  EXPECT_TRUE(eventually([&] {
    CacheKey fresh = b->key(request("det", 0.5f));
    b->store(fresh, "det", response("det", 0.5f));
    b->flush(seconds(10));
    auto hit = a->lookup(fresh, "det", Use::kFreshHit);
    return hit && hit->level == Level::kRedis;
  }));
}

TEST_F(RedisTest, AHungRedisCostsTimeoutsNotAHang) {
  auto a = make_cache(config_for(server.port(), milliseconds(100)), clock);
  CacheKey cached = a->key(request("det", 0.1f));
  a->store(cached, "det", response("det", 0.1f));
  ASSERT_TRUE(a->flush(seconds(10)));

  server.pause();  // accepts connections (the kernel does) but never answers
  CacheKey uncached = a->key(request("det", 0.2f));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(a->lookup(uncached, "det", Use::kStaleIfError));
    EXPECT_TRUE(a->lookup(cached, "det", Use::kFreshHit));
  }
  a->store(a->key(request("det", 0.3f)), "det", response("det", 0.3f));
  EXPECT_TRUE(a->flush(seconds(10)));
  EXPECT_GE(a->stats().redis_errors.load(), 1u);
  EXPECT_FALSE(a->redis_status().up);

  server.resume();
  EXPECT_TRUE(eventually([&] {
    (void)a->lookup(uncached, "det", Use::kStaleIfError);
    return a->redis_status().up;
  }));
}

TEST_F(RedisTest, ManyThreadsShareOneCache) {
  auto a = make_cache(config_for(server.port()), clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        float x = static_cast<float>((i + t) % 20);
        CacheKey k = a->key(request("det", x));
        if (!a->lookup(k, "det", Use::kFreshHit)) a->store(k, "det", response("det", x));
      }
    });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(a->flush(seconds(10)));
  const CacheStats& s = a->stats();
  EXPECT_EQ(s.hits.load() + s.misses.load(), 400u);
  EXPECT_EQ(s.stores.load(), s.misses.load());
  EXPECT_EQ(s.entries.load(), 20);
  EXPECT_EQ(s.redis_errors.load(), 0u);
}

// No server at all: the cache works from memory and reports Redis as down.
TEST(RedisDown, NoServerMeansMemoryOnly) {
  RealClock clock;
  auto a = make_cache(config_for(testing::free_port(), milliseconds(100)), clock);
  CacheKey k = a->key(request("det"));
  a->store(k, "det", response("det"));
  EXPECT_TRUE(a->flush(seconds(10)));
  auto hit = a->lookup(k, "det", Use::kFreshHit);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, Level::kMemory);
  EXPECT_FALSE(a->lookup(a->key(request("det", 0.7f)), "det", Use::kFreshHit));
  EXPECT_GE(a->stats().redis_errors.load(), 1u);
  EXPECT_FALSE(a->redis_status().up);
  EXPECT_NE(a->redis_status().last_error.find("connect"), std::string::npos);
}

}  // namespace
}  // namespace hir::cache
