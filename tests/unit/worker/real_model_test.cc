// The handler on a real trained model from models/ (skipped until one is there), through the
// real ONNX engine: metadata, JSON and binary inference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "protocol/v2_codec.h"
#include "unit/worker/handler_harness.h"

namespace hir::worker {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kModels = std::filesystem::path(HIR_SOURCE_DIR) / "models";

// The first servable fmnist model in models/, or empty.
std::string pick_model() {
  for (const char* name : {"fmnist-tiny", "fmnist-small", "fmnist-large"}) {
    auto scan = scan_repository(kModels, {name});
    if (scan.ok()) return name;
  }
  return "";
}

TEST(RealModel, MetadataJsonAndBinaryInfer) {
  const std::string name = pick_model();
  if (name.empty()) GTEST_SKIP() << "no trained fmnist model under " << kModels;
  testing::Harness h({.repository = kModels, .loader = onnx_model_loader()});
  const std::string base = "/v2/models/" + name;
  if (h.catalog().ready_count() == 0) GTEST_SKIP() << "no model in models/ loaded";

  auto r = h.call("GET", base);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"shape\":[-1,784]"));
  EXPECT_THAT(r.body, HasSubstr("\"shape\":[-1,10]"));

  // Two images as JSON: one blank, one bright.
  std::string data;
  for (int i = 0; i < 2 * 784; ++i) data += (i ? "," : "") + std::string(i < 784 ? "0" : "0.5");
  r = h.call("POST", base + "/infer",
             R"({"id":"r1","inputs":[{"name":"input","shape":[2,784],"datatype":"FP32","data":[)" +
                 data + "]}]}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto resp = protocol::parse_infer_response(r.body, std::nullopt);
  ASSERT_TRUE(resp.ok()) << resp.status().to_string();
  EXPECT_EQ(resp->id, "r1");
  EXPECT_EQ(resp->model_name, name);
  ASSERT_EQ(resp->outputs.size(), 1u);
  EXPECT_EQ(resp->outputs[0].shape, Shape({2, 10}));
  std::vector<float> p(20);
  std::memcpy(p.data(), resp->outputs[0].data.data(), 80);
  for (int row = 0; row < 2; ++row) {
    float sum = 0;
    for (int k = 0; k < 10; ++k) sum += p[row * 10 + k];
    EXPECT_NEAR(sum, 1.0f, 1e-3) << "softmax row " << row;
  }

  // The same second image, raw binary: the same probabilities.
  std::string raw(784 * 4, '\0');
  const float half = 0.5f;
  for (int i = 0; i < 784; ++i) std::memcpy(&raw[i * 4], &half, 4);
  net::Headers hdr;
  hdr.set("Inference-Header-Content-Length", "0");
  r = h.call("POST", base + "/infer", raw, hdr);
  ASSERT_EQ(r.status, 200) << r.body;
  resp = protocol::parse_infer_response(r.body, r.headers.get("Inference-Header-Content-Length"));
  ASSERT_TRUE(resp.ok()) << resp.status().to_string();
  std::vector<float> q(10);
  std::memcpy(q.data(), resp->outputs[0].data.data(), 40);
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(q[k], p[10 + k], 1e-5);

  r = h.call("POST", base + "/infer",
             R"({"inputs":[{"name":"input","shape":[1,783],"datatype":"FP32","data":[0]}]})");
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace hir::worker
