// End-to-end: real hir-worker and hir serve processes on 127.0.0.1.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <thread>
#include <tuple>

#include "bench/loadgen.h"
#include "harness.h"
#include "protocol/v2_codec.h"
#include "testing/compress.h"

using namespace hir;
using namespace hir::testing;

namespace {

class RouterIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir();
    auto items = bench::fmnist_test_requests(8, true);
    ASSERT_TRUE(items.ok()) << items.status().message();
    binary_ = std::move(*items);
    auto json = bench::fmnist_test_requests(8, false);
    ASSERT_TRUE(json.ok());
    json_ = std::move(*json);
  }
  std::string dir_;
  std::vector<bench::LoadItem> binary_, json_;
};

}  // namespace

// Both servers outlive the reader of their log: with stderr into a pipe whose reader quits
// after one byte (tee or a log shipper going away), the next line's write fails instead of
// killing the process with SIGPIPE, and the lines are counted as dropped.
TEST_F(RouterIT, ServersOutliveTheReaderOfTheirLog) {
  // The server replaces the shell (the test's child, stopped at its end); its stderr is a pipe
  // into `head`, which quits after one byte.
  const std::vector<std::string> through_pipe = {"-c", "exec \"$0\" \"$@\" 2> >(head -c 1 >/dev/null)"};
  auto args = through_pipe;
  for (const std::string& a : {std::string(HIR_WORKER_BIN), std::string("--model-repository"),
                               std::string(HIR_SOURCE_DIR) + "/models", std::string("--models"), std::string("fmnist-small")})
    args.push_back(a);
  Proc w = start("/bin/bash", args, dir_, "worker");
  std::ofstream cfg(dir_ + "/piped.yaml");
  cfg << "targets:\n  - {name: edge-1, url: \"http://127.0.0.1:" << w.port << "\", class: edge-cpu}\n"
      << "models:\n  - name: fmnist\n    max_batch_size: 256\n"
         "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
         "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n"
         "    variants: [{name: fmnist-small, targets: [edge-1], accuracy: 0.9}]\n";
  cfg.close();
  args = through_pipe;
  for (const std::string& a : {std::string(HIR_BIN), std::string("serve"), std::string("--config"), dir_ + "/piped.yaml"})
    args.push_back(a);
  Proc r = start("/bin/bash", args, dir_, "router");
  for (int i = 0; i < 5; ++i) {  // every request is a log line on both, after the readers left
    net::Headers h;
    h.set("Content-Type", "application/json");
    EXPECT_EQ(call(r.port, "POST", "/v2/models/fmnist/infer", json_[0].body, h).status, 200) << i;
  }
  EXPECT_EQ(call(w.port, "GET", "/v2/health/live").status, 200);
  // The writer writes in batches: the failed writes are counted once it has tried.
  std::string m;
  for (int i = 0; i < 500; ++i) {
    m = call(r.port, "GET", "/metrics").body;
    if (m.find("hir_log_lines_dropped_total ") != std::string::npos && m.find("hir_log_lines_dropped_total 0\n") == std::string::npos)
      break;
    usleep(10000);
  }
  EXPECT_NE(m.find("hir_log_lines_dropped_total "), std::string::npos);
  EXPECT_EQ(m.find("hir_log_lines_dropped_total 0\n"), std::string::npos) << "no drop counted";
}

TEST_F(RouterIT, HealthMetadataAndReady) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  for (int port : {w.port, r.port}) {
    EXPECT_EQ(call(port, "GET", "/v2/health/live").status, 200);
    EXPECT_EQ(call(port, "GET", "/v2/health/ready").status, 200);
    auto meta = call(port, "GET", "/v2");
    EXPECT_EQ(meta.status, 200);
    EXPECT_NE(meta.body.find("binary_tensor_data"), std::string::npos);
    EXPECT_EQ(call(port, "GET", "/v2/notapi").status, 404);
    auto wrong_method = call(port, "POST", "/v2/health/live");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers.get("Allow"), "GET");
    EXPECT_EQ(call(port, "GET", "/metrics").status, 200);
  }
  auto wm = call(w.port, "GET", "/v2/models/fmnist-small");
  ASSERT_EQ(wm.status, 200);
  auto sig = protocol::parse_model_metadata(wm.body);
  ASSERT_TRUE(sig.ok()) << wm.body;
  EXPECT_EQ(sig->inputs.at(0).shape, (Shape{-1, 784}));
  auto rm = call(r.port, "GET", "/v2/models/fmnist");
  ASSERT_EQ(rm.status, 200);
  auto rsig = protocol::parse_model_metadata(rm.body);
  ASSERT_TRUE(rsig.ok()) << rm.body;
  EXPECT_EQ(rsig->name, "fmnist");
  EXPECT_EQ(rsig->outputs.at(0).name, "probabilities");
  EXPECT_EQ(call(r.port, "GET", "/v2/models/fmnist/ready").status, 200);
  // Triton's model configuration, which its clients (perf_analyzer, get_model_config) read
  // before sending: the batch dimension out of dims, as config.pbtxt has it.
  EXPECT_EQ(call(r.port, "GET", "/v2/models/fmnist/config").body,
            R"({"name":"fmnist","platform":"hir_router","max_batch_size":256,)"
            R"("input":[{"name":"input","data_type":"TYPE_FP32","dims":[784]}],)"
            R"("output":[{"name":"probabilities","data_type":"TYPE_FP32","dims":[10]}]})");
  auto wc = call(w.port, "GET", "/v2/models/fmnist-small/versions/1/config");
  EXPECT_EQ(wc.status, 200);
  EXPECT_NE(wc.body.find(R"("max_batch_size":256,"input":[{"name":"input","data_type":"TYPE_FP32","dims":[784]}])"),
            std::string::npos)
      << wc.body;
  EXPECT_EQ(call(r.port, "GET", "/v2/models/nope/config").status, 404);
  // The model list in KServe's shape, as the worker's.
  EXPECT_EQ(call(r.port, "GET", "/v2/models").body, R"({"models":["fmnist"]})");
  EXPECT_EQ(call(w.port, "GET", "/v2/models").body, R"({"models":["fmnist-small"]})");
  EXPECT_EQ(call(r.port, "GET", "/v2/models/nope").status, 404);
  EXPECT_EQ(call(r.port, "GET", "/v2/models/fmnist/versions/9").status, 404);
  auto empty_version = call(r.port, "POST", "/v2/models/fmnist/versions//infer", "{}");
  EXPECT_EQ(empty_version.status, 404);
  EXPECT_EQ(empty_version.body, R"({"error":"the model version in the path is empty"})");
  for (const char* empty_name : {"/v2/models//infer", "/v2/models//versions/1/infer"}) {
    auto a = call(r.port, "POST", empty_name, "{}");
    EXPECT_EQ(a.status, 404) << empty_name;
    EXPECT_EQ(a.body, R"({"error":"the model name in the path is empty"})") << empty_name;
  }
  EXPECT_EQ(call(r.port, "GET", "/v2/models//ready").body, R"({"error":"the model name in the path is empty"})");
}

