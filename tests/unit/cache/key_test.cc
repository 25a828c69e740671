#include "cache/key.h"

#include <gtest/gtest.h>

#include <set>

#include "test_support.h"

namespace hir::cache {
namespace {

using testing::fp32_le;
using testing::request;
using testing::tensor;

// The same request as a Triton client would send it with the binary extension: the codec has
// moved binary_data_size and binary_data out of the parameters already, binary_data_output is
// set, routing hints and the id differ, and the inputs and outputs come in another order.
InferRequest binary_form_of_two_inputs() {
  InferRequest r;
  r.id = "other-id";
  r.model_name = "m";
  r.model_version = "2";
  r.parameters["binary_data_output"] = true;
  r.parameters["latency_budget_ms"] = int64_t{50};
  r.parameters["priority"] = std::string("critical");
  r.parameters["complexity"] = 0.9;
  r.parameters["min_accuracy"] = 0.8;
  r.parameters["max_cost_usd"] = 0.001;
  r.parameters["timeout"] = int64_t{100000};
  r.inputs.push_back(tensor("b", DataType::kInt32, {2}, std::string("\x01\0\0\0\x02\0\0\0", 8)));
  r.inputs.push_back(tensor("a", DataType::kFp32, {1, 2}, fp32_le({1.5f, -2.0f})));
  RequestedOutput top;
  top.name = "top";
  top.parameters["classification"] = 3.0;  // JSON "3.0"
  top.binary_data = true;
  RequestedOutput probs;
  probs.name = "probs";
  probs.binary_data = true;
  r.outputs = {top, probs};
  return r;
}

InferRequest json_form_of_two_inputs() {
  InferRequest r;
  r.id = "req-7";
  r.model_name = "m";
  r.model_version = "2";
  r.inputs.push_back(tensor("a", DataType::kFp32, {1, 2}, fp32_le({1.5f, -2.0f})));
  r.inputs.push_back(tensor("b", DataType::kInt32, {2}, std::string("\x01\0\0\0\x02\0\0\0", 8)));
  RequestedOutput probs;
  probs.name = "probs";
  RequestedOutput top;
  top.name = "top";
  top.parameters["classification"] = int64_t{3};  // JSON "3"
  r.outputs = {probs, top};
  return r;
}

TEST(CacheKey, JsonAndBinaryFormsOfOneRequestShareAKey) {
  EXPECT_EQ(make_key(json_form_of_two_inputs()), make_key(binary_form_of_two_inputs()));
}

TEST(CacheKey, HexIsThirtyTwoDigits) {
  std::string h = make_key(request()).hex();
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(CacheKey, EveryAnswerChangingFieldChangesTheKey) {
  const InferRequest base = json_form_of_two_inputs();
  std::vector<std::pair<std::string, InferRequest>> variants;
  auto add = [&](std::string what, auto change) {
    InferRequest r = base;
    change(r);
    variants.emplace_back(std::move(what), std::move(r));
  };
  add("model", [](InferRequest& r) { r.model_name = "m2"; });
  add("version", [](InferRequest& r) { r.model_version = "3"; });
  add("no version", [](InferRequest& r) { r.model_version = ""; });
  add("output name", [](InferRequest& r) { r.outputs[0].name = "probz"; });
  add("output parameter", [](InferRequest& r) { r.outputs[1].parameters["classification"] = int64_t{5}; });
  add("output dropped", [](InferRequest& r) { r.outputs.pop_back(); });
  add("every output", [](InferRequest& r) { r.outputs.clear(); });
  add("shape", [](InferRequest& r) { r.inputs[0].shape = {2, 1}; });
  add("rank", [](InferRequest& r) { r.inputs[0].shape = {2}; });
  add("datatype", [](InferRequest& r) { r.inputs[1].datatype = DataType::kUint32; });
  add("data", [](InferRequest& r) { r.inputs[0].data[3] ^= 1; });
  add("input name", [](InferRequest& r) { r.inputs[0].name = "c"; });
  add("input parameter", [](InferRequest& r) { r.inputs[0].parameters["scale"] = 2.0; });
  add("model parameter", [](InferRequest& r) { r.parameters["temperature"] = 0.7; });
  add("parameter type", [](InferRequest& r) { r.outputs[1].parameters["classification"] = std::string("3"); });
  add("input dropped", [](InferRequest& r) { r.inputs.pop_back(); });

  std::set<std::string> seen = {make_key(base).hex()};
  for (const auto& [what, r] : variants)
    EXPECT_TRUE(seen.insert(make_key(r).hex()).second) << what << " did not change the key";
}

TEST(CacheKey, FieldBoundariesAreUnambiguous) {
  InferRequest a = request();
  InferRequest b = request();
  a.model_name = "ab";
  a.model_version = "c";
  b.model_name = "a";
  b.model_version = "bc";
  EXPECT_NE(make_key(a), make_key(b));

  // Name/data boundary inside one input.
  a = request();
  b = request();
  a.inputs = {tensor("x", DataType::kUint8, {2}, "yz")};
  b.inputs = {tensor("xy", DataType::kUint8, {2}, "z")};
  EXPECT_NE(make_key(a), make_key(b));

  // One input's bytes split differently over two inputs.
  a.inputs = {tensor("p", DataType::kUint8, {1}, "1"), tensor("q", DataType::kUint8, {2}, "23")};
  b.inputs = {tensor("p", DataType::kUint8, {2}, "12"), tensor("q", DataType::kUint8, {1}, "3")};
  EXPECT_NE(make_key(a), make_key(b));

  // A parameter's key/value boundary.
  a = request();
  b = request();
  a.parameters["ab"] = std::string("c");
  b.parameters["a"] = std::string("bc");
  EXPECT_NE(make_key(a), make_key(b));

  // An output name that equals an input name is not the same field.
  a = request();
  b = request();
  a.outputs.clear();
  a.inputs.push_back(tensor("probabilities", DataType::kUint8, {0}, ""));
  EXPECT_NE(make_key(a), make_key(b));
}

TEST(CacheKey, IgnoredParametersAreConfigurable) {
  InferRequest a = request();
  InferRequest b = request();
  b.parameters["tenant"] = std::string("t1");
  EXPECT_NE(make_key(a), make_key(b));
  KeyOptions opts;
  opts.ignored_params.insert("tenant");
  EXPECT_EQ(make_key(a, opts), make_key(b, opts));
}

TEST(CacheKey, RequestIdAndHintsDoNotChangeTheKey) {
  InferRequest a = request();
  InferRequest b = request();
  b.id = "another";
  b.parameters["latency_budget_ms"] = 12.5;
  b.parameters["priority"] = std::string("sheddable");
  b.outputs[0].binary_data = true;
  EXPECT_EQ(make_key(a), make_key(b));
}

}  // namespace
}  // namespace hir::cache
