#include "backends/mcu_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "backends/busy_meter.h"
#include "unit/backends/emu_process.h"

namespace hir::backends {
namespace {

using test::fp32_request;
using test::u8_request;

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> px(n);
  for (size_t i = 0; i < n; ++i) px[i] = static_cast<uint8_t>(i * 7);
  return px;
}

TEST(McuCodec, Fp32PixelsOver255RecoverEveryPixelExactly) {
  std::vector<uint8_t> px(256);
  std::iota(px.begin(), px.end(), 0);
  uint8_t out[256];
  ASSERT_TRUE(pixels_from_request(fp32_request(px, {1, 256}), 256, out).ok());
  EXPECT_EQ(0, std::memcmp(out, px.data(), 256));
}

TEST(McuCodec, Fp32OutOfRangeSaturates) {
  InferRequest r = fp32_request(std::vector<uint8_t>(4), {4});
  const float v[4] = {-3.0f, 1.7f, 0.5f, 1e30f};
  std::memcpy(r.inputs[0].data.data(), v, sizeof v);
  uint8_t out[4];
  ASSERT_TRUE(pixels_from_request(r, 4, out).ok());
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 255);
  EXPECT_EQ(out[2], 128);  // round(127.5) = 128: half away from zero
  EXPECT_EQ(out[3], 255);
}

TEST(McuCodec, Uint8AndFlatShapesAreAccepted) {
  const auto px = ramp(784);
  uint8_t out[784];
  ASSERT_TRUE(pixels_from_request(u8_request(px), 784, out).ok());
  EXPECT_EQ(0, std::memcmp(out, px.data(), 784));
  std::memset(out, 0, sizeof out);
  ASSERT_TRUE(pixels_from_request(fp32_request(px, {784}), 784, out).ok());
  EXPECT_EQ(0, std::memcmp(out, px.data(), 784));
}

TEST(McuCodec, InputsThatDoNotFitAreInvalidArgumentsThatSayWhy) {
  const auto px = ramp(784);
  uint8_t out[1024];
  auto expect_bad = [&](const InferRequest& r, const char* says) {
    const Status st = pixels_from_request(r, 784, out);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << says;
    EXPECT_NE(st.message().find(says), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("[1,784]"), std::string::npos) << st.message();
  };
  expect_bad(fp32_request(ramp(783), {1, 783}), "shape [1,783]");
  InferRequest batch = fp32_request(ramp(2 * 784), {2, 784});
  expect_bad(batch, "one image per request");
  expect_bad(fp32_request(px, {28, 28}), "shape [28,28]");
  InferRequest i32 = fp32_request(px);
  i32.inputs[0].datatype = DataType::kInt32;
  expect_bad(i32, "INT32");
  InferRequest two = fp32_request(px);
  two.inputs.push_back(two.inputs[0]);
  expect_bad(two, "expected 1 input, got 2");
  InferRequest none;
  expect_bad(none, "expected 1 input, got 0");
  InferRequest shortdata = fp32_request(px);
  shortdata.inputs[0].data.resize(100);
  expect_bad(shortdata, "holds 100 bytes");
  InferRequest shortu8 = u8_request(px);
  shortu8.inputs[0].data.resize(10);
  expect_bad(shortu8, "holds 10 bytes");
  InferRequest nan = fp32_request(px);
  const float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.inputs[0].data.data() + 4 * 17, &q, sizeof q);
  expect_bad(nan, "element 17 is not finite");
}

hirfw_result_msg result_with(std::initializer_list<int8_t> logits) {
  hirfw_result_msg r{};
  r.n_logits = static_cast<uint8_t>(logits.size());
  int i = 0;
  for (int8_t l : logits) r.logits[i++] = l;
  r.top_class = 0;
  for (int k = 1; k < r.n_logits; ++k)
    if (r.logits[k] > r.logits[r.top_class]) r.top_class = static_cast<uint8_t>(k);
  r.out_scale = 0.25f;
  r.out_zp = 36;
  r.infer_us = 635;
  return r;
}