// The list is GET /v2/models alone, on both; with a slash after `models` the model's name is
// empty, and a name or version holding an encoded slash is named as such. Both were answered
// otherwise: the list, and a bare "Not Found".
TEST_F(RouterIT, TrailingSlashAndEncodedSlashInModelPathsAreNamed) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  const std::string empty_name = R"({"error":"the model name in the path is empty"})";
  const std::string slash_name =
      R"({"error":"the model name in the path holds an encoded '/' (%2F), which no model name has"})";
  const std::string slash_version =
      R"({"error":"the model version in the path holds an encoded '/' (%2F), which no version has"})";
  for (const auto& [port, model] :
       {std::pair{w.port, std::string("fmnist-small")}, std::pair{r.port, std::string("fmnist")}}) {
    EXPECT_EQ(call(port, "GET", "/v2/models").body, R"({"models":[")" + model + R"("]})") << port;
    for (const char* p : {"/v2/models/", "/v2/models//"}) {
      auto a = call(port, "GET", p);
      EXPECT_EQ(a.status, 404) << port << " " << p;
      EXPECT_EQ(a.body, empty_name) << port << " " << p;
      EXPECT_EQ(a.headers.get("Content-Type"), "application/json") << port << " " << p;
    }
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"GET", "/v2/models/a%2Fb", slash_name},
        {"POST", "/v2/models/a%2fb/infer", slash_name},
        {"GET", "/v2/models/" + model + "%2F/ready", slash_name},
        {"GET", "/v2/models/" + model + "/versions/1%2F2", slash_version},
        {"POST", "/v2/models/" + model + "/versions/1%2f2/infer", slash_version},
    };
    for (const auto& [method, path, body] : cases) {
      auto a = call(port, method, path, method == "POST" ? "{}" : "");
      EXPECT_EQ(a.status, 404) << port << " " << path;
      EXPECT_EQ(a.body, body) << port << " " << path;
      EXPECT_EQ(a.headers.get("Content-Type"), "application/json") << port << " " << path;
    }
  }
}

TEST_F(RouterIT, InferThroughRouterEqualsWorkerDirectly) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  for (const auto* set : {&binary_, &json_}) {
    for (const auto& item : *set) {
      auto direct = call(w.port, "POST", "/v2/models/fmnist-small/infer", item.body, body_headers(item));
      auto routed = call(r.port, "POST", "/v2/models/fmnist/infer", item.body, body_headers(item));
      ASSERT_EQ(direct.status, 200) << direct.body;
      ASSERT_EQ(routed.status, 200) << routed.body;
      auto d = decode(direct), x = decode(routed);
      ASSERT_EQ(d.outputs.size(), 1u);
      ASSERT_EQ(x.outputs.size(), 1u);
      EXPECT_EQ(d.outputs[0].data, x.outputs[0].data);  // the very same bytes
      EXPECT_EQ(x.outputs[0].shape, (Shape{1, 10}));
      EXPECT_EQ(x.model_name, "fmnist");
      EXPECT_EQ(param_string(x.parameters, "hir_target").value_or(""), "edge-1");
      EXPECT_EQ(param_string(x.parameters, "hir_variant").value_or(""), "fmnist-small");
      EXPECT_EQ(param_number(x.parameters, "hir_fallbacks").value_or(-1), 0);
      EXPECT_GT(param_number(x.parameters, "hir_cost_usd").value_or(0), 0);
      EXPECT_GT(param_number(x.parameters, "hir_latency_ms").value_or(0), 0);
      // Binary in, binary out: the extension survives the router both ways.
      EXPECT_EQ(routed.headers.get("inference-header-content-length").has_value(), item.json_length.has_value());
    }
  }
  // A raw binary body (the input's bytes alone), its header length spelt in every way that reads
  // as 0: the router took only "0" as raw, and answered "00" with a 501.
  const std::string pixels(784 * sizeof(float), '\0');
  for (const char* zero : {"0", "00", " 0"}) {
    net::Headers h;
    h.set("Content-Type", "application/octet-stream");
    h.set("Inference-Header-Content-Length", zero);
    auto direct = call(w.port, "POST", "/v2/models/fmnist-small/infer", pixels, h);
    auto routed = call(r.port, "POST", "/v2/models/fmnist/infer", pixels, h);
    ASSERT_EQ(direct.status, 200) << zero << ": " << direct.body.substr(0, 200);
    ASSERT_EQ(routed.status, 200) << zero << ": " << routed.body.substr(0, 200);
    EXPECT_EQ(decode(direct).outputs.at(0).data, decode(routed).outputs.at(0).data) << zero;
  }
}

