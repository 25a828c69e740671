#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cstring>

#include "testing/tensors.h"

namespace hir {
namespace {

std::string fp32_bytes(size_t n) { return std::string(n * 4, '\0'); }

Tensor tensor(std::string name, DataType dt, Shape shape, std::string data) {
  return testing::make_tensor(std::move(name), dt, std::move(shape), std::move(data));
}

std::string bytes_elem(std::string_view s) {
  std::string out(4, '\0');
  const auto n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>(n >> (8 * i));
  out += s;
  return out;
}

// A batching classifier: input [-1,784] FP32, output [-1,10], batch up to 8.
ModelSignature classifier() {
  ModelSignature sig;
  sig.name = "m";
  sig.inputs = {{"X", DataType::kFp32, {-1, 784}}};
  sig.outputs = {{"probs", DataType::kFp32, {-1, 10}}, {"label", DataType::kInt64, {-1}}};
  sig.max_batch_size = 8;
  return sig;
}

InferRequest request(Shape shape, DataType dt = DataType::kFp32) {
  InferRequest req;
  req.model_name = "m";
  Result<int64_t> n = element_count(shape);
  const size_t count = n.ok() ? static_cast<size_t>(*n) : 0;
  req.inputs.push_back(
      tensor("X", dt, std::move(shape), std::string(count * datatype_size(dt), '\0')));
  return req;
}

void expect_error(const Status& s, const std::string& message) {
  ASSERT_FALSE(s.ok()) << "expected: " << message;
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(http_status(s.code()), 400);
  EXPECT_EQ(s.message(), message);
}

TEST(Params, NumberAcceptsIntsDoublesAndNumericText) {
  Parameters p{{"i", int64_t{3}},
               {"d", 2.5},
               {"s", std::string("1.25")},
               {"junk", std::string("12ms")},
               {"b", true}};
  EXPECT_EQ(param_number(p, "i"), 3.0);
  EXPECT_EQ(param_number(p, "d"), 2.5);
  EXPECT_EQ(param_number(p, "s"), 1.25);
  EXPECT_EQ(param_number(p, "junk"), std::nullopt);
  EXPECT_EQ(param_number(p, "b"), std::nullopt);
  EXPECT_EQ(param_number(p, "missing"), std::nullopt);
}

TEST(Params, StringAndBool) {
  Parameters p{{"s", std::string("critical")},
               {"i", int64_t{7}},
               {"t", std::string("true")},
               {"one", int64_t{1}},
               {"b", false},
               {"two", int64_t{2}}};
  EXPECT_EQ(param_string(p, "s"), "critical");
  EXPECT_EQ(param_string(p, "i"), "7");
  EXPECT_EQ(param_string(p, "b"), "false");
  EXPECT_EQ(param_bool(p, "t"), true);
  EXPECT_EQ(param_bool(p, "one"), true);
  EXPECT_EQ(param_bool(p, "b"), false);
  EXPECT_EQ(param_bool(p, "two"), std::nullopt);
  EXPECT_EQ(param_bool(p, "s"), std::nullopt);
}

TEST(ElementCount, ProductsAndErrors) {
  EXPECT_EQ(*element_count({}), 1);
  EXPECT_EQ(*element_count({2, 3, 4}), 24);
  EXPECT_EQ(*element_count({0, INT64_MAX, INT64_MAX}), 0);
  EXPECT_EQ(*element_count({INT64_MAX}), INT64_MAX);
  Result<int64_t> neg = element_count({1, -1});
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.status().message(), "shape [1,-1] has a negative dimension");
  Result<int64_t> big = element_count({4294967296, 4294967296});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("exceed maximum size"), std::string::npos);
}

TEST(ShapeToString, LikeTriton) {
  EXPECT_EQ(shape_to_string({}), "[]");
  EXPECT_EQ(shape_to_string({-1, 784}), "[-1,784]");
}

