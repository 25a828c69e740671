// Batching end to end (docs/batching.md): real hir-worker and hir serve processes on 127.0.0.1.
// Requests that wait for a busy target go to it merged into one call, and each client still
// gets the answer to its own request.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <future>
#include <set>
#include <thread>
#include <chrono>

#include "bench/loadgen.h"
#include "harness.h"
#include "protocol/v2_codec.h"

using namespace hir;
using namespace hir::testing;

namespace {

// A counter's value in a /metrics page (0 when absent).
double metric(int port, const std::string& name) {
  auto page = call(port, "GET", "/metrics").body;
  auto at = page.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(page.substr(at + name.size() + 2));
}

// How the test router is set up: hir serve with batching over `targets` (name → port, in order
// of preference), model `fmnist` whose variant fmnist-small runs on each.
struct Setup {
  int max_requests = 8;
  int max_batch_size = 256;  // as the router's model declares it
  int timeout_ms = 5000;     // every target's
  int threads = 1;           // server.threads
  int expected_service_ms = 0;  // the variant's, when above 0
  std::string routing;       // the routing section's fields, if any
};

Proc start_batching_router(const std::string& dir, const std::vector<std::pair<std::string, int>>& targets,
                           const Setup& s = {}) {
  std::ofstream cfg(dir + "/router.yaml");
  cfg << "server: {threads: " << s.threads << "}\n"
      << "batching: {max_requests: " << s.max_requests << "}\n"
      << (s.routing.empty() ? "" : "routing: {" + s.routing + "}\n")
      << "targets:\n";
  double cost = 0.0001;
  for (const auto& [name, port] : targets) {
    cfg << "  - {name: " << name << ", url: \"http://127.0.0.1:" << port
        << "\", class: edge-cpu, cost_per_request_usd: " << cost << ", timeout_ms: " << s.timeout_ms
        << ", concurrency: 1}\n";
    cost *= 10;  // the first is the cheapest: the plan's primary
  }
  cfg << "models:\n  - name: fmnist\n    max_batch_size: " << s.max_batch_size << "\n"
      << "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
         "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n    variants:\n"
      << "      - {name: fmnist-small, targets: [";
  for (size_t i = 0; i < targets.size(); ++i) cfg << (i ? ", " : "") << targets[i].first;
  cfg << "], accuracy: 0.9"
      << (s.expected_service_ms > 0 ? ", expected_service_ms: " + std::to_string(s.expected_service_ms) : "") << "}\n";
  cfg.close();
  return start(HIR_BIN, {"serve", "--config", dir + "/router.yaml"}, dir, "router");
}

// A routing section whose breakers eject a target after n failures in a row however fast they
// come, for long enough to be seen; the failure-rate detector off (a share above 1).
std::string ejecting_after(int n) {
  return "breaker_consecutive_failures: " + std::to_string(n) +
         ", breaker_consecutive_span_ms: 0, breaker_failure_rate: 1, breaker_base_ejection_ms: 60000";
}

// Sends every item `rounds` times from `clients` threads at once; the answers in item order.
std::vector<net::HttpResponse> send_concurrently(int port, const std::vector<bench::LoadItem>& items, int clients) {
  std::vector<net::HttpResponse> out(items.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (size_t i = next++; i < items.size(); i = next++)
        out[i] = call(port, "POST", "/v2/models/fmnist/infer", items[i].body, body_headers(items[i]));
    });
  for (auto& t : threads) t.join();
  return out;
}

void expect_close(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape, b.shape) << what;
  ASSERT_EQ(a.data.size(), b.data.size()) << what;
  for (size_t k = 0; k + 4 <= a.data.size(); k += 4) {
    float x, y;
    std::memcpy(&x, a.data.data() + k, 4);
    std::memcpy(&y, b.data.data() + k, 4);
    // A model's batched kernels may sum in another order than a single row's.
    EXPECT_NEAR(x, y, 1e-5) << what << " value " << k / 4;
  }
}

class BatchingIT : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_dir(); }
  std::string dir_;
};

}  // namespace

