#include "router/config.h"

#include <gtest/gtest.h>

#include "router/embedded_config.h"

using namespace hir::router;

namespace {
const char* kMinimal = R"(
targets:
  - {name: e1, url: "http://127.0.0.1:9001", class: edge-cpu, cost_per_request_usd: 0.00001}
  - {name: c1, url: "http://127.0.0.1:9002", class: cloud, cost_per_request_usd: 0.0002, timeout_ms: 250}
models:
  - name: m
    inputs: [{name: input, datatype: FP32, shape: [784]}]
    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]
    max_batch_size: 8
    variants:
      - {name: m-small, targets: [e1], accuracy: 0.88}
      - {name: m-large, targets: [c1], accuracy: 0.91}
)";

std::string expect_error(const std::string& yaml) {
  auto r = parse_config(yaml);
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? "" : r.status().message();
}
}  // namespace

TEST(Config, EmbeddedDefaultParses) {
  auto cfg = parse_config(embedded_demo_config());
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_GE(cfg->targets.size(), 2u);
  ASSERT_NE(cfg->find_model("fmnist"), nullptr);
  EXPECT_FALSE(cfg->demo_workers.empty());
}

TEST(Config, DemoWorkersCarryTheirEmulatedSpeed) {
  auto cfg = parse_config(std::string(kMinimal) +
                          "demo:\n  workers: [{target: e1, models: [m-small], emulate_service_ms: 2.5}]\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_EQ(cfg->demo_workers.size(), 1u);
  EXPECT_DOUBLE_EQ(cfg->demo_workers[0].emulate_service_ms, 2.5);
  EXPECT_NE(expect_error(std::string(kMinimal) +
                         "demo:\n  workers: [{target: e1, models: [m-small], emulate_service_ms: -1}]\n")
                .find("delays >= 0"),
            std::string::npos);
}

TEST(Config, MinimalParsesWithDefaults) {
  auto cfg = parse_config(kMinimal);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->server.port, 8000);
  const auto* c1 = cfg->find_target("c1");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->hw, HardwareClass::kCloud);
  EXPECT_EQ(c1->cost_per_request, hir::Money::from_usd(0.0002));
  EXPECT_DOUBLE_EQ(hir::to_ms(c1->timeout), 250);
  const auto* m = cfg->find_model("m");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->signature.max_batch_size, 8);
  ASSERT_EQ(m->variants.size(), 2u);
  EXPECT_EQ(m->variants[1].targets[0], "c1");
}

