#include "worker/handler.h"

#include <cstdio>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "protocol/v2_codec.h"
#include "unit/worker/handler_harness.h"

namespace hir::worker {
namespace {

using ::testing::HasSubstr;
using testing::Gate;
using testing::Harness;
using testing::HarnessOptions;

std::string fp32_bytes(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

std::vector<float> floats_of(const std::string& wire) {
  std::vector<float> v(wire.size() / 4);
  std::memcpy(v.data(), wire.data(), v.size() * 4);
  return v;
}

InferResponse parse(const net::HttpResponse& r) {
  EXPECT_EQ(r.status, 200) << r.body;
  auto resp = protocol::parse_infer_response(r.body, r.headers.get("Inference-Header-Content-Length"));
  EXPECT_TRUE(resp.ok()) << resp.status().to_string() << " body: " << r.body;
  return resp.ok() ? *resp : InferResponse{};
}

constexpr const char* kJsonInfer =
    R"({"id":"abc","inputs":[{"name":"input","shape":[2,4],"datatype":"FP32",)"
    R"("data":[1,2,3,4,5,6,7,8]}]})";

TEST(WorkerHandler, ServerMetadataAndHealth) {
  Harness h({.load = false});
  auto r = h.call("GET", "/v2");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"name\":\"hir-worker\""));
  EXPECT_THAT(r.body, HasSubstr("binary_tensor_data"));
  EXPECT_EQ(h.call("GET", "/v2/health/live").status, 200);

  r = h.call("GET", "/v2/health/ready");
  EXPECT_EQ(r.status, 503);  // models not loaded yet
  EXPECT_THAT(r.body, HasSubstr("\"error\""));
  r = h.call("GET", "/v2/models/toy/ready");
  EXPECT_EQ(r.status, 503);
  r = h.call("POST", "/v2/models/toy/infer", kJsonInfer);
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("not ready"));

  h.load();
  EXPECT_EQ(h.call("GET", "/v2/health/ready").status, 200);
  r = h.call("GET", "/v2/models/toy/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"name":"toy","ready":true})");
}

TEST(WorkerHandler, ModelListAndMetadata) {
  Harness h;
  auto r = h.call("GET", "/v2/models");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"models":["toy"]})");

  r = h.call("GET", "/v2/models/toy");
  EXPECT_EQ(r.status, 200);
  auto sig = protocol::parse_model_metadata(r.body);
  ASSERT_TRUE(sig.ok()) << sig.status().to_string() << " " << r.body;
  EXPECT_EQ(sig->name, "toy");
  EXPECT_EQ(sig->platform, "onnxruntime_onnx");
  EXPECT_EQ(sig->versions, std::vector<std::string>({"1", "2"}));
  ASSERT_EQ(sig->inputs.size(), 1u);
  EXPECT_EQ(sig->inputs[0].shape, Shape({-1, 4}));
  EXPECT_EQ(sig->outputs[0].shape, Shape({-1, 3}));
  EXPECT_EQ(h.call("GET", "/v2/models/toy/versions/1").status, 200);
}

TEST(WorkerHandler, UnknownThingsAreNotFoundAndWrongMethodsNotAllowed) {
  Harness h;
  auto r = h.call("GET", "/v2/notapi");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"Not Found"})");
  EXPECT_EQ(h.call("GET", "/v2/models/notapi/foo").status, 404);

  r = h.call("GET", "/v2/models/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"Request for unknown model: 'nope' is not found"})");
  r = h.call("POST", "/v2/models/nope/infer", kJsonInfer);
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("Request for unknown model: 'nope' is not found"));
  r = h.call("GET", "/v2/models/toy/versions/9/ready");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("'toy' version 9 is not found"));
  r = h.call("POST", "/v2/models/toy/versions//infer", kJsonInfer);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"the model version in the path is empty"})");
  for (const char* empty_name : {"/v2/models//infer", "/v2/models//versions/1/infer"}) {
    r = h.call("POST", empty_name, kJsonInfer);
    EXPECT_EQ(r.status, 404) << empty_name;
    EXPECT_EQ(r.body, R"({"error":"the model name in the path is empty"})") << empty_name;
  }
  EXPECT_EQ(h.call("GET", "/v2/models//ready").status, 404);
  EXPECT_EQ(h.call("GET", "/v2/models/").body, R"({"error":"the model name in the path is empty"})");  // not the list

  r = h.call("GET", "/v2/models/toy/infer");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"error":"Method Not Allowed"})");
  EXPECT_EQ(r.headers.get("Allow"), "POST");
  EXPECT_EQ(h.call("POST", "/v2").status, 405);
  EXPECT_EQ(h.call("DELETE", "/v1/load").status, 405);
}