TEST_F(BatchingIT, EachClientGetsTheAnswerToItsOwnRequest) {
  // A slow device (8 ms per image) keeps the target busy, so requests wait and are merged.
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small", "--emulate-service-ms", "8"});
  auto r = start_batching_router(dir_, {{"edge-1", w.port}});
  auto binary = bench::fmnist_test_requests(64, true);
  auto json = bench::fmnist_test_requests(48, false);
  ASSERT_TRUE(binary.ok() && json.ok());
  // Both kinds mixed: JSON bodies merge with JSON bodies, binary ones with binary ones, and each
  // answer comes back in its own request's form.
  std::vector<bench::LoadItem> items;
  for (size_t i = 0; i < 64; ++i) {
    items.push_back((*binary)[i]);
    if (i % 4 != 3) items.push_back((*json)[i - i / 4]);
  }
  // Four JSON requests whose data is one value short: their form is fine, their data arrays are
  // not. Each goes alone and gets the target's own 400, whatever it waited with.
  std::set<size_t> bad;
  for (size_t i = 5; i < items.size() && bad.size() < 4; i += 23) {
    if (items[i].json_length) ++i;
    std::string& b = items[i].body;
    auto at = b.find("\"data\":[");
    ASSERT_NE(at, std::string::npos);
    auto comma = b.find(',', at);
    b.erase(at + 8, comma - (at + 8) + 1);
    bad.insert(i);
  }
  const auto routed = send_concurrently(r.port, items, 16);
  for (size_t i = 0; i < items.size(); ++i) {
    auto direct = call(w.port, "POST", "/v2/models/fmnist-small/infer", items[i].body, body_headers(items[i]));
    if (bad.count(i)) {
      EXPECT_EQ(direct.status, 400) << direct.body;
      EXPECT_EQ(routed[i].status, 400) << i << ": " << routed[i].body;
      EXPECT_NE(routed[i].body.find("\"error\""), std::string::npos) << routed[i].body;
      continue;
    }
    ASSERT_EQ(routed[i].status, 200) << i << ": " << routed[i].body;
    ASSERT_EQ(direct.status, 200) << direct.body;
    auto d = decode(direct), x = decode(routed[i]);
    ASSERT_EQ(x.outputs.size(), 1u);
    expect_close(x.outputs[0], d.outputs[0], "item " + std::to_string(i));
    EXPECT_EQ(x.id, d.id) << "each answer carries its own request's id";
    EXPECT_EQ(x.model_name, "fmnist");
    EXPECT_EQ(param_string(x.parameters, "hir_target").value_or(""), "edge-1");
    EXPECT_GT(param_number(x.parameters, "hir_cost_usd").value_or(0), 0);
    EXPECT_EQ(routed[i].headers.get("inference-header-content-length").has_value(), items[i].json_length.has_value());
  }
  const double calls = metric(r.port, "hir_batch_calls_total");
  const double carried = metric(r.port, "hir_batched_requests_total");
  EXPECT_GT(calls, 0) << "requests waited for a busy target and none was merged";
  EXPECT_GT(carried, calls * 2) << "merged calls carried more than two requests each on average";
  EXPECT_GT(carried, 64) << "more requests merged than there were binary ones: JSON bodies merged too";
  EXPECT_EQ(metric(r.port, "hir_batch_refused_total"), 0) << "the bad ones never reached a merged call";
  // What the router learnt of the network: the latency left once the target's queue and the whole
  // merged call's compute (its Server-Timing) are out. Each merged call here computes several
  // 8-ms images; counting all but the request's own share as network made this loopback target
  // look (k-1) x 8 ms away, and cut it from short budgets. The bound is two images' compute:
  // far above what this machine's scheduling adds, far below what a merge of 3 or more made.
  const std::string targets = call(r.port, "GET", "/v1/targets").body;
  const auto at = targets.find("\"rtt_p95_ms\":");
  ASSERT_NE(at, std::string::npos) << targets;
  EXPECT_LT(std::stod(targets.substr(at + 13)), 16.0) << targets;
}