// A body compressed as tritonclient sends it (request_compression_algorithm: gzip or deflate,
// over the whole body, the header length still the plain JSON's): the same answer as plain.
TEST_F(RouterIT, ACompressedRequestIsAnsweredAsThePlainOne) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  for (const auto& item : {binary_[0], json_[1]}) {
    auto plain = call(w.port, "POST", "/v2/models/fmnist-small/infer", item.body, body_headers(item));
    ASSERT_EQ(plain.status, 200) << plain.body;
    for (auto [coding, bits] : {std::pair{"gzip", 15 + 16}, std::pair{"deflate", 15}}) {
      net::Headers h = body_headers(item);
      h.set("Content-Encoding", coding);
      for (int port : {w.port, r.port}) {
        const std::string path = port == w.port ? "/v2/models/fmnist-small/infer" : "/v2/models/fmnist/infer";
        auto res = call(port, "POST", path, compress(item.body, bits), h);
        ASSERT_EQ(res.status, 200) << coding << " on " << port << ": " << res.body.substr(0, 200);
        EXPECT_EQ(decode(res).outputs.at(0).data, decode(plain).outputs.at(0).data) << coding;
      }
    }
  }
  net::Headers br = body_headers(json_[0]);
  br.set("Content-Encoding", "br");
  EXPECT_EQ(call(r.port, "POST", "/v2/models/fmnist/infer", json_[0].body, br).status, 415);
}

TEST_F(RouterIT, RequestIdIsEchoedAndBadRequestsAre4xx) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  net::Headers h;
  h.set("Content-Type", "application/json");
  std::string body = R"({"id":"req-42","inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 784; ++i) body += i ? ",0.5" : "0.5";
  body += "]}]}";
  auto ok = call(r.port, "POST", "/v2/models/fmnist/infer", body, h);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(decode(ok).id, "req-42");
  EXPECT_NE(ok.headers.get("x-request-id").value_or("req-42"), "req-42");  // the router's id, not the body's
  for (const std::string& bad : {
           std::string("{"), std::string(R"({"inputs":[]})"),
           std::string(R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})"),
           std::string(R"({"inputs":[{"name":"nope","shape":[1,1],"datatype":"FP32","data":[1]}]})"),
           body.substr(0, body.size() - 2) + R"(],"parameters":{"priority":"urgent"}})"}) {
    auto res = call(r.port, "POST", "/v2/models/fmnist/infer", bad, h);
    EXPECT_GE(res.status, 400) << bad.substr(0, 80);
    EXPECT_LT(res.status, 500) << bad.substr(0, 80);
    EXPECT_NE(res.body.find("\"error\""), std::string::npos);
  }
  EXPECT_EQ(call(r.port, "GET", "/v2/health/live").status, 200);  // still up
}

// The request id (log lines, ledger, x-request-id) is the client's x-request-id, else a new one,
// never the body's `id`: clients reuse body ids ("readme-1"), and two requests must not share a
// request id. The body's `id` is still echoed in the answer, and logged as client_id.
TEST_F(RouterIT, RequestsWithTheSameBodyIdGetDifferentRequestIds) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  std::string body = R"({"id":"readme-1","inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 784; ++i) body += i ? ",0.5" : "0.5";
  body += "]}]}";
  auto send = [&](const std::string& header_id) {
    net::Headers h;
    h.set("Content-Type", "application/json");
    if (!header_id.empty()) h.set("x-request-id", header_id);
    auto res = call(r.port, "POST", "/v2/models/fmnist/infer", body, h);
    EXPECT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(decode(res).id, "readme-1");  // echoed as v2 requires
    const std::string id(res.headers.get("x-request-id").value_or(""));
    EXPECT_TRUE(log_gets(r.log, R"("event":"request","service":"hir","request_id":")" + id + R"(","client_id":"readme-1")"))
        << id << "\n" << file_text(r.log).substr(0, 3000);
    return id;
  };
  const std::string a = send(""), b = send("");
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, "readme-1");
  EXPECT_NE(a, b);
  EXPECT_EQ(send("trace-9"), "trace-9");
  // A refused request's line carries the body's id too, once the body was read.
  net::Headers h;
  h.set("Content-Type", "application/json");
  auto bad = call(r.port, "POST", "/v2/models/fmnist/infer", R"({"id":"readme-1","inputs":[{"name":"nope","shape":[1,1],"datatype":"FP32","data":[1]}]})", h);
  EXPECT_EQ(bad.status, 400) << bad.body;
  const std::string id(bad.headers.get("x-request-id").value_or(""));
  EXPECT_NE(id, "readme-1");
  EXPECT_TRUE(log_gets(r.log, R"("event":"request_invalid","service":"hir","request_id":")" + id + R"(","client_id":"readme-1")"))
      << id << "\n" << file_text(r.log).substr(0, 3000);
}

