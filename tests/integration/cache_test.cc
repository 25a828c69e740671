// The fallback cache end to end (docs/cache.md): real hir-worker and hir serve processes with a
// `cache:` section, and a real redis-server on a free loopback port for the shared level.
// Every wait is a poll with a generous limit; nothing here asserts how long anything took.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>
#include <sstream>

#include "harness.h"
#include "protocol/v2_codec.h"
#include "unit/cache/redis_server.h"

using namespace hir;
using namespace hir::testing;
using hir::cache::testing::free_port;
using hir::cache::testing::redis_available;
using hir::cache::testing::RedisServer;

namespace {

constexpr int kPixels = 784;

// A Fashion-MNIST-shaped input that differs per seed. Every value is k/256, exact in FP32 and in
// decimal, so its JSON and binary forms carry the same bytes.
InferRequest image(int seed, const std::string& id) {
  InferRequest r;
  r.id = id;
  Tensor t;
  t.name = "input";
  t.datatype = DataType::kFp32;
  t.shape = {1, kPixels};
  t.data.resize(kPixels * sizeof(float));
  for (int i = 0; i < kPixels; ++i) {
    float v = static_cast<float>((i * 7 + seed * 13) % 256) / 256.0f;
    std::memcpy(t.data.data() + i * sizeof(float), &v, sizeof v);  // wire form: little-endian, as the host
  }
  r.inputs.push_back(std::move(t));
  return r;
}

// Sends the request as JSON, or with every input binary and binary outputs asked for.
net::HttpResponse infer(int port, InferRequest req, bool binary = false) {
  if (binary) req.parameters["binary_data_output"] = true;
  auto enc = protocol::encode_infer_request(req, binary);
  net::Headers h;
  h.set("Content-Type", enc.json_length ? "application/octet-stream" : "application/json");
  if (enc.json_length) h.set("Inference-Header-Content-Length", std::to_string(*enc.json_length));
  return call(port, "POST", "/v2/models/fmnist/infer", std::move(enc.body), h);
}

std::string cache_mark(const net::HttpResponse& r) {
  if (r.status != 200) return "status " + std::to_string(r.status);
  return param_string(decode(r).parameters, "hir_cache").value_or("(none)");
}

// The value of one series in a Prometheus text page (the exact name with its labels), or -1.
double metric(int port, const std::string& series) {
  std::istringstream in(call(port, "GET", "/metrics").body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

double worker_answers(const Proc& w) {
  return metric(w.port, R"(hir_worker_requests_total{model="fmnist-small",outcome="ok"})");
}

// hir serve with one target per port (all serving fmnist-small) and the given cache section.
Proc start_cached_router(const std::string& dir, const std::string& name, const std::vector<int>& ports,
                         const std::string& cache_yaml) {
  std::string path = dir + "/" + name + ".yaml";
  std::ofstream cfg(path);
  cfg << cache_yaml << "targets:\n";
  for (size_t i = 0; i < ports.size(); ++i)
    cfg << "  - {name: t" << i << ", url: \"http://127.0.0.1:" << ports[i]
        << "\", class: edge-cpu, cost_per_request_usd: 0.0001, timeout_ms: 3000}\n";
  cfg << "models:\n  - name: fmnist\n    max_batch_size: 256\n"
         "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
         "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n    variants:\n"
         "      - {name: fmnist-small, accuracy: 0.85, targets: [";
  for (size_t i = 0; i < ports.size(); ++i) cfg << (i ? ", t" : "t") << i;
  cfg << "]}\n";
  cfg.close();
  return start(HIR_BIN, {"serve", "--config", path}, dir, name);
}

std::string cache_section(const std::string& modes, int redis_port = 0) {
  std::string y = "cache:\n  ttl_ms: 600000\n  stale_window_ms: 600000\n";
  if (redis_port > 0)
    // Loopback Redis on a busy test machine: timeouts well above the 20 ms default so that only
    // a real outage marks it down; a short backoff so recovery is seen soon.
    y += "  redis: {host: 127.0.0.1, port: " + std::to_string(redis_port) +
         ", key_prefix: \"hir:it:\", connect_timeout_ms: 1000, command_timeout_ms: 1000,"
         " reconnect_min_ms: 50, reconnect_max_ms: 200}\n";
  return y + "  models:\n    - {name: fmnist, deterministic: true, modes: [" + modes + "]}\n";
}


class CacheIT : public ::testing::Test {
 protected:
  std::string dir_ = temp_dir();
};

}  // namespace

TEST_F(CacheIT, FreshHitAnswersWithoutCallingATargetForJsonAndBinary) {
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc router = start_cached_router(dir_, "router", {worker.port}, cache_section("fresh_hit, stale_if_error"));

  auto first = infer(router.port, image(1, "a-1"));
  ASSERT_EQ(first.status, 200) << first.body;
  InferResponse d1 = decode(first);
  EXPECT_EQ(param_string(d1.parameters, "hir_cache").value_or(""), "miss");
  EXPECT_EQ(param_string(d1.parameters, "hir_target").value_or(""), "t0");
  double answered = worker_answers(worker);
  EXPECT_GE(answered, 1);

  auto second = infer(router.port, image(1, "a-2"));
  ASSERT_EQ(second.status, 200) << second.body;
  InferResponse d2 = decode(second);
  EXPECT_EQ(param_string(d2.parameters, "hir_cache").value_or(""), "hit");
  EXPECT_EQ(d2.id, "a-2");  // each serve echoes its own request id
  // The request id is the router's own (no x-request-id was sent), never the body's `id`.
  EXPECT_NE(second.headers.get("x-request-id").value_or("a-2"), "a-2");
  EXPECT_EQ(second.headers.get("content-type").value_or(""), "application/json");
  EXPECT_FALSE(param_string(d2.parameters, "hir_target").has_value());  // no target served it
  EXPECT_EQ(param_string(d2.parameters, "hir_variant").value_or(""), "fmnist-small");  // what computed it
  ASSERT_EQ(d2.outputs.size(), 1u);
  EXPECT_EQ(d2.outputs[0].data, d1.outputs[0].data);

  // The same input with Triton's binary extension: the same entry, sent back in binary form.
  auto third = infer(router.port, image(1, "a-3"), true);
  ASSERT_EQ(third.status, 200) << third.body.substr(0, 300);
  EXPECT_TRUE(third.headers.get("inference-header-content-length").has_value());
  InferResponse d3 = decode(third);
  EXPECT_EQ(param_string(d3.parameters, "hir_cache").value_or(""), "hit");
  EXPECT_EQ(d3.id, "a-3");
  ASSERT_EQ(d3.outputs.size(), 1u);
  ASSERT_EQ(d3.binary.size(), 1u);
  EXPECT_TRUE(d3.binary[0]);
  EXPECT_EQ(d3.outputs[0].data, d1.outputs[0].data);
  EXPECT_EQ(worker_answers(worker), answered);  // neither hit reached the worker

  // Another input is not the same entry.
  EXPECT_EQ(cache_mark(infer(router.port, image(2, "a-4"))), "miss");
  EXPECT_EQ(worker_answers(worker), answered + 1);

  EXPECT_EQ(metric(router.port, "hir_cache_hits_total"), 2);
  EXPECT_EQ(metric(router.port, "hir_cache_misses_total"), 2);
  EXPECT_EQ(metric(router.port, "hir_cache_entries"), 2);
  EXPECT_GT(metric(router.port, "hir_cache_bytes"), 0);
  EXPECT_EQ(metric(router.port, R"(hir_requests_total{model="fmnist",outcome="hit",target="cache"})"), 2);
  EXPECT_EQ(metric(router.port, "hir_cache_redis_up"), -1);  // no Redis configured: no such series
}

// The key leaves out the routing hints, so one entry meets requests with different accuracy
// needs: it serves only those its variant (fmnist-small, 0.85 here) meets. Before, an answer
// of the small variant was served as a hit to a request that needed 0.9.
TEST_F(CacheIT, AHitServesOnlyRequestsItsVariantIsAccurateEnoughFor) {
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc router = start_cached_router(dir_, "router", {worker.port}, cache_section("fresh_hit, stale_if_error"));
  ASSERT_EQ(cache_mark(infer(router.port, image(5, "m-1"))), "miss");
  auto needing = [](double acc) {
    InferRequest r = image(5, "m-2");
    r.parameters["min_accuracy"] = acc;
    return r;
  };
  EXPECT_EQ(cache_mark(infer(router.port, needing(0.8))), "hit");
  auto strict = infer(router.port, needing(0.9));
  EXPECT_EQ(strict.status, 400) << strict.body;  // as without a cache: no variant is accurate enough
  EXPECT_NE(strict.body.find("accura"), std::string::npos) << strict.body;
}

// Inputs that drive the model out of range (3e38 everywhere) give NaN probabilities: the target's
// answer goes back as it came, but it is not kept to be given to other requests.
TEST_F(CacheIT, AnAnswerHoldingNaNIsNotKept) {
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc router = start_cached_router(dir_, "router", {worker.port}, cache_section("fresh_hit, stale_if_error"));
  InferRequest huge = image(0, "n-1");
  for (size_t i = 0; i < kPixels; ++i) {
    const float v = 3e38f;
    std::memcpy(huge.inputs[0].data.data() + i * sizeof v, &v, sizeof v);
  }
  auto first = infer(router.port, huge);
  ASSERT_EQ(first.status, 200) << first.body.substr(0, 300);
  const InferResponse d = decode(first);
  ASSERT_EQ(d.outputs.size(), 1u);
  float p0 = 0;
  std::memcpy(&p0, d.outputs[0].data.data(), sizeof p0);
  ASSERT_TRUE(std::isnan(p0)) << "the input no longer makes NaN; the test needs another";
  EXPECT_EQ(cache_mark(first), "miss");
  EXPECT_EQ(cache_mark(infer(router.port, huge)), "miss");
  EXPECT_EQ(metric(router.port, "hir_cache_entries"), 0);
}

TEST_F(CacheIT, StaleIfErrorAnswersCachedRequestsWhenEveryTargetIsDown) {
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc router = start_cached_router(dir_, "router", {worker.port}, cache_section("stale_if_error"));

  auto first = infer(router.port, image(3, "b-1"));
  ASSERT_EQ(first.status, 200) << first.body;
  InferResponse d1 = decode(first);
  // stale_if_error alone never answers from cache while a target can.
  double before = worker_answers(worker);
  EXPECT_EQ(cache_mark(infer(router.port, image(3, "b-2"))), "miss");
  EXPECT_EQ(worker_answers(worker), before + 1);

  worker.child.stop(std::chrono::seconds(10));
  auto stale = infer(router.port, image(3, "b-3"));
  ASSERT_EQ(stale.status, 200) << stale.body;
  InferResponse ds = decode(stale);
  EXPECT_EQ(param_string(ds.parameters, "hir_cache").value_or(""), "stale");
  EXPECT_EQ(ds.id, "b-3");
  EXPECT_NE(stale.headers.get("x-request-id").value_or("b-3"), "b-3");
  ASSERT_EQ(ds.outputs.size(), 1u);
  EXPECT_EQ(ds.outputs[0].data, d1.outputs[0].data);

  // Asked for binary outputs, the stale answer comes in binary form too.
  auto stale_bin = infer(router.port, image(3, "b-4"), true);
  ASSERT_EQ(stale_bin.status, 200) << stale_bin.body.substr(0, 300);
  EXPECT_TRUE(stale_bin.headers.get("inference-header-content-length").has_value());
  EXPECT_EQ(param_string(decode(stale_bin).parameters, "hir_cache").value_or(""), "stale");

  auto uncached = infer(router.port, image(4, "b-5"));
  EXPECT_EQ(uncached.status, 503) << uncached.body;
  EXPECT_EQ(uncached.headers.get("content-type").value_or(""), "application/json");
  EXPECT_NE(uncached.body.find("\"error\""), std::string::npos) << uncached.body;
  EXPECT_NE(uncached.headers.get("x-request-id").value_or("b-5"), "b-5");

  EXPECT_EQ(metric(router.port, "hir_cache_stale_served_total"), 2);
  EXPECT_EQ(metric(router.port, R"(hir_requests_total{model="fmnist",outcome="stale",target="cache"})"), 2);
  EXPECT_EQ(metric(router.port, R"(hir_requests_total{model="fmnist",outcome="failed",target="none"})"), 1);
}

// A stale answer after every target failed counts its fallbacks as a failed request does:
// attempts after the first (the response's hir_fallbacks says how many attempts failed).
TEST_F(CacheIT, AStaleAnswerCountsTheFallbacksItTook) {
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  // The second target is a port nothing listens on: never charged, never answering.
  Proc router = start_cached_router(dir_, "router", {worker.port, 1}, cache_section("stale_if_error"));
  ASSERT_EQ(infer(router.port, image(3, "s-1")).status, 200);  // perhaps after a fallback itself
  const double fell_back = metric(router.port, R"(hir_fallbacks_total{model="fmnist"})");
  worker.child.stop(std::chrono::seconds(10));
  auto stale = infer(router.port, image(3, "s-2"));
  ASSERT_EQ(stale.status, 200) << stale.body;
  InferResponse d = decode(stale);
  EXPECT_EQ(param_string(d.parameters, "hir_cache").value_or(""), "stale");
  EXPECT_EQ(param_number(d.parameters, "hir_fallbacks").value_or(-1), 2);
  EXPECT_EQ(param_number(d.parameters, "hir_cost_usd").value_or(-1), 0);  // neither attempt reached a target
  EXPECT_EQ(metric(router.port, R"(hir_fallbacks_total{model="fmnist"})"), fell_back + 1);
}

TEST_F(CacheIT, TwoRoutersShareAHitThroughRedis) {
  if (!redis_available()) GTEST_SKIP() << "redis-server is not installed at " << hir::cache::testing::kRedisServer;
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc a = start_cached_router(dir_, "router-a", {worker.port}, cache_section("fresh_hit, stale_if_error", redis.port()));
  // Router b can reach no target, and its file names a port where no Redis listens: the
  // environment gives it the real address.
  int nowhere = free_port();
  Proc b = [&] {
    ScopedEnv env("HIR_REDIS_URL", "redis://127.0.0.1:" + std::to_string(redis.port()));
    return start_cached_router(dir_, "router-b", {nowhere}, cache_section("fresh_hit, stale_if_error", nowhere));
  }();

  EXPECT_EQ(cache_mark(infer(a.port, image(5, "c-1"))), "miss");
  // The write to Redis is queued: wait until Redis acknowledged it, or b would miss, try its
  // (dead) target and, if the write landed meanwhile, answer the same entry marked "stale".
  ASSERT_TRUE(eventually([&] { return metric(a.port, "hir_cache_redis_writes_total") >= 1; }));
  net::HttpResponse shared = infer(b.port, image(5, "c-2"));
  ASSERT_EQ(shared.status, 200) << shared.body;
  InferResponse d = decode(shared);
  EXPECT_EQ(param_string(d.parameters, "hir_cache").value_or(""), "hit");
  EXPECT_EQ(d.id, "c-2");
  EXPECT_EQ(metric(b.port, "hir_cache_redis_hits_total"), 1);
  EXPECT_EQ(metric(b.port, "hir_cache_redis_up"), 1);
  EXPECT_EQ(metric(a.port, "hir_cache_redis_up"), 1);
  EXPECT_GE(metric(a.port, "hir_cache_redis_writes_total"), 1);

  // b keeps what it read in its own level: answered even with Redis gone.
  redis.kill();
  EXPECT_EQ(cache_mark(infer(b.port, image(5, "c-3"))), "hit");
}

TEST_F(CacheIT, RouterKeepsServingWhileRedisIsDownAndRecovers) {
  if (!redis_available()) GTEST_SKIP() << "redis-server is not installed at " << hir::cache::testing::kRedisServer;
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  const int redis_port = redis.port();
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc a = start_cached_router(dir_, "router-a", {worker.port}, cache_section("fresh_hit, stale_if_error", redis_port));
  Proc b = start_cached_router(dir_, "router-b", {free_port()}, cache_section("fresh_hit", redis_port));
  int seed = 100;

  // A new input is stored by a; b (no target up) polls until it reads it from Redis.
  auto shared_hit = [&](const std::string& tag) {
    int s = seed++;
    if (infer(a.port, image(s, tag + "-a")).status != 200) return false;
    return eventually([&] { return cache_mark(infer(b.port, image(s, tag + "-b"))) == "hit"; }, 20);
  };
  ASSERT_TRUE(eventually([&] { return shared_hit("d1"); }, 10));
  EXPECT_EQ(metric(a.port, "hir_cache_redis_up"), 1);

  redis.kill();
  // Every request is answered while a finds Redis gone (new inputs, so each one asks Redis).
  int errors = 0;
  bool down = eventually([&] {
    auto r = infer(a.port, image(seed++, "d2"));
    if (r.status != 200) ++errors;
    return metric(a.port, "hir_cache_redis_up") == 0;
  });
  EXPECT_TRUE(down);
  EXPECT_EQ(errors, 0);
  EXPECT_GE(metric(a.port, "hir_cache_redis_errors_total"), 1);
  EXPECT_EQ(cache_mark(infer(a.port, image(100, "d3"))), "hit");  // the in-process level still answers
  EXPECT_TRUE(log_gets(a.log, "cache_redis_down")) << file_text(a.log).substr(0, 2000);

  ASSERT_TRUE(redis.start(redis_port));
  bool up = eventually([&] {
    auto r = infer(a.port, image(seed++, "d4"));
    if (r.status != 200) ++errors;
    return metric(a.port, "hir_cache_redis_up") == 1;
  });
  EXPECT_TRUE(up);
  EXPECT_EQ(errors, 0);
  EXPECT_TRUE(eventually([&] { return shared_hit("d5"); }, 20));
  EXPECT_GE(metric(a.port, "hir_cache_redis_reconnects_total"), 1);
}

// Redis is asked off the I/O thread: while a lookup waits on a Redis that does not answer (here
// stopped, so the lookup runs to its 1-s command timeout), the router's one I/O thread still
// answers everything else. Before, the lookup blocked that thread: a Redis slow but under its
// timeout held every connection the thread served (57 req/s against 850 at 15 ms a reply).
TEST_F(CacheIT, AWaitOnRedisDoesNotHoldTheIoThread) {
  if (!redis_available()) GTEST_SKIP() << "redis-server is not installed at " << hir::cache::testing::kRedisServer;
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Proc worker = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc router = start_cached_router(dir_, "router", {worker.port}, cache_section("fresh_hit, stale_if_error", redis.port()));
  ASSERT_EQ(cache_mark(infer(router.port, image(7, "s-1"))), "miss");  // the connections are made
  EXPECT_EQ(metric(router.port, "hir_cache_redis_up"), 1);

  redis.pause();
  auto waiting = std::async(std::launch::async, [&] { return infer(router.port, image(8, "s-2")); });
  // Sequencing only: let the lookup reach Redis. The lookup then lasts its whole 1-s timeout; the
  // check below needs only that it outlasts the health answer by 200 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(call(router.port, "GET", "/v2/health/ready").status, 200);
  // Blocked, the thread would have answered both at once, when the lookup ended.
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "the router answered only once the Redis lookup had ended";
  auto r = waiting.get();
  EXPECT_EQ(r.status, 200) << r.body;  // a miss: the target answers
  EXPECT_EQ(cache_mark(r), "miss");
  redis.resume();
}