// hir's hints in a body's parameters are cut out before it goes on, so they do not keep it from
// being merged: requests that all carry them still share calls, and every one is answered.
TEST_F(BatchingIT, RequestsWithHintsInTheirBodiesAreMergedToo) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small", "--emulate-service-ms", "8"});
  auto r = start_batching_router(dir_, {{"edge-1", w.port}});
  auto json = bench::fmnist_test_requests(40, false);
  ASSERT_TRUE(json.ok());
  std::vector<bench::LoadItem> items = *json;
  for (auto& item : items) {
    ASSERT_EQ(item.body.front(), '{');
    item.body.insert(1, R"("parameters":{"priority":"standard","latency_budget_ms":5000},)");
  }
  const auto routed = send_concurrently(r.port, items, 16);
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(routed[i].status, 200) << i << ": " << routed[i].body;
    EXPECT_EQ(decode(routed[i]).outputs[0].shape, (Shape{1, 10}));
  }
  EXPECT_GT(metric(r.port, "hir_batch_calls_total"), 0) << "requests with hints were never merged";
  EXPECT_GT(metric(r.port, "hir_batched_requests_total"), metric(r.port, "hir_batch_calls_total"));
}

TEST_F(BatchingIT, SeveralIoThreadsMergeAndAnswerEveryRequest) {
  // Connections on three loops feed the same queue; its calls return on whichever thread.
  auto a = start_worker(dir_, "edge-a", {"--models", "fmnist-small", "--emulate-service-ms", "4"});
  auto b = start_worker(dir_, "edge-b", {"--models", "fmnist-small", "--emulate-service-ms", "4"});
  auto r = start_batching_router(dir_, {{"edge-1", a.port}, {"edge-2", b.port}}, {.threads = 3});
  auto binary = bench::fmnist_test_requests(120, true);
  auto json = bench::fmnist_test_requests(40, false);
  ASSERT_TRUE(binary.ok() && json.ok());
  std::vector<bench::LoadItem> items = *binary;
  items.insert(items.end(), json->begin(), json->end());
  const auto routed = send_concurrently(r.port, items, 24);
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(routed[i].status, 200) << i << ": " << routed[i].body;
    auto x = decode(routed[i]);
    ASSERT_EQ(x.outputs.size(), 1u);
    EXPECT_EQ(x.outputs[0].shape, (Shape{1, 10}));
  }
  EXPECT_GT(metric(r.port, "hir_batch_calls_total"), 0);
}

TEST_F(BatchingIT, RequestsOfAFailedCallFallBackOneByOne) {
  auto slow = start_worker(dir_, "slow", {"--models", "fmnist-small", "--emulate-service-ms", "20"});
  auto spare = start_worker(dir_, "spare", {"--models", "fmnist-small"});
  auto r = start_batching_router(dir_, {{"slow", slow.port}, {"spare", spare.port}}, {.max_requests = 16});
  auto items = bench::fmnist_test_requests(160, true);
  ASSERT_TRUE(items.ok());
  std::thread killer([&] {
    // Once merged calls are on the wire to the slow target, it dies under them.
    eventually([&] { return metric(r.port, "hir_batch_calls_total") >= 2; }, 400, 5);
    slow.child.kill_now();
  });
  const auto routed = send_concurrently(r.port, *items, 16);
  killer.join();
  std::set<std::string> targets;
  for (size_t i = 0; i < routed.size(); ++i) {
    ASSERT_EQ(routed[i].status, 200) << i << ": " << routed[i].body;
    targets.insert(param_string(decode(routed[i]).parameters, "hir_target").value_or(""));
  }
  EXPECT_EQ(targets, (std::set<std::string>{"slow", "spare"}));
  EXPECT_GE(metric(r.port, "hir_batch_calls_total"), 2);
}