TEST_F(RouterIT, FailsOverWhenTheFirstWorkerIsKilled) {
  auto edge = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto cloud = start_worker(dir_, "cloud", {"--models", "fmnist-large"});
  auto r = start_router(dir_, {{"edge-1", edge.port, "edge-cpu", "fmnist-small"},
                               {"cloud-1", cloud.port, "cloud", "fmnist-large", 0.0002}});
  const auto& item = binary_[0];
  auto before = decode(call(r.port, "POST", "/v2/models/fmnist/infer", item.body, body_headers(item)));
  EXPECT_EQ(param_string(before.parameters, "hir_target").value_or(""), "edge-1");

  edge.child.kill_now();
  double fallbacks = 0;
  for (size_t i = 0; i < binary_.size(); ++i) {
    const auto& it = binary_[i];
    auto res = call(r.port, "POST", "/v2/models/fmnist/infer", it.body, body_headers(it));
    ASSERT_EQ(res.status, 200) << res.body;
    auto d = decode(res);
    EXPECT_EQ(param_string(d.parameters, "hir_target").value_or(""), "cloud-1");
    EXPECT_EQ(param_string(d.parameters, "hir_variant").value_or(""), "fmnist-large");
    double f = param_number(d.parameters, "hir_fallbacks").value_or(-1);
    if (i == 0) {
      EXPECT_EQ(f, 1);  // the first finds the edge gone and falls back
    }
    fallbacks += f;
  }
  // Later ones may go straight to the cloud once the edge's breaker has opened.
  auto metrics = call(r.port, "GET", "/metrics").body;
  const std::string series = "hir_fallbacks_total{model=\"fmnist\"} ";
  auto at = metrics.find(series);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_EQ(std::stod(metrics.substr(at + series.size())), fallbacks);
  cloud.child.kill_now();
  auto none = call(r.port, "POST", "/v2/models/fmnist/infer", item.body, body_headers(item));
  EXPECT_EQ(none.status, 503) << none.body;
  EXPECT_NE(none.body.find("\"error\""), std::string::npos) << none.body;
}

TEST_F(RouterIT, FullQueueAnswers503) {
  // One execution thread and room for one waiting request: a burst of big batches overflows it.
  auto w = start_worker(dir_, "busy", {"--models", "fmnist-large", "--concurrency", "1", "--queue-depth", "1"});
  InferRequest big;
  Tensor t;
  t.name = "input";
  t.shape = {256, 784};
  t.data.assign(256 * 784 * 4, '\0');
  big.inputs.push_back(std::move(t));
  auto enc = protocol::encode_infer_request(big, true);
  bench::LoadItem item{enc.body, enc.json_length, -1};
  std::vector<bench::LoadItem> items(32, item);
  bench::LoadOptions lo;
  lo.url.host = "127.0.0.1";
  lo.url.port = static_cast<uint16_t>(w.port);
  lo.path = "/v2/models/fmnist-large/infer";
  lo.concurrency = 32;
  auto results = bench::run_closed_loop(items, lo);
  int ok = 0, full = 0;
  for (const auto& res : results) {
    if (res.status == 200) ++ok;
    if (res.status == 503) {
      ++full;
      EXPECT_NE(res.error.find("\"error\""), std::string::npos);
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(full, 1);
  EXPECT_EQ(ok + full, 32);
  EXPECT_EQ(call(w.port, "GET", "/v2/health/live").status, 200);
}

// With several I/O threads each connection lives on one thread's event loop and upstream
// connections are pooled per thread first (net/event_loop.h): under concurrent load over two
// targets every request is answered, with the same prediction as a single-threaded router gives.
TEST_F(RouterIT, SeveralIoThreadsAnswerEveryRequestUnderLoad) {
  auto a = start_worker(dir_, "edge-a", {"--models", "fmnist-small"});
  auto b = start_worker(dir_, "edge-b", {"--models", "fmnist-small"});
  const std::vector<TargetSpec> targets{{"edge-1", a.port, "edge-cpu", "fmnist-small"},
                                        {"edge-2", b.port, "edge-cpu", "fmnist-small"}};
  std::filesystem::create_directories(dir_ + "/one");
  auto one = start_router(dir_ + "/one", targets);
  auto three = start_router(dir_, targets, "server: {threads: 3}\n");
  std::vector<bench::LoadItem> items;
  for (int round = 0; round < 40; ++round) items.insert(items.end(), binary_.begin(), binary_.end());
  bench::LoadOptions lo;
  lo.url.host = "127.0.0.1";
  lo.path = "/v2/models/fmnist/infer";
  lo.concurrency = 24;
  lo.url.port = static_cast<uint16_t>(one.port);
  const auto expected = bench::run_closed_loop(items, lo);
  lo.url.port = static_cast<uint16_t>(three.port);
  const auto results = bench::run_closed_loop(items, lo);
  ASSERT_EQ(results.size(), items.size());
  ASSERT_EQ(expected.size(), items.size());
  std::set<std::string> used;
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_EQ(expected[i].status, 200) << expected[i].error;
    ASSERT_EQ(results[i].status, 200) << results[i].error;
    EXPECT_EQ(results[i].predicted, expected[i].predicted) << i;
    used.insert(results[i].target);
  }
  EXPECT_EQ(used, (std::set<std::string>{"edge-1", "edge-2"}));
}

TEST_F(RouterIT, AnEmulatedSlowDeviceReportsItsServiceTime) {
  // --emulate-service-ms: the answer is the model's, and the worker reports the emulated time as
  // its service time, which is what a router learns from Server-Timing.
  auto fast = start_worker(dir_, "fast", {"--models", "fmnist-small"});
  auto slow = start_worker(dir_, "slow", {"--models", "fmnist-small", "--emulate-service-ms", "40"});
  const auto& item = binary_[0];
  auto a = call(fast.port, "POST", "/v2/models/fmnist-small/infer", item.body, body_headers(item));
  auto b = call(slow.port, "POST", "/v2/models/fmnist-small/infer", item.body, body_headers(item));
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.body, a.body);
  const std::string timing(b.headers.get("Server-Timing").value_or(""));
  const auto at = timing.find("infer;dur=");
  ASSERT_NE(at, std::string::npos) << timing;
  EXPECT_GE(std::stod(timing.substr(at + 10)), 40.0) << timing;
}

