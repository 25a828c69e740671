// Tests for cache/config_yaml.h. Kept out of unit_cache (this folder is not globbed) because
// hir_cache does not link yaml-cpp; move it up one folder once hir_cache's DEPS include yaml-cpp.
#include "cache/config_yaml.h"

#include <gtest/gtest.h>

namespace hir::cache {
namespace {

using std::chrono::milliseconds;

Result<CacheConfig> parse(const std::string& text) { return parse_cache_config(YAML::Load(text)["cache"]); }

std::string error_of(const std::string& text) {
  auto r = parse(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

TEST(CacheConfigYaml, FullSectionParses) {
  auto c = parse(R"(
cache:
  max_bytes: 1048576
  shards: 8
  ttl_ms: 30000
  stale_window_ms: 0
  redis: {host: 10.0.0.5, port: 6380, key_prefix: "x:", connect_timeout_ms: 15, command_timeout_ms: 25,
          reconnect_min_ms: 50, reconnect_max_ms: 2000, write_queue: 64, read_connections: 2}
  models:
    - {name: fmnist, deterministic: true, modes: [fresh_hit, stale_if_error], ttl_ms: 1000}
    - {name: other, modes: [stale_if_error], stale_window_ms: 5000}
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->max_bytes, 1048576u);
  EXPECT_EQ(c->shards, 8u);
  EXPECT_EQ(c->default_ttl, milliseconds(30000));
  EXPECT_EQ(c->default_stale_window, Duration::zero());
  ASSERT_TRUE(c->redis);
  EXPECT_EQ(c->redis->host, "10.0.0.5");
  EXPECT_EQ(c->redis->port, 6380);
  EXPECT_EQ(c->redis->key_prefix, "x:");
  EXPECT_EQ(c->redis->connect_timeout, milliseconds(15));
  EXPECT_EQ(c->redis->command_timeout, milliseconds(25));
  EXPECT_EQ(c->redis->read_connections, 2u);
  ASSERT_EQ(c->models.size(), 2u);
  const ModelPolicy* f = c->find("fmnist");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->fresh_hit && f->stale_if_error && f->deterministic);
  EXPECT_EQ(f->ttl, milliseconds(1000));
  const ModelPolicy* o = c->find("other");
  ASSERT_NE(o, nullptr);
  EXPECT_FALSE(o->fresh_hit);
  EXPECT_TRUE(o->stale_if_error);
  EXPECT_FALSE(o->ttl);
  EXPECT_EQ(o->stale_window, milliseconds(5000));
}

TEST(CacheConfigYaml, AbsentSectionCachesNothing) {
  auto c = parse("server: {}\n");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->models.empty());
  EXPECT_FALSE(c->redis);
}

TEST(CacheConfigYaml, ErrorsNameTheField) {
  EXPECT_NE(error_of("cache: {sizes: 1}").find("unknown key 'sizes'"), std::string::npos);
  EXPECT_NE(error_of("cache: {redis: {hots: x}}").find("cache.redis"), std::string::npos);
  EXPECT_NE(error_of("cache: {models: [{name: m, modes: [fresh_hit]}]}").find("deterministic"), std::string::npos);
  EXPECT_NE(error_of("cache: {models: [{name: m, modes: [sometimes]}]}").find("sometimes"), std::string::npos);
  EXPECT_NE(error_of("cache: {models: [{name: m}]}").find("modes"), std::string::npos);
  EXPECT_NE(error_of("cache: {models: [{modes: [stale_if_error]}]}").find("'name' is required"), std::string::npos);
  EXPECT_NE(error_of("cache: {ttl_ms: 0}").find("ttl_ms"), std::string::npos);
  EXPECT_NE(error_of("cache: {shards: many}").find("'shards' has the wrong type"), std::string::npos);
  EXPECT_NE(error_of("cache: {redis: {port: 70000}}").find("port"), std::string::npos);
}

}  // namespace
}  // namespace hir::cache