TEST(CheckTensorData, FixedWidth) {
  EXPECT_TRUE(check_tensor_data(tensor("x", DataType::kFp32, {2, 2}, fp32_bytes(4))).ok());
  expect_error(check_tensor_data(tensor("x", DataType::kFp32, {2, 2}, fp32_bytes(3))),
               "byte size mismatch for 'x': FP32 [2,2] needs 16 bytes, got 12");
  Status overflow = check_tensor_data(tensor("x", DataType::kFp64, {INT64_MAX / 4}, ""));
  EXPECT_NE(overflow.message().find("byte size overflow"), std::string::npos);
}

TEST(CheckTensorData, BytesWalksTheLengthPrefixes) {
  const std::string two = bytes_elem("hello") + bytes_elem("");
  EXPECT_TRUE(check_tensor_data(tensor("s", DataType::kBytes, {2}, two)).ok());
  EXPECT_FALSE(check_tensor_data(tensor("s", DataType::kBytes, {3}, two)).ok());
  EXPECT_FALSE(check_tensor_data(tensor("s", DataType::kBytes, {1}, two)).ok());
  EXPECT_FALSE(check_tensor_data(tensor("s", DataType::kBytes, {2}, two.substr(0, 7))).ok());
  // A length prefix far beyond the data must not be trusted.
  EXPECT_FALSE(
      check_tensor_data(tensor("s", DataType::kBytes, {1}, std::string("\xff\xff\xff\xff", 4)))
          .ok());
  EXPECT_FALSE(check_tensor_data(tensor("s", DataType::kBytes, {INT64_MAX}, two)).ok());
}

TEST(WantsBinary, PerOutputFlagWins) {
  InferRequest req;
  EXPECT_FALSE(req.wants_binary("a"));
  req.parameters["binary_data_output"] = true;
  EXPECT_TRUE(req.wants_binary("a"));
  RequestedOutput a;
  a.name = "a";
  a.binary_data = false;
  req.outputs.push_back(a);
  EXPECT_FALSE(req.wants_binary("a"));
  EXPECT_TRUE(req.wants_binary("b"));
}

TEST(Validate, AcceptsAGoodRequest) {
  EXPECT_TRUE(validate_request(request({3, 784}), classifier()).ok());
  InferRequest req = request({1, 784});
  req.outputs.push_back({"label", {}, std::nullopt});
  EXPECT_TRUE(validate_request(req, classifier()).ok());
}

TEST(Validate, InputCount) {
  InferRequest req = request({1, 784});
  req.inputs.clear();
  expect_error(validate_request(req, classifier()),
               "expected 1 inputs but got 0 inputs for model 'm'");
}

TEST(Validate, UnknownInput) {
  InferRequest req = request({1, 784});
  req.inputs[0].name = "Y";
  expect_error(validate_request(req, classifier()), "unexpected inference input 'Y' for model 'm'");
}

TEST(Validate, DatatypeMismatch) {
  expect_error(validate_request(request({1, 784}, DataType::kInt32), classifier()),
               "inference input 'X' data-type is 'INT32', but model 'm' expects 'FP32'");
}

TEST(Validate, ShapeMismatch) {
  expect_error(validate_request(request({1, 5}), classifier()),
               "unexpected shape for input 'X' for model 'm'. Expected [-1,784], got [1,5]");
  expect_error(validate_request(request({784}), classifier()),
               "unexpected shape for input 'X' for model 'm'. Expected [-1,784], got [784]");
}

TEST(Validate, WildcardsWithoutBatching) {
  ModelSignature sig;
  sig.name = "seq";
  sig.inputs = {{"X", DataType::kFp32, {-1, 4}}};
  EXPECT_TRUE(validate_request(request({100, 4}), sig).ok());
  expect_error(validate_request(request({100, 5}), sig),
               "unexpected shape for input 'X' for model 'seq'. Expected [-1,4], got [100,5]");
}