TEST(McuCodec, CheckResultTrustsOnlyConsistentReplies) {
  hirfw_result_msg r = result_with({-61, -79, -50, -70, -57, 3, -44, 10, -27, 38});
  EXPECT_TRUE(check_result(r, 10).ok());
  EXPECT_EQ(check_result(r, 9).code(), Code::kInternal);  // not the model's output size
  hirfw_result_msg wrong = r;
  wrong.top_class = 5;  // not the argmax
  EXPECT_EQ(check_result(wrong, 10).code(), Code::kInternal);
  hirfw_result_msg tie = result_with({4, 9, 9});
  EXPECT_EQ(tie.top_class, 1);
  EXPECT_TRUE(check_result(tie, 3).ok());
  tie.top_class = 2;  // the device picks the lowest index on a tie
  EXPECT_FALSE(check_result(tie, 3).ok());
  hirfw_result_msg bad_scale = r;
  bad_scale.out_scale = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(check_result(bad_scale, 10).ok());
  // Finite, but the dequantized logits overflow: the probabilities would be NaN.
  bad_scale.out_scale = 3e38f;
  EXPECT_FALSE(check_result(bad_scale, 10).ok());
}

TEST(McuCodec, ResponseIsAnFp32ProbabilityTensorNamedLikeTheModels) {
  const hirfw_result_msg r = result_with({-61, -79, -50, -70, -57, 3, -44, 10, -27, 38});
  const InferResponse resp = make_response("id-1", "fmnist", r, kMcuOutputName);
  EXPECT_EQ(resp.id, "id-1");
  EXPECT_EQ(resp.model_name, "fmnist");
  ASSERT_EQ(resp.outputs.size(), 1u);
  const Tensor& t = resp.outputs[0];
  EXPECT_EQ(t.name, "probabilities");
  EXPECT_EQ(t.datatype, DataType::kFp32);
  EXPECT_EQ(t.shape, (Shape{1, 10}));
  ASSERT_TRUE(check_tensor_data(t).ok());
  float p[10];
  std::memcpy(p, t.data.data(), sizeof p);
  float expect[10];
  result_probabilities(r, expect);
  EXPECT_EQ(0, std::memcmp(p, expect, sizeof p));
  EXPECT_NEAR(std::accumulate(p, p + 10, 0.0), 1.0, 1e-5);
  EXPECT_EQ(std::max_element(p, p + 10) - p, r.top_class);
}

TEST(McuCodec, StatusBecomesALoadReportOfOneRequestAtATime) {
  hirfw_status_msg s{};
  s.flags = HIRFW_STATUS_BUSY | HIRFW_STATUS_MODEL_READY;
  auto busy = load_report_from_status(s, 0.25);
  EXPECT_EQ(busy.in_flight, 1u);
  EXPECT_EQ(busy.queue_depth, 0u);
  EXPECT_EQ(busy.queue_capacity, 0u);
  EXPECT_EQ(busy.concurrency, 1u);
  EXPECT_DOUBLE_EQ(busy.busy_fraction, 0.25);
  s.flags = HIRFW_STATUS_MODEL_READY;
  auto idle = load_report_from_status(s, 3.0);
  EXPECT_EQ(idle.in_flight, 0u);
  EXPECT_DOUBLE_EQ(idle.busy_fraction, 1.0);  // clamped
}

TEST(McuCodec, OutcomesForTheRoutingCore) {
  EXPECT_EQ(outcome_of(Status::Ok()), routing::Outcome::kOk);
  EXPECT_EQ(outcome_of(DeadlineExceeded("x")), routing::Outcome::kTimeout);
  EXPECT_EQ(outcome_of(Unavailable("x")), routing::Outcome::kRefused);
  EXPECT_EQ(outcome_of(ResourceExhausted("x")), routing::Outcome::kOverloaded);
  EXPECT_EQ(outcome_of(Internal("x")), routing::Outcome::kError);
}

TEST(BusyMeter, FractionOfTheLastTenSeconds) {
  const TimePoint t0 = TimePoint{} + std::chrono::hours(1);
  BusyMeter m(t0);
  EXPECT_DOUBLE_EQ(m.fraction(t0), 0);
  m.add(t0, t0 + std::chrono::seconds(1));
  EXPECT_NEAR(m.fraction(t0 + std::chrono::seconds(2)), 0.5, 1e-9);
  // An open request counts until now.
  EXPECT_NEAR(m.fraction(t0 + std::chrono::seconds(2), t0 + std::chrono::seconds(1)), 1.0, 1e-9);
  // Ten seconds later the old busy second has aged out.
  EXPECT_NEAR(m.fraction(t0 + std::chrono::seconds(20)), 0.0, 1e-9);
}

}  // namespace
}  // namespace hir::backends