namespace {

// Sends four requests to `p` at `path`, waits until its /metrics says `gauge` 4 (all four in
// flight), sends `sig`, and checks the drain: each request answered 200, exit status 0 with the
// four in its shutdown line, the port closed.
void expect_drain(Proc& p, const std::vector<bench::LoadItem>& items, const std::string& path,
                  const std::string& gauge, int sig) {
  bench::LoadOptions lo;
  lo.url.host = "127.0.0.1";
  lo.url.port = static_cast<uint16_t>(p.port);
  lo.path = path;
  lo.concurrency = 4;
  auto fut = std::async(std::launch::async, [&] { return bench::run_closed_loop(items, lo); });
  bool in_flight = false;
  for (int i = 0; i < 300 && !in_flight; ++i) {
    auto m = call(p.port, "GET", "/metrics").body;
    in_flight = m.find(gauge + " 4\n") != std::string::npos;
    if (!in_flight) usleep(5000);
  }
  ASSERT_TRUE(in_flight);
  ::kill(p.child.pid(), sig);
  auto results = fut.get();
  ASSERT_EQ(results.size(), 4u);
  for (const auto& res : results) EXPECT_EQ(res.status, 200) << res.error;
  EXPECT_EQ(p.child.wait(std::chrono::seconds(20)), 0);
  // It saw them in flight when the signal came, so the drain was exercised.
  const std::string text = file_text(p.log);  // it has exited: its log is complete
  EXPECT_NE(text.find(R"("event":"shutdown")"), std::string::npos);
  EXPECT_NE(text.find(R"("in_flight":4)"), std::string::npos) << text.substr(0, 2000);
  // And it no longer listens.
  EXPECT_EQ(call(p.port, "GET", "/v2/health/live", "", {}, std::chrono::seconds(2)).status, 0);
}

}  // namespace

// SIGHUP as SIGTERM: the session that started the router going away must not cut its requests.
TEST_F(RouterIT, GracefulShutdownAnswersRequestsInFlight) {
  // The worker holds each response 1.2 s (emulated WAN; the target timeout is 2 s), so the
  // requests are surely in flight when the signal comes.
  auto w = start_worker(dir_, "slow", {"--models", "fmnist-small", "--emulate-rtt-ms", "1200"});
  std::vector<bench::LoadItem> items(binary_.begin(), binary_.begin() + 4);
  for (int sig : {SIGTERM, SIGHUP}) {
    SCOPED_TRACE(sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
    expect_drain(r, items, "/v2/models/fmnist/infer", "hir_requests_in_flight", sig);
  }
}

TEST_F(RouterIT, AWorkerDrainsOnSigtermAndSighup) {
  std::vector<bench::LoadItem> items(binary_.begin(), binary_.begin() + 4);
  for (int sig : {SIGTERM, SIGHUP}) {
    SCOPED_TRACE(sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    // Each inference takes 1.2 s on one of four threads: the worker counts them in flight.
    auto w = start_worker(dir_, "draining",
                          {"--models", "fmnist-small", "--emulate-service-ms", "1200", "--concurrency", "4"});
    expect_drain(w, items, "/v2/models/fmnist-small/infer", "hir_worker_in_flight", sig);
  }
}

TEST_F(RouterIT, ARequestNoTargetCanServeIsCountedAndLogged) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  net::Headers h;
  h.set("Content-Type", "application/json");
  std::string body = R"({"parameters":{"min_accuracy":0.999},"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 784; ++i) body += i ? ",0.5" : "0.5";
  body += "]}]}";
  h.set("x-request-id", "refused-1");
  auto res = call(r.port, "POST", "/v2/models/fmnist/infer", body, h);
  EXPECT_GE(res.status, 400) << res.body;
  EXPECT_NE(res.body.find("min_accuracy"), std::string::npos) << res.body;
  // The answer names the request as its log line does.
  EXPECT_EQ(res.headers.get("x-request-id").value_or(""), "refused-1");
  auto metrics = call(r.port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("hir_refused_total 1"), std::string::npos) << metrics.body.substr(0, 2000);
  EXPECT_TRUE(log_gets(r.log, R"("event":"request_refused","service":"hir","request_id":"refused-1")")) << file_text(r.log).substr(0, 2000);
}

// A request shed under overload (429) is logged like every other answer, and its answer carries
// the id its log line has.
TEST_F(RouterIT, AShedRequestIsLoggedAndNamed) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  // Sheddable requests are refused as soon as anything is in flight.
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}},
                        "routing: {shed_sheddable_above: 0.0, shed_standard_above: 0.99}\n");
  net::Headers h;
  h.set("Content-Type", "application/json");
  std::string body = R"({"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 784; ++i) body += i ? ",0.5" : "0.5";
  body += "]}]}";
  ::kill(w.child.pid(), SIGSTOP);  // one standard request held at the worker: the fleet is busy
  auto held = std::async(std::launch::async, [&] { return call(r.port, "POST", "/v2/models/fmnist/infer", body, h); });
  bool in_flight = false;
  for (int i = 0; i < 300 && !in_flight; ++i) {
    in_flight = call(r.port, "GET", "/metrics").body.find("hir_requests_in_flight 1") != std::string::npos;
    if (!in_flight) usleep(5000);
  }
  net::Headers hs = h;
  hs.set("x-request-id", "shed-1");
  auto shed = call(r.port, "POST", "/v2/models/fmnist/infer",
                   body.substr(0, body.size() - 1) + R"(,"parameters":{"priority":"sheddable"}})", hs);
  ::kill(w.child.pid(), SIGCONT);
  ASSERT_TRUE(in_flight);
  EXPECT_EQ(shed.status, 429) << shed.body;
  EXPECT_TRUE(shed.headers.get("Retry-After").has_value());
  EXPECT_EQ(shed.headers.get("x-request-id").value_or(""), "shed-1");
  EXPECT_TRUE(log_gets(r.log, R"("status":429,"reason":"overloaded)"));  // as answered
  EXPECT_TRUE(log_gets(r.log, R"("event":"request_shed","service":"hir","request_id":"shed-1")")) << file_text(r.log).substr(0, 2000);
  EXPECT_EQ(held.get().status, 200);
}