// One merged call that fails is one failure for the target's breaker, not one per request it
// carried: before, a single call of five requests ejected a target that ejects after five.
TEST_F(BatchingIT, AFailedMergedCallCountsOnceForTheBreaker) {
  auto slow = start_worker(dir_, "slow", {"--models", "fmnist-small"});
  auto spare = start_worker(dir_, "spare", {"--models", "fmnist-small"});
  auto r = start_batching_router(dir_, {{"slow", slow.port}, {"spare", spare.port}},
                                 {.max_requests = 16, .routing = ejecting_after(5)});
  auto items = bench::fmnist_test_requests(12, true);
  ASSERT_TRUE(items.ok());
  // The target stopped: the first requests are on the wire to it (its concurrency, and one
  // more), the others wait at the router to go merged into one call.
  ::kill(slow.child.pid(), SIGSTOP);
  std::thread killer([&] {
    eventually([&] { return metric(r.port, "hir_requests_in_flight") >= 12; }, 400, 5);
    // Then it dies: the calls on the wire fail, and the merged one that follows cannot connect.
    slow.child.kill_now();
  });
  const auto routed = send_concurrently(r.port, *items, 12);
  killer.join();
  for (size_t i = 0; i < routed.size(); ++i) ASSERT_EQ(routed[i].status, 200) << i << ": " << routed[i].body;
  // At most two single calls and one merged call failed: three failures, not the eleven or
  // twelve requests they carried.
  EXPECT_GE(metric(r.port, "hir_batched_requests_total"), 4) << "too few requests merged: the path was not taken";
  EXPECT_EQ(breaker_of(r, "slow"), "closed");
}

TEST_F(BatchingIT, AMergedCallTheTargetRefusesIsSentAgainRequestByRequest) {
  // The router's model declares a larger batch than the worker takes (256 rows): any two
  // requests of 150 rows merge into 300 or more, the worker answers 400, and each request then
  // goes alone and is answered as it would have been without batching.
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small", "--emulate-service-ms", "1"});
  auto r = start_batching_router(dir_, {{"edge-1", w.port}}, {.max_batch_size = 1000});
  auto one = bench::fmnist_test_requests(1, true);
  ASSERT_TRUE(one.ok());
  const bench::LoadItem& base = (*one)[0];
  const std::string tensor = base.body.substr(*base.json_length);
  std::string header = R"({"inputs":[{"name":"input","datatype":"FP32","shape":[150,784],"parameters":{"binary_data_size":)" +
                       std::to_string(tensor.size() * 150) + R"(}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]})";
  bench::LoadItem big;
  big.json_length = header.size();
  big.body = header;
  for (int i = 0; i < 150; ++i) big.body += tensor;
  const auto routed = send_concurrently(r.port, std::vector<bench::LoadItem>(24, big), 12);
  for (const auto& a : routed) {
    ASSERT_EQ(a.status, 200) << a.body;
    auto x = decode(a);
    ASSERT_EQ(x.outputs.size(), 1u);
    EXPECT_EQ(x.outputs[0].shape, (Shape{150, 10}));
  }
  EXPECT_GT(metric(r.port, "hir_batch_calls_total"), 0) << "the load merged no calls: the path was not taken";
  EXPECT_GE(metric(r.port, "hir_batch_refused_total"), 1);
  // Its requests all succeeded alone: the merge was at fault, and merging paused.
  EXPECT_TRUE(log_gets(r.log, "\"event\":\"batch_refused\"")) << file_text(r.log).substr(0, 2000);
}