TEST(WorkerHandler, JsonInferRunsTheWholeBatch) {
  Harness h;
  InferResponse resp = parse(h.call("POST", "/v2/models/toy/infer", kJsonInfer));
  EXPECT_EQ(resp.id, "abc");
  EXPECT_EQ(resp.model_name, "toy");
  EXPECT_EQ(resp.model_version, "2");  // the latest
  ASSERT_EQ(resp.outputs.size(), 1u);
  EXPECT_EQ(resp.outputs[0].name, "probabilities");
  EXPECT_EQ(resp.outputs[0].shape, Shape({2, 3}));
  EXPECT_EQ(floats_of(resp.outputs[0].data), std::vector<float>({10, 20, 30, 26, 52, 78}));
  EXPECT_FALSE(resp.binary.empty() ? false : resp.binary[0]);

  resp = parse(h.call("POST", "/v2/models/toy/versions/1/infer", kJsonInfer));
  EXPECT_EQ(resp.model_version, "1");
}

TEST(WorkerHandler, RequestIdFromHeaderWhenTheBodyHasNone) {
  Harness h;
  net::Headers hdr;
  hdr.set("x-request-id", "req-7");
  hdr.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto r = h.call("POST", "/v2/models/toy/infer",
                  R"({"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,1,1,1]}]})",
                  hdr);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.get("x-request-id"), "req-7");
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("\"id\"")));  // nothing to echo
}

// The body's id is echoed in the body but names nothing else: clients reuse them, so two
// requests with the same one get different x-request-ids, and a header id wins over it.
TEST(WorkerHandler, TheBodyIdIsNotTheRequestId) {
  Harness h;
  const std::string body = R"({"id":"same","inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,1,1,1]}]})";
  auto a = h.call("POST", "/v2/models/toy/infer", body);
  auto b = h.call("POST", "/v2/models/toy/infer", body);
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(parse(a).id, "same");
  EXPECT_NE(a.headers.get("x-request-id").value_or("same"), "same");
  EXPECT_NE(a.headers.get("x-request-id"), b.headers.get("x-request-id"));
  net::Headers hdr;
  hdr.set("x-request-id", "req-8");
  auto c = h.call("POST", "/v2/models/toy/infer", body, hdr);
  EXPECT_EQ(c.headers.get("x-request-id"), "req-8");
  EXPECT_EQ(parse(c).id, "same");
}

// An id too long (or with bytes a header cannot carry) names the request in the answer's body
// only: echoed as the x-request-id header, it would make the answer's head too large for a
// router to read, and a client could make a healthy target look broken.
TEST(WorkerHandler, AnIdThatCannotBeAHeaderIsNotEchoedAsOne) {
  Harness h;
  const std::string id(4096, 'i');
  net::Headers hdr;
  hdr.set("x-request-id", std::string(200, 'h'));
  auto r = h.call("POST", "/v2/models/toy/infer",
                  R"({"id":")" + id + R"(","inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,1,1,1]}]})",
                  hdr);
  EXPECT_EQ(r.status, 200) << r.body;
  const auto echoed = r.headers.get("x-request-id");
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->size(), 16u);  // a new id, neither of the client's
  EXPECT_THAT(r.body, HasSubstr("\"id\":\"" + id + "\""));
}

TEST(WorkerHandler, ServerTimingSaysQueueAndInferenceTime) {
  Harness h;
  auto r = h.call("POST", "/v2/models/toy/infer",
                  R"({"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,1,1,1]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto timing = r.headers.get("Server-Timing");
  ASSERT_TRUE(timing.has_value());
  double queue = -1, infer = -1;
  ASSERT_EQ(std::sscanf(std::string(*timing).c_str(), "queue;dur=%lf, infer;dur=%lf", &queue, &infer), 2) << *timing;
  EXPECT_GE(queue, 0);
  EXPECT_GE(infer, 0);
}