// A request the router refuses before routing (malformed, or not what the model takes) is
// answered 400 with the reason, and counted and logged — the reason, never the body.
TEST_F(RouterIT, AMalformedRequestIsCountedAndLoggedWithoutItsBody) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  net::Headers h;
  h.set("Content-Type", "application/json");
  h.set("x-request-id", "client-42");
  const std::string bad = R"({"inputs":[{"name":"secret_input_name","shape":[1,784],"datatype":"FP32","data":[7777]}]})";
  auto res = call(r.port, "POST", "/v2/models/fmnist/infer", bad, h);
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.body.find("\"error\""), std::string::npos) << res.body;
  auto metrics = call(r.port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find(R"(hir_requests_total{model="fmnist",outcome="invalid",target="none"} 1)"),
            std::string::npos)
      << metrics.body.substr(0, 3000);
  EXPECT_TRUE(log_gets(r.log, "\"event\":\"request_invalid\"")) << file_text(r.log).substr(0, 2000);
  const std::string text = file_text(r.log);
  const size_t at = text.find("\"event\":\"request_invalid\"");
  const std::string line = text.substr(at, text.find('\n', at) - at);
  EXPECT_NE(line.find("client-42"), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":400"), std::string::npos) << line;
  EXPECT_EQ(line.find("7777"), std::string::npos) << line;  // no tensor data in the log
}

// A batch of no images is refused by the router's head check, as one over max_batch_size is:
// 400, counted as invalid, and no target sees it.
TEST_F(RouterIT, AnEmptyBatchIsRefusedBeforeRouting) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  net::Headers h;
  h.set("Content-Type", "application/json");
  auto res = call(r.port, "POST", "/v2/models/fmnist/infer",
                  R"({"inputs":[{"name":"input","shape":[0,784],"datatype":"FP32","data":[]}]})", h);
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.body.find("batch-size must be >= 1"), std::string::npos) << res.body;
  const std::string metrics = call(r.port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(hir_requests_total{model="fmnist",outcome="invalid",target="none"} 1)"), std::string::npos)
      << metrics.substr(0, 3000);
  for (size_t at = metrics.find("\nhir_requests_total{"); at != std::string::npos;
       at = metrics.find("\nhir_requests_total{", at + 1)) {
    const std::string line = metrics.substr(at + 1, metrics.find('\n', at + 1) - at - 1);
    if (line.find(R"(target="edge-1")") != std::string::npos) {
      EXPECT_TRUE(line.ends_with("} 0")) << line;
    }
  }
}

// Every refusal of an inference request carries the id its log line has, by the rule a 200's
// follows: the client's x-request-id, else a new one (the client learns it from the answer).
// 400s and 404s had no header, and their log line a blank or unseen id.
TEST_F(RouterIT, ARefusedInferenceRequestIsNamedAsItsLogLineIs) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  auto refused = [&](const std::string& path, const std::string& body, const std::string& header_id, int status) {
    net::Headers h;
    h.set("Content-Type", "application/json");
    if (!header_id.empty()) h.set("x-request-id", header_id);
    auto res = call(r.port, "POST", path, body, h);
    EXPECT_EQ(res.status, status) << res.body;
    const std::string id(res.headers.get("x-request-id").value_or(""));
    EXPECT_FALSE(id.empty()) << path << " " << body;
    EXPECT_TRUE(log_gets(r.log, R"("event":"request_invalid","service":"hir","request_id":")" + id + '"'))
        << id << "\n" << file_text(r.log).substr(0, 3000);
    return id;
  };
  const std::string int32 = R"({"inputs":[{"name":"input","shape":[1,784],"datatype":"INT32","data":[0]}]})";
  EXPECT_EQ(refused("/v2/models/fmnist/infer", int32, "q2", 400), "q2");
  EXPECT_EQ(refused("/v2/models/nosuch/infer", int32, "q3", 404), "q3");
  EXPECT_EQ(refused("/v2/models/fmnist/versions/9/infer", int32, "q4", 404), "q4");
  EXPECT_EQ(refused("/v2/models/fmnist/infer", "{not json", "q6", 400), "q6");
  // A body that was read but is refused (an input the model lacks, a hint out of range): the
  // header's id names it still; the body's `id` is only its client_id.
  auto image = [](std::string_view head) {
    std::string b(head);
    for (int i = 0; i < 784; ++i) b += i ? ",0.5" : "0.5";
    return b + "]}]}";
  };
  EXPECT_EQ(refused("/v2/models/fmnist/infer",
                    image(R"({"id":"b-5","inputs":[{"name":"nope","shape":[1,784],"datatype":"FP32","data":[)"), "q5", 400),
            "q5");
  EXPECT_EQ(refused("/v2/models/fmnist/infer",
                    image(R"({"id":"b-7","parameters":{"latency_budget_ms":-1},"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)"),
                    "q7", 400),
            "q7");
  // Without any id the router makes one, and the answer tells the client which.
  EXPECT_NE(refused("/v2/models/fmnist/infer", int32, "", 400), "");
  EXPECT_NE(refused("/v2/models/nosuch/infer", int32, "", 404), "");
}