namespace {

// One request sent from its own thread, with a latency budget when budget_ms > 0.
std::future<net::HttpResponse> send_one(int port, const bench::LoadItem& item, int budget_ms = 0) {
  return std::async(std::launch::async, [port, item, budget_ms] {
    auto h = body_headers(item);
    if (budget_ms > 0) h.set("x-hir-latency-budget-ms", std::to_string(budget_ms));
    return call(port, "POST", "/v2/models/fmnist/infer", item.body, h);
  });
}

void pause_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

TEST_F(BatchingIT, ARequestWithAShortBudgetDoesNotEndTheCallItIsMergedInto) {
  // Two requests keep the target (30 ms per image) busy; then one with a 200 ms budget and six
  // with the default 10 s wait and go out merged. The merged call takes longer than 200 ms: the
  // short one ends on its own, and the six are answered.
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small", "--emulate-service-ms", "30"});
  auto r = start_batching_router(dir_, {{"edge-1", w.port}});
  auto items = bench::fmnist_test_requests(9, true);
  ASSERT_TRUE(items.ok());
  auto f1 = send_one(r.port, (*items)[0]);
  auto f2 = send_one(r.port, (*items)[1]);
  pause_ms(10);
  auto tight = send_one(r.port, (*items)[2], 200);
  pause_ms(3);
  std::vector<std::future<net::HttpResponse>> rest;
  for (int i = 3; i < 9; ++i) rest.push_back(send_one(r.port, (*items)[i]));
  EXPECT_EQ(f1.get().status, 200);
  EXPECT_EQ(f2.get().status, 200);
  const int tight_status = tight.get().status;
  EXPECT_TRUE(tight_status == 200 || tight_status == 504) << tight_status;
  for (auto& f : rest) {
    auto a = f.get();
    EXPECT_EQ(a.status, 200) << a.body;
  }
  EXPECT_GT(metric(r.port, "hir_batch_calls_total"), 0) << "nothing was merged: the case was not built";
}

// A request that its own timer ends inside a merged call is no failure of the target's on its
// own: the call is judged once, when it answers or fails. Before, five requests ending so
// ejected a target that ejects after three.
TEST_F(BatchingIT, ARequestEndedByItsOwnTimerInAMergedCallIsNotJudgedAlone) {
  // 1 s per image and a 2.5 s timeout: two single calls keep the target busy for 1 s (time
  // enough for the late request below to join the wait, even on a loaded machine), and the
  // merged call of six images that follows them cannot answer in time.
  auto slow = start_worker(dir_, "slow", {"--models", "fmnist-small", "--emulate-service-ms", "1000"});
  auto spare = start_worker(dir_, "spare", {"--models", "fmnist-small"});
  auto r = start_batching_router(dir_, {{"slow", slow.port}, {"spare", spare.port}},
                                 {.timeout_ms = 2500, .routing = ejecting_after(3)});
  auto items = bench::fmnist_test_requests(8, true);
  ASSERT_TRUE(items.ok());
  auto f1 = send_one(r.port, (*items)[0]);
  auto f2 = send_one(r.port, (*items)[1]);
  pause_ms(20);
  // Five requests wait, then one more 400 ms later: the merged call waits for the last one's
  // limit, 400 ms after the five's (more than a tenth of the time left), so each of the five
  // ends on its own timer while the call is on the wire.
  std::vector<std::future<net::HttpResponse>> rest;
  for (int i = 2; i < 7; ++i) rest.push_back(send_one(r.port, (*items)[i]));
  pause_ms(400);
  rest.push_back(send_one(r.port, (*items)[7]));
  EXPECT_EQ(f1.get().status, 200);
  EXPECT_EQ(f2.get().status, 200);
  for (auto& f : rest) {
    auto a = f.get();
    ASSERT_EQ(a.status, 200) << a.body;  // from the spare
  }
  ASSERT_TRUE(log_gets(r.log, "no response from the merged call within the attempt's time"))
      << "no request ended on its own timer: the case was not built";
  // The merged call timed out: one failure, not six.
  EXPECT_EQ(breaker_of(r, "slow"), "closed");
  slow.child.kill_now();  // still computing the merged call: no drain to wait for
}

// A merged call that runs out of time is judged by its own start and limit, not by those of the
// request that came first in it. Its requests waited, so it never has the target's whole timeout:
// cut before twice the time the target was predicted to take, it says nothing of the target.
// Before, the first request judged it: one without a budget of its own made any merged call's
// timeout the target's, and one such call ejected a target that ejects after one failure.
TEST_F(BatchingIT, AMergedCallIsJudgedByItsOwnTimeNotItsFirstRequests) {
  // 1.5 s per image on two threads, a 3 s timeout, and 1.6 s expected per image: any call under
  // 3 s is shorter than twice the prediction. Two single calls keep the target busy for 1.5 s;
  // the two requests that wait meanwhile go out merged with about 1.5 s left, and their two
  // images take 3 s.
  auto slow = start_worker(dir_, "slow",
                           {"--models", "fmnist-small", "--emulate-service-ms", "1500", "--concurrency", "2"});
  auto spare = start_worker(dir_, "spare", {"--models", "fmnist-small"});
  auto r = start_batching_router(dir_, {{"slow", slow.port}, {"spare", spare.port}},
                                 {.timeout_ms = 3000, .expected_service_ms = 1600, .routing = ejecting_after(1)});
  auto items = bench::fmnist_test_requests(4, true);
  ASSERT_TRUE(items.ok());
  auto f1 = send_one(r.port, (*items)[0]);
  auto f2 = send_one(r.port, (*items)[1]);
  pause_ms(50);
  std::vector<std::future<net::HttpResponse>> rest;
  for (int i = 2; i < 4; ++i) rest.push_back(send_one(r.port, (*items)[i]));
  EXPECT_EQ(f1.get().status, 200);
  EXPECT_EQ(f2.get().status, 200);
  for (auto& f : rest) {
    auto a = f.get();
    ASSERT_EQ(a.status, 200) << a.body;
    // From the spare, once the merged call timed out.
    EXPECT_EQ(param_string(decode(a).parameters, "hir_target").value_or(""), "spare");
  }
  ASSERT_GE(metric(r.port, "hir_batch_calls_total"), 1) << "nothing was merged: the case was not built";
  EXPECT_EQ(breaker_of(r, "slow"), "closed");
  slow.child.kill_now();  // still computing the merged call: no drain to wait for
}

TEST_F(BatchingIT, AWaitCountsAgainstTheTargetsTimeoutAndTheRequestFallsBack) {
  // The primary takes 3 s per image and its timeout is 1 s; a healthy spare is the fallback. A
  // request that waits behind the primary's two calls ends its attempt there 1 s after it was
  // committed, as it would have alone, and the spare answers it within its 1.8 s budget.
  auto slow = start_worker(dir_, "slow", {"--models", "fmnist-small", "--emulate-service-ms", "3000"});
  auto spare = start_worker(dir_, "spare", {"--models", "fmnist-small"});
  auto r = start_batching_router(dir_, {{"slow", slow.port}, {"spare", spare.port}}, {.timeout_ms = 1000});
  auto items = bench::fmnist_test_requests(3, true);
  ASSERT_TRUE(items.ok());
  auto f1 = send_one(r.port, (*items)[0], 1800);
  auto f2 = send_one(r.port, (*items)[1], 1800);
  pause_ms(20);
  auto waiting = send_one(r.port, (*items)[2], 1800).get();
  ASSERT_EQ(waiting.status, 200) << waiting.body;
  EXPECT_EQ(param_string(decode(waiting).parameters, "hir_target").value_or(""), "spare");
  EXPECT_EQ(f1.get().status, 200);
  EXPECT_EQ(f2.get().status, 200);
}

TEST_F(BatchingIT, AWaitingRequestEndsAtItsDeadlineNotWhenACallReturns) {
  // The target takes 1.5 s per image; a request with a 300 ms budget waits behind its two
  // calls. Its 504 comes at its deadline, while those calls are still on the wire.
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small", "--emulate-service-ms", "1500"});
  auto r = start_batching_router(dir_, {{"edge-1", w.port}});
  auto items = bench::fmnist_test_requests(3, true);
  ASSERT_TRUE(items.ok());
  auto f1 = send_one(r.port, (*items)[0]);
  auto f2 = send_one(r.port, (*items)[1]);
  pause_ms(20);
  auto short_one = send_one(r.port, (*items)[2], 300).get();
  EXPECT_EQ(short_one.status, 504) << short_one.body;
  EXPECT_EQ(f1.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the 504 came only once a call had returned";
  EXPECT_EQ(f1.get().status, 200);
  EXPECT_EQ(f2.get().status, 200);
}