TEST(Config, ErrorsNameTheProblem) {
  EXPECT_NE(expect_error("targets: [").find("config"), std::string::npos);
  EXPECT_NE(expect_error(std::string(kMinimal) + "bogus: 1\n").find("unknown key 'bogus'"), std::string::npos);
  std::string bad_target = kMinimal;
  bad_target.replace(bad_target.find("targets: [c1]"), 13, "targets: [zz]");
  EXPECT_NE(expect_error(bad_target).find("unknown target 'zz'"), std::string::npos);
  std::string bad_class = kMinimal;
  bad_class.replace(bad_class.find("class: cloud"), 12, "class: moon");
  EXPECT_NE(expect_error(bad_class).find("moon"), std::string::npos);
  std::string bad_token = kMinimal;  // only HIR_..._TOKEN variables may hold a target's token
  bad_token.replace(bad_token.find("timeout_ms: 250"), 15, "timeout_ms: 250, token_env: PGPASSWORD");
  EXPECT_NE(expect_error(bad_token).find("HIR_..._TOKEN"), std::string::npos);
  std::string good_token = kMinimal;
  good_token.replace(good_token.find("timeout_ms: 250"), 15, "timeout_ms: 250, token_env: HIR_CLOUD_TOKEN");
  EXPECT_TRUE(parse_config(good_token).ok());
  std::string bad_url = kMinimal;
  bad_url.replace(bad_url.find("http://127.0.0.1:9001"), 21, "ftp://x");
  EXPECT_NE(expect_error(bad_url).find("target 'e1'"), std::string::npos);
  std::string dup = kMinimal;
  dup.replace(dup.find("name: c1"), 8, "name: e1");
  EXPECT_NE(expect_error(dup).find("defined twice"), std::string::npos);
  std::string dup_variant = kMinimal;
  dup_variant.replace(dup_variant.find("name: m-large"), 13, "name: m-small");
  EXPECT_NE(expect_error(dup_variant).find("variant 'm-small' defined twice"), std::string::npos);
  std::string bad_acc = kMinimal;
  bad_acc.replace(bad_acc.find("accuracy: 0.91"), 14, "accuracy: 91.0");
  EXPECT_NE(expect_error(bad_acc).find("accuracy"), std::string::npos);
  std::string bad_dtype = kMinimal;
  bad_dtype.replace(bad_dtype.find("datatype: FP32"), 14, "datatype: FP33");
  EXPECT_NE(expect_error(bad_dtype).find("datatype"), std::string::npos);
  std::string bad_type = kMinimal;
  bad_type.replace(bad_type.find("timeout_ms: 250"), 15, "timeout_ms: abc");
  EXPECT_NE(expect_error(bad_type).find("timeout_ms"), std::string::npos);
  // A duplicate key: yaml-cpp reads the first, most tools the last; neither is guessed.
  EXPECT_NE(expect_error(std::string(kMinimal) + "server: {port: 1}\nserver: {port: 2}\n").find("duplicate key 'server'"),
            std::string::npos);
  std::string dup_key = kMinimal;
  dup_key.replace(dup_key.find("timeout_ms: 250"), 15, "timeout_ms: 250, timeout_ms: 4000");
  EXPECT_NE(expect_error(dup_key).find("duplicate key 'timeout_ms'"), std::string::npos);
  // Limits that would make a server look healthy and refuse everything.
  EXPECT_NE(expect_error(std::string(kMinimal) + "server: {max_connections: 0}\n").find("max_connections"), std::string::npos);
  EXPECT_NE(expect_error(std::string(kMinimal) + "server: {max_body_bytes: 0}\n").find("max_body_bytes"), std::string::npos);
  EXPECT_NE(expect_error(std::string(kMinimal) + "server: {max_body_bytes: -1}\n").find("max_body_bytes"), std::string::npos);
  // Names go into URL paths and metric labels.
  std::string spaced = kMinimal;
  spaced.replace(spaced.find("name: m-small"), 13, "name: \"m small\"");
  EXPECT_NE(expect_error(spaced).find("A-Z a-z 0-9"), std::string::npos);
  EXPECT_FALSE(parse_config("targets: []\nmodels: []\n").ok());
  EXPECT_FALSE(parse_config("").ok());
}

TEST(Config, CacheSectionParsesAndNamesItsErrors) {
  auto cfg = parse_config(std::string(kMinimal) + R"(
cache:
  max_bytes: 1000000
  ttl_ms: 5000
  models:
    - {name: m, deterministic: true, modes: [fresh_hit, stale_if_error]}
)");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_TRUE(cfg->cache.has_value());
  EXPECT_EQ(cfg->cache->max_bytes, 1000000u);
  ASSERT_EQ(cfg->cache->models.size(), 1u);
  EXPECT_TRUE(cfg->cache->models[0].fresh_hit);
  EXPECT_TRUE(cfg->cache->models[0].stale_if_error);
  EXPECT_FALSE(cfg->cache->redis.has_value());

  EXPECT_NE(expect_error(std::string(kMinimal) + "cache:\n  models:\n    - {name: nope, modes: [stale_if_error]}\n")
                .find("unknown model 'nope'"),
            std::string::npos);
  const std::string not_det =
      expect_error(std::string(kMinimal) + "cache:\n  models:\n    - {name: m, modes: [fresh_hit]}\n");
  EXPECT_NE(not_det.find("deterministic"), std::string::npos) << not_det;
  EXPECT_EQ(not_det.find("cache: cache."), std::string::npos) << not_det;  // one prefix, not two
  EXPECT_NE(expect_error(std::string(kMinimal) + "cache:\n  colour: blue\n").find("colour"), std::string::npos);
}