// A head that fit one model is remembered as fitting (it is not checked again), but only for that
// model: the same head sent to a model whose input has another name is refused each time, before
// and after it fits the first one, from one I/O thread (one memo).
TEST_F(RouterIT, AHeadThatFitsOneModelIsCheckedAgainForAnother) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  {
    std::ofstream cfg(dir_ + "/router.yaml");
    cfg << "server: {threads: 1}\ntargets:\n"
        << "  - {name: edge-1, url: \"http://127.0.0.1:" << w.port << "\", class: edge-cpu, cost_per_request_usd: 0.0001}\n"
        << "models:\n";
    for (const char* m : {"fmnist", "other"})
      cfg << "  - name: " << m << "\n    max_batch_size: 256\n"
          << "    inputs: [{name: " << (std::string(m) == "fmnist" ? "input" : "pixels") << ", datatype: FP32, shape: [784]}]\n"
          << "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n"
          << "    variants:\n      - {name: fmnist-small, targets: [edge-1], accuracy: 0.9}\n";
  }
  auto r = start(HIR_BIN, {"serve", "--config", dir_ + "/router.yaml"}, dir_, "router");
  net::Headers h;
  h.set("Content-Type", "application/octet-stream");
  h.set("Inference-Header-Content-Length", std::to_string(binary_[0].json_length.value_or(0)));
  for (int round = 0; round < 3; ++round) {
    auto other = call(r.port, "POST", "/v2/models/other/infer", binary_[0].body, h);
    EXPECT_EQ(other.status, 400) << round << " " << other.body;
    EXPECT_NE(other.body.find("unexpected inference input 'input' for model 'other'"), std::string::npos) << other.body;
    auto fits = call(r.port, "POST", "/v2/models/fmnist/infer", binary_[0].body, h);
    EXPECT_EQ(fits.status, 200) << round << " " << fits.body;
  }
}

// The router reads only a forwarded body's head (protocol::parse_infer_request_head): a JSON
// tensor whose values do not fit its shape is found by the target, whose 400 comes back as it is,
// and counts against nobody: the target keeps serving.
TEST_F(RouterIT, TensorDataTheTargetRefusesComesBackAs400) {
  auto w = start_worker(dir_, "edge", {"--models", "fmnist-small"});
  auto r = start_router(dir_, {{"edge-1", w.port, "edge-cpu", "fmnist-small"}});
  net::Headers h;
  h.set("Content-Type", "application/json");
  const std::string bad = R"({"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[1,2,3]}]})";
  for (int i = 0; i < 8; ++i) {
    auto res = call(r.port, "POST", "/v2/models/fmnist/infer", bad, h);
    EXPECT_EQ(res.status, 400) << res.body;
    EXPECT_NE(res.body.find("\"error\""), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("input"), std::string::npos) << res.body;
  }
  auto ok = call(r.port, "POST", "/v2/models/fmnist/infer", json_[0].body, body_headers(json_[0]));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

// Start-up failures: a JSON line like every other (the worker logs the same event) and status 2
// for what the operator must fix, a --config that does not exist included (CLI11's own code was
// 105).
TEST_F(RouterIT, AStartupFailureIsAJsonLineAndStatus2) {
  const std::string bad = dir_ + "/bad.yaml";
  {
    std::ofstream(bad) << "bogus: 1\n";
  }
  const std::string log = dir_ + "/bad.log";
  auto p = ChildProcess::spawn({HIR_BIN, "serve", "--config", bad}, log);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->wait(std::chrono::seconds(30)), 2);
  const std::string text = file_text(log);
  EXPECT_NE(text.find(R"("event":"startup_failed")"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown key 'bogus'"), std::string::npos) << text;
  auto missing = ChildProcess::spawn({HIR_BIN, "serve", "--config", dir_ + "/none.yaml"}, dir_ + "/none.log");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->wait(std::chrono::seconds(30)), 2);
  // The worker's usage errors alike (CLI11's own code was 109).
  auto worker = ChildProcess::spawn({HIR_WORKER_BIN, "--no-such-option"}, dir_ + "/usage.log");
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ(worker->wait(std::chrono::seconds(30)), 2);
}

// A request still queued past its caller's x-hir-timeout-ms is answered 504 and not run: its
// caller gave up, and running it would only delay the requests behind it.
TEST_F(RouterIT, AWorkerSkipsARequestQueuedPastItsTimeout) {
  auto w = start_worker(dir_, "slow", {"--models", "fmnist-small", "--concurrency", "1", "--emulate-service-ms", "400"});
  auto send_three = [&](const std::string& timeout_ms) {
    std::vector<std::future<net::HttpResponse>> calls;
    for (int i = 0; i < 3; ++i)
      calls.push_back(std::async(std::launch::async, [&, i] {
        net::Headers h = body_headers(json_[i]);
        if (!timeout_ms.empty()) h.set("x-hir-timeout-ms", timeout_ms);
        return call(w.port, "POST", "/v2/models/fmnist-small/infer", json_[i].body, h);
      }));
    std::vector<int> statuses;
    for (auto& c : calls) {
      auto r = c.get();
      statuses.push_back(r.status);
      if (r.status == 504) {
        EXPECT_NE(r.body.find("past its x-hir-timeout-ms"), std::string::npos) << r.body;
      }
    }
    std::sort(statuses.begin(), statuses.end());
    return statuses;
  };
  // One runs (400 ms); the two queued behind it wait longer than 150 ms and are not run.
  EXPECT_EQ(send_three("150"), (std::vector<int>{200, 504, 504}));
  // Without the header, or with one it cannot read, every request runs.
  EXPECT_EQ(send_three(""), (std::vector<int>{200, 200, 200}));
  EXPECT_EQ(send_three("soon"), (std::vector<int>{200, 200, 200}));
}