TEST(WorkerHandler, BinaryInferAndOutputSelection) {
  Harness h;
  InferRequest req;
  req.id = "42";
  Tensor in;
  in.name = "input";
  in.shape = {1, 4};
  in.data = fp32_bytes({1, 2, 3, 4});
  req.inputs.push_back(in);
  RequestedOutput out;
  out.name = "probabilities";
  out.binary_data = true;
  req.outputs.push_back(out);
  protocol::Encoded e = protocol::encode_infer_request(req, true);
  ASSERT_TRUE(e.json_length.has_value());
  net::Headers hdr;
  hdr.set("Inference-Header-Content-Length", std::to_string(*e.json_length));
  hdr.set("Content-Type", "application/octet-stream");
  auto r = h.call("POST", "/v2/models/toy/infer", e.body, hdr);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/octet-stream");
  ASSERT_TRUE(r.headers.get("Inference-Header-Content-Length").has_value());
  InferResponse resp = parse(r);
  EXPECT_EQ(resp.id, "42");
  ASSERT_EQ(resp.binary.size(), 1u);
  EXPECT_TRUE(resp.binary[0]);
  EXPECT_EQ(floats_of(resp.outputs[0].data), std::vector<float>({10, 20, 30}));

  // binary_data_output asks for every output raw; a per-output false wins over it.
  r = h.call("POST", "/v2/models/toy/infer",
             R"({"parameters":{"binary_data_output":true},"inputs":[{"name":"input","shape":[1,4],)"
             R"("datatype":"FP32","data":[1,2,3,4]}]})");
  EXPECT_TRUE(r.headers.get("Inference-Header-Content-Length").has_value());
  r = h.call("POST", "/v2/models/toy/infer",
             R"({"parameters":{"binary_data_output":true},"inputs":[{"name":"input","shape":[1,4],)"
             R"("datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"probabilities",)"
             R"("parameters":{"binary_data":false}}]})");
  EXPECT_FALSE(r.headers.get("Inference-Header-Content-Length").has_value());
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
}

TEST(WorkerHandler, RawBinaryRequest) {
  Harness h;
  net::Headers hdr;
  hdr.set("Inference-Header-Content-Length", "0");
  auto r = h.call("POST", "/v2/models/toy/infer", fp32_bytes({1, 1, 1, 1}), hdr);
  InferResponse resp = parse(r);
  ASSERT_EQ(resp.outputs.size(), 1u);
  EXPECT_EQ(resp.outputs[0].shape, Shape({1, 3}));
  EXPECT_TRUE(resp.binary[0]);
  EXPECT_EQ(floats_of(resp.outputs[0].data), std::vector<float>({4, 8, 12}));

  hdr.set("Inference-Header-Content-Length", "00");
  EXPECT_EQ(h.call("POST", "/v2/models/toy/infer", fp32_bytes({1, 1, 1, 1}), hdr).status, 200);
  r = h.call("POST", "/v2/models/toy/infer", fp32_bytes({1, 1, 1}), hdr);  // 12 bytes, needs 16
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST(WorkerHandler, ParallelRequestsOnSeveralThreads) {
  Harness h({.queue_depth = 64, .concurrency = 3});
  std::vector<std::future<net::HttpResponse>> pending;
  for (int i = 0; i < 48; ++i) {
    const std::string v = std::to_string(i);
    pending.push_back(h.start("POST", "/v2/models/toy/infer",
                              R"({"id":")" + v + R"(","inputs":[{"name":"input","shape":[1,4],)"
                                  R"("datatype":"FP32","data":[)" + v + ",0,0,0]}]}"));
  }
  for (int i = 0; i < 48; ++i) {
    InferResponse resp = parse(pending[static_cast<size_t>(i)].get());
    EXPECT_EQ(resp.id, std::to_string(i));
    ASSERT_EQ(resp.outputs.size(), 1u);
    EXPECT_EQ(floats_of(resp.outputs[0].data)[2], 3.0f * static_cast<float>(i));
  }
  EXPECT_THAT(h.handler().load_json(), HasSubstr("\"requests\":48"));
}

TEST(WorkerHandler, InvalidRequestsAre400WithAJsonError) {
  Harness h;
  const char* bad[] = {
      "{not json",
      R"({"inputs":[]})",
      R"({"inputs":[{"name":"input","shape":[1,5],"datatype":"FP32","data":[1,2,3,4,5]}]})",
      R"({"inputs":[{"name":"input","shape":[1,4],"datatype":"INT32","data":[1,2,3,4]}]})",
      R"({"inputs":[{"name":"other","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]})",
      R"({"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]})",
      R"({"inputs":[{"name":"input","shape":[9,4],"datatype":"FP32","data":[)"
      R"(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]})",
      R"({"inputs":[{"name":"input","shape":[0,4],"datatype":"FP32","data":[]}]})",
      R"({"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],)"
      R"("outputs":[{"name":"nope"}]})",
  };
  for (const char* body : bad) {
    auto r = h.call("POST", "/v2/models/toy/infer", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_THAT(r.body, HasSubstr("{\"error\":")) << body;
    EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  }
  net::Headers hdr;
  hdr.set("Inference-Header-Content-Length", "99999999999");
  EXPECT_EQ(h.call("POST", "/v2/models/toy/infer", kJsonInfer, hdr).status, 400);
}