TEST(Config, RedisUrlGivesTheCacheItsAddress) {
  auto cfg = parse_config(std::string(kMinimal) + "cache:\n  models:\n    - {name: m, modes: [stale_if_error]}\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_TRUE(apply_redis_url(*cfg, "redis://10.0.0.7:6380/0").ok());
  ASSERT_TRUE(cfg->cache->redis.has_value());
  EXPECT_EQ(cfg->cache->redis->host, "10.0.0.7");
  EXPECT_EQ(cfg->cache->redis->port, 6380);
  ASSERT_TRUE(apply_redis_url(*cfg, "cache-host").ok());
  EXPECT_EQ(cfg->cache->redis->port, 6379);
  EXPECT_TRUE(cfg->cache->redis->password.empty());
  // User info, percent-decoded, for AUTH.
  ASSERT_TRUE(apply_redis_url(*cfg, "redis://:p%40ss%2Fw@h:1").ok());
  EXPECT_EQ(cfg->cache->redis->username, "");
  EXPECT_EQ(cfg->cache->redis->password, "p@ss/w");
  ASSERT_TRUE(apply_redis_url(*cfg, "redis://alice:pw@h:1").ok());
  EXPECT_EQ(cfg->cache->redis->username, "alice");
  EXPECT_EQ(cfg->cache->redis->password, "pw");
  EXPECT_EQ(cfg->cache->redis->host, "h");
  for (const char* bad : {"rediss://h:1", "redis://user@h:1", "redis://:@h:1", "redis://:%zz@h:1", "redis://h:1/3",
                          "redis://h:99999", "redis://"}) {
    auto st = apply_redis_url(*cfg, bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.message().find("zz"), std::string::npos) << "the password is never quoted: " << st.message();
  }
  // No cache section: nothing to point anywhere.
  auto plain = parse_config(kMinimal);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(apply_redis_url(*plain, "redis://h:1").ok());
  EXPECT_FALSE(plain->cache.has_value());
}

TEST(Config, BreakerSpanParsesAndIsChecked) {
  auto plain = parse_config(kMinimal);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->routing.policy.breaker.consecutive_span, std::chrono::milliseconds(100));
  auto set = parse_config(std::string(kMinimal) + "routing: {breaker_consecutive_span_ms: 0}\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->routing.policy.breaker.consecutive_span, hir::Duration::zero());
  EXPECT_NE(expect_error(std::string(kMinimal) + "routing: {breaker_consecutive_span_ms: -1}\n")
                .find("breaker_consecutive_span_ms"),
            std::string::npos);
}

TEST(Config, SampleGroupsOverParsesAndIsChecked) {
  auto plain = parse_config(kMinimal);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->routing.policy.sample_groups_over, 16u);
  auto set = parse_config(std::string(kMinimal) + "routing: {sample_groups_over: 0}\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->routing.policy.sample_groups_over, 0u);
  EXPECT_NE(expect_error(std::string(kMinimal) + "routing: {sample_groups_over: -3}\n")
                .find("sample_groups_over"),
            std::string::npos);
}

TEST(Config, BatchingIsOffUnlessAskedAndItsBoundsAreChecked) {
  auto plain = parse_config(kMinimal);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_FALSE(plain->batching.on());
  EXPECT_EQ(plain->batching.max_requests, 1u);
  auto set = parse_config(std::string(kMinimal) + "batching: {max_requests: 32, extra_inflight: 0, max_waiting: 10}\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_TRUE(set->batching.on());
  EXPECT_EQ(set->batching.max_requests, 32u);
  EXPECT_EQ(set->batching.extra_inflight, 0u);
  EXPECT_EQ(set->batching.max_waiting, 10u);
  for (const char* bad : {"batching: {max_requests: 0}\n", "batching: {max_requests: 5000}\n",
                          "batching: {extra_inflight: -1}\n", "batching: {max_waiting: 0}\n"})
    EXPECT_NE(expect_error(std::string(kMinimal) + bad).find("batching"), std::string::npos) << bad;
  EXPECT_NE(expect_error(std::string(kMinimal) + "batching: {max_batch: 4}\n").find("max_batch"), std::string::npos);
}

TEST(Config, ForgetIdleGapsParsesAndIsChecked) {
  auto plain = parse_config(kMinimal);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_DOUBLE_EQ(plain->routing.policy.forget_idle_gaps, 20);
  auto set = parse_config(std::string(kMinimal) + "routing: {forget_idle_gaps: 0}\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_DOUBLE_EQ(set->routing.policy.forget_idle_gaps, 0);
  EXPECT_NE(expect_error(std::string(kMinimal) + "routing: {forget_idle_gaps: -1}\n").find("forget_idle_gaps"),
            std::string::npos);
  EXPECT_NE(expect_error(std::string(kMinimal) + "routing: {forget_idle_gaps: .nan}\n").find("forget_idle_gaps"),
            std::string::npos);
}

TEST(Config, BusyPollingIsOffUnlessAskedAndBounded) {
  auto plain = parse_config(kMinimal);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->server.busy_poll, hir::Duration::zero());
  auto set = parse_config(std::string(kMinimal) + "server: {busy_poll_us: 200}\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->server.busy_poll, std::chrono::microseconds(200));
  for (const char* bad : {"server: {busy_poll_us: -1}\n", "server: {busy_poll_us: 100001}\n"})
    EXPECT_NE(expect_error(std::string(kMinimal) + bad).find("busy_poll_us"), std::string::npos) << bad;
}