// `hir help` and `hir help COMMAND` print what --help prints; an unknown command is a usage error.
TEST_F(RouterIT, HelpIsACommandToo) {
  const std::string log = dir_ + "/help.log";
  auto all = ChildProcess::spawn({HIR_BIN, "help"}, log);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->wait(std::chrono::seconds(30)), 0);
  EXPECT_NE(file_text(log).find("Usage: hir [OPTIONS] SUBCOMMAND"), std::string::npos) << file_text(log);
  const std::string serve_log = dir_ + "/help-serve.log";
  auto serve = ChildProcess::spawn({HIR_BIN, "help", "serve"}, serve_log);
  ASSERT_TRUE(serve.ok());
  EXPECT_EQ(serve->wait(std::chrono::seconds(30)), 0);
  EXPECT_NE(file_text(serve_log).find("Usage: hir serve [OPTIONS]"), std::string::npos) << file_text(serve_log);
  EXPECT_NE(file_text(serve_log).find("--drain-seconds"), std::string::npos);
  // The footer names every endpoint the router serves.
  for (const char* endpoint : {"/v1/route/explain", "[/config|/ready]", "/v2/health/{live,ready}", "/v1/targets"})
    EXPECT_NE(file_text(serve_log).find(endpoint), std::string::npos) << endpoint << "\n" << file_text(serve_log);
  auto unknown = ChildProcess::spawn({HIR_BIN, "help", "nonesuch"}, dir_ + "/help-unknown.log");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->wait(std::chrono::seconds(30)), 2);
}

// Each of the three programs answers --version with the project's version, exit 0.
TEST_F(RouterIT, EveryProgramPrintsItsVersion) {
  for (const char* bin : {HIR_BIN, HIR_WORKER_BIN, HIR_MCU_EMU_BIN}) {
    const std::string log = dir_ + "/version.log";
    auto p = ChildProcess::spawn({bin, "--version"}, log);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->wait(std::chrono::seconds(30)), 0) << bin << ": " << file_text(log);
    EXPECT_NE(file_text(log).find(HIR_VERSION), std::string::npos) << bin << ": " << file_text(log);
  }
}

// Ctrl-C ends a long `hir bench` with the figures of the requests sent so far (they were lost);
// so does SIGHUP, when the terminal it ran in goes away.
TEST_F(RouterIT, AnInterruptedBenchPrintsWhatItSent) {
  auto w = start_worker(dir_, "slow", {"--models", "fmnist-small", "--emulate-service-ms", "5"});
  auto answered = [&w] {
    const auto page = call(w.port, "GET", "/metrics").body;
    const std::string key = "{model=\"fmnist-small\",outcome=\"ok\"} ";
    const auto at = page.find(key);
    return at == std::string::npos ? 0.0 : std::stod(page.substr(at + key.size()));
  };
  for (const int sig : {SIGINT, SIGHUP}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGHUP");
    const std::string log = dir_ + "/bench-" + std::to_string(sig) + ".log";
    auto b = ChildProcess::spawn({HIR_BIN, "bench", "--url", "http://127.0.0.1:" + std::to_string(w.port), "--model",
                                  "fmnist-small", "-n", "1000000"},
                                 log);
    ASSERT_TRUE(b.ok());
    // Counted once the run before (which finished its requests in flight) has exited.
    const double before = answered();
    ASSERT_TRUE(eventually([&] { return answered() > before; }));  // this run is under way
    ::kill(b->pid(), sig);
    EXPECT_EQ(b->wait(std::chrono::seconds(60)), 130);
    const std::string out = file_text(log);
    EXPECT_NE(out.find("(interrupted: the requests sent until then)"), std::string::npos) << out;
    EXPECT_NE(out.find(" ok ("), std::string::npos) << out;
  }
}

// hir report: what the command line got wrong exits 2, as every usage error; a missing database 1.
TEST_F(RouterIT, ReportUsageErrorsExit2) {
  auto bad_since = ChildProcess::spawn({HIR_BIN, "report", "--since", "5x"}, dir_ + "/report-since.log");
  ASSERT_TRUE(bad_since.ok());
  EXPECT_EQ(bad_since->wait(std::chrono::seconds(30)), 2);
  EXPECT_NE(file_text(dir_ + "/report-since.log").find("unknown unit 'x'"), std::string::npos);
  auto no_db = ChildProcess::spawn({HIR_BIN, "report", "--database", "sqlite://" + dir_ + "/none.db"}, dir_ + "/report-db.log");
  ASSERT_TRUE(no_db.ok());
  EXPECT_EQ(no_db->wait(std::chrono::seconds(30)), 1);
}

// A model named with --models whose file cannot be loaded stops the worker, as its --help says;
// before, it went on and reported ready without that model, so a deploy passed its readiness probe.
TEST_F(RouterIT, AWorkerStopsWhenAModelItWasToldToServeDoesNotLoad) {
  namespace fs = std::filesystem;
  const fs::path repo = fs::path(dir_) / "repo";
  fs::create_directories(repo / "broken" / "1");
  fs::copy(fs::path(HIR_SOURCE_DIR) / "models" / "fmnist-tiny", repo / "fmnist-tiny", fs::copy_options::recursive);
  std::ofstream(repo / "broken" / "1" / "model.onnx") << "not an onnx file";
  {
    std::ifstream in(repo / "fmnist-tiny" / "config.yaml");
    std::string cfg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    cfg.replace(cfg.find("name: fmnist-tiny"), 17, "name: broken");
    std::ofstream(repo / "broken" / "config.yaml") << cfg;
  }
  const std::string log = dir_ + "/named.log";
  auto p = ChildProcess::spawn({HIR_WORKER_BIN, "--model-repository", repo.string(), "--models", "fmnist-tiny,broken",
                                "--port", "0"},
                               log);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->wait(std::chrono::seconds(60)), 1);
  const std::string text = file_text(log);
  EXPECT_NE(text.find("model 'broken' named by --models could not be loaded"), std::string::npos) << text;
  // Without --models the repository is served as it is: the broken model is skipped.
  auto all = start(HIR_WORKER_BIN, {"--model-repository", repo.string()}, dir_, "all");
  EXPECT_EQ(call(all.port, "GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(call(all.port, "GET", "/v2/models/broken/ready").status, 503);
}