TEST(WorkerHandler, QueueFullIs503WithRetryAfter) {
  auto gate = std::make_shared<Gate>();
  Harness h({.gate = gate, .queue_depth = 1});
  auto first = h.start("POST", "/v2/models/toy/infer", kJsonInfer);
  gate->wait_for_waiting(1);  // the only thread is busy with it
  auto second = h.start("POST", "/v2/models/toy/infer", kJsonInfer);  // fills the queue
  auto r = h.call("POST", "/v2/models/toy/infer", kJsonInfer);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers.get("Retry-After"), "1");
  EXPECT_THAT(r.body, HasSubstr("queue is full"));

  std::string load = h.handler().load_json();
  EXPECT_THAT(load, HasSubstr("\"in_flight\":2"));
  EXPECT_THAT(load, HasSubstr("\"queue_depth\":1"));
  EXPECT_THAT(load, HasSubstr("\"queue_capacity\":1"));

  gate->open();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

TEST(WorkerHandler, LoadReportAndMetrics) {
  Harness h;
  EXPECT_EQ(h.call("POST", "/v2/models/toy/infer", kJsonInfer).status, 200);
  EXPECT_EQ(h.call("POST", "/v2/models/toy/infer", "{oops").status, 400);
  auto r = h.call("GET", "/v1/load");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  EXPECT_THAT(r.body, HasSubstr("\"in_flight\":0"));
  EXPECT_THAT(r.body, HasSubstr("\"concurrency\":1"));
  EXPECT_THAT(r.body, HasSubstr("\"busy_fraction\":"));
  EXPECT_THAT(r.body, HasSubstr("\"models\":{\"toy\":{\"requests\":1,\"p50_ms\":"));
  EXPECT_THAT(r.body, HasSubstr("\"p95_ms\":"));
  EXPECT_THAT(r.body, HasSubstr("\"uptime_s\":"));

  r = h.call("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("hir_worker_requests_total{model=\"toy\",outcome=\"ok\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("hir_worker_requests_total{model=\"toy\",outcome=\"invalid\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("hir_worker_inference_duration_seconds_count{model=\"toy\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("hir_worker_batch_size_bucket{model=\"toy\",le=\"2\"} 1"));
  EXPECT_THAT(r.body, HasSubstr("hir_worker_queue_depth 0"));
  EXPECT_THAT(r.body, HasSubstr("hir_worker_model_ready{model=\"toy\",version=\"2\"} 1"));
}

TEST(WorkerHandler, FailedVersionIsNotServedAndLatestFallsBack) {
  testing::TempRepo repo;
  repo.add_model("toy", testing::kSmallConfig, {1, 3, 4});
  auto base = testing::fake_loader();
  ModelLoader loader = [base](const Slot& s) -> Result<std::unique_ptr<BatchModel>> {
    if (s.onnx_path.parent_path().filename() == "4") return Internal("corrupt file");
    return base(s);
  };
  Harness h({.repository = repo.root(), .loader = loader});
  InferResponse resp = parse(h.call("POST", "/v2/models/toy/infer", kJsonInfer));
  EXPECT_EQ(resp.model_version, "3");
  auto r = h.call("GET", "/v2/models/toy/versions/4/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("failed to load"));
  EXPECT_EQ(h.call("POST", "/v2/models/toy/versions/4/infer", kJsonInfer).status, 503);
  r = h.call("GET", "/v2/models/toy");
  EXPECT_THAT(r.body, HasSubstr("\"versions\":[\"1\",\"3\"]"));
}

}  // namespace
}  // namespace hir::worker