TEST(Validate, BatchTooLarge) {
  expect_error(validate_request(request({9, 784}), classifier()),
               "inference request batch-size must be <= 8 for 'm', got 9");
}

// A batch of no images is refused by the head check too (check_data false: what a router runs).
TEST(Validate, EmptyBatch) {
  for (bool check_data : {true, false})
    expect_error(validate_request(request({0, 784}), classifier(), check_data),
                 "inference request batch-size must be >= 1 for 'm', got 0 (input 'X' has shape [0,784])");
  // Without batching a zero dimension is an empty tensor, not a batch.
  ModelSignature sig;
  sig.name = "seq";
  sig.inputs = {{"X", DataType::kFp32, {-1, 4}}};
  EXPECT_TRUE(validate_request(request({0, 4}), sig).ok());
}

TEST(Validate, DataSizeAgainstShape) {
  InferRequest req = request({2, 784});
  req.inputs[0].data.resize(784 * 4);
  expect_error(validate_request(req, classifier()),
               "byte size mismatch for 'X': FP32 [2,784] needs 6272 bytes, got 3136");
}

TEST(Validate, BytesSizeAgainstShape) {
  ModelSignature sig;
  sig.name = "t";
  sig.inputs = {{"S", DataType::kBytes, {2}}};
  InferRequest req;
  req.inputs.push_back(tensor("S", DataType::kBytes, {2}, bytes_elem("a") + bytes_elem("bc")));
  EXPECT_TRUE(validate_request(req, sig).ok());
  req.inputs[0].data = bytes_elem("a");
  EXPECT_FALSE(validate_request(req, sig).ok());
}

TEST(Validate, NegativeDimension) {
  Status s = validate_request(request({-1, 784}), classifier());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("negative dimension"), std::string::npos) << s.message();
}

TEST(Validate, DuplicateInput) {
  ModelSignature sig = classifier();
  sig.inputs.push_back({"Z", DataType::kFp32, {-1, 1}});
  InferRequest req = request({1, 784});
  req.inputs.push_back(req.inputs[0]);
  expect_error(validate_request(req, sig), "input 'X' already exists in request");
}

TEST(Validate, UnknownAndDuplicateOutputs) {
  InferRequest req = request({1, 784});
  req.outputs.push_back({"nope", {}, std::nullopt});
  expect_error(validate_request(req, classifier()),
               "unexpected inference output 'nope' for model 'm'");
  req.outputs = {{"probs", {}, std::nullopt}, {"probs", {}, true}};
  expect_error(validate_request(req, classifier()), "output 'probs' already exists in request");
}

TEST(Validate, ExtensionsNotOfferedAreRefused) {
  InferRequest req = request({1, 784});
  req.outputs = {{"probs", {{"classification", int64_t{3}}}, std::nullopt}};
  expect_error(validate_request(req, classifier()),
               "output 'probs': parameter 'classification' is not supported (no classification or shared-memory extension)");
  req.outputs = {{"probs", {{"shared_memory_region", std::string("r")}}, std::nullopt}};
  expect_error(validate_request(req, classifier()),
               "output 'probs': parameter 'shared_memory_region' is not supported (no classification or shared-memory extension)");
  req.outputs = {{"probs", {{"binary_data", true}}, true}};
  EXPECT_TRUE(validate_request(req, classifier()).ok());
}

}  // namespace
}  // namespace hir

namespace hir {
namespace {

TEST(DataTypeNames, EveryNameParsesBackAndNothingElseDoes) {
  for (DataType t : kAllDataTypes) {
    auto parsed = parse_datatype(datatype_name(t));
    ASSERT_TRUE(parsed.has_value()) << datatype_name(t);
    EXPECT_EQ(*parsed, t);
  }
  for (std::string_view bad : {"", "fp32", "FP3", "FP322", "FP32 ", " FP32", "BYTE", "INT", "UINT128", "?"})
    EXPECT_FALSE(parse_datatype(bad).has_value()) << bad;
}

}  // namespace
}  // namespace hir
