// The worked byte-level example of shared/protocol-v2.md §3, reproduced byte for byte, and the
// raw binary request.
#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

const std::string kRequestJson =
    R"({"id":"42","inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32",)"
    R"("parameters":{"binary_data_size":16}}],)"
    R"("outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]})";
const std::string kResponseJson =
    R"({"id":"42","model_name":"mymodel","model_version":"1","outputs":[{"name":"OUTPUT0",)"
    R"("datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}]})";
// 1.0f 2.0f 3.0f 4.0f, little-endian.
const std::string kData("\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40", 16);

TEST(WorkedExample, SizesAreThoseOfTheSpec) {
  EXPECT_EQ(kRequestJson.size(), 174u);
  EXPECT_EQ(kResponseJson.size(), 154u);
  EXPECT_EQ(kData, le<float>({1, 2, 3, 4}));
}

TEST(WorkedExample, RequestParses) {
  Result<InferRequest> r = parse_infer_request(kRequestJson + kData, "174");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->id, "42");
  ASSERT_EQ(r->inputs.size(), 1u);
  expect_same_tensor(r->inputs[0], make_tensor("INPUT0", DataType::kFp32, {1, 4}, kData));
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0].name, "OUTPUT0");
  EXPECT_EQ(r->outputs[0].binary_data, std::optional<bool>(true));
  EXPECT_TRUE(r->outputs[0].parameters.empty());
  EXPECT_TRUE(r->wants_binary("OUTPUT0"));
}

TEST(WorkedExample, RequestEncodesByteForByte) {
  InferRequest req;
  req.id = "42";
  req.inputs.push_back(make_tensor("INPUT0", DataType::kFp32, {1, 4}, kData));
  RequestedOutput out;
  out.name = "OUTPUT0";
  out.binary_data = true;
  req.outputs.push_back(out);
  const Encoded enc = encode_infer_request(req, /*binary_inputs=*/true);
  EXPECT_EQ(enc.json_length, std::optional<size_t>(174));
  EXPECT_EQ(enc.body.size(), 190u);
  EXPECT_EQ(enc.body, kRequestJson + kData);
}

TEST(WorkedExample, ResponseEncodesByteForByte) {
  InferResponse resp;
  resp.id = "42";
  resp.model_name = "mymodel";
  resp.model_version = "1";
  resp.outputs.push_back(make_tensor("OUTPUT0", DataType::kFp32, {1, 4}, kData));
  resp.binary = {true};
  const Encoded enc = encode_infer_response(resp);
  EXPECT_EQ(enc.json_length, std::optional<size_t>(154));
  EXPECT_EQ(enc.body.size(), 170u);
  EXPECT_EQ(enc.body, kResponseJson + kData);
}

TEST(WorkedExample, ResponseParses) {
  Result<InferResponse> r = parse_infer_response(kResponseJson + kData, "154");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->model_name, "mymodel");
  EXPECT_EQ(r->binary, std::vector<bool>{true});
  expect_same_tensor(r->outputs.at(0), make_tensor("OUTPUT0", DataType::kFp32, {1, 4}, kData));
}

TEST(WorkedExample, PerOutputFlagOverridesRequestWide) {
  const std::string json =
      R"({"parameters":{"binary_data_output":true},"inputs":[{"name":"INPUT0","shape":[1,1],)"
      R"("datatype":"FP32","data":[1]}],"outputs":[{"name":"A","parameters":{"binary_data":false}},)"
      R"({"name":"B"}]})";
  Result<InferRequest> r = parse_infer_request(json, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->wants_binary("A"));
  EXPECT_TRUE(r->wants_binary("B"));
}

TEST(RawBinary, HeaderZeroNeedsTheSignature) {
  Result<InferRequest> r = parse_infer_request(kData, "0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnimplemented);
}

// Client text in an error is cut (core/status.h quote): the message goes back in the answer and
// into the log line of the refusal.
TEST(Errors, ClientTextInAMessageIsCut) {
  const std::string name(100000, 'n');
  auto fp16 = parse_infer_request(R"({"inputs":[{"name":")" + name + R"(","shape":[1],"datatype":"FP16","data":[1]}]})",
                                  std::nullopt);
  ASSERT_FALSE(fp16.ok());
  EXPECT_LT(fp16.status().message().size(), 400u) << fp16.status().message().substr(0, 400);
  EXPECT_NE(fp16.status().message().find("(100000 bytes)"), std::string::npos);
  auto length = parse_infer_request("{}", std::string(6000, '9'));
  ASSERT_FALSE(length.ok());
  EXPECT_LT(length.status().message().size(), 400u) << length.status().message().substr(0, 400);
}

// A header length of zero, and only that, says the body is all tensor bytes.
TEST(RawBinary, OnlyALengthOfZeroIsRaw) {
  EXPECT_TRUE(is_raw_binary("0"));
  EXPECT_TRUE(is_raw_binary(" 0 "));
  EXPECT_TRUE(is_raw_binary("00"));
  EXPECT_FALSE(is_raw_binary(std::nullopt));
  EXPECT_FALSE(is_raw_binary(""));
  EXPECT_FALSE(is_raw_binary("12"));
  EXPECT_FALSE(is_raw_binary("0x"));
  EXPECT_FALSE(is_raw_binary("-0"));
  EXPECT_FALSE(is_raw_binary("99999999999999999999999"));
}

ModelSignature one_input(DataType dt, Shape shape, int64_t max_batch) {
  ModelSignature sig;
  sig.name = "mymodel";
  sig.inputs.push_back({"INPUT0", dt, std::move(shape)});
  sig.outputs.push_back({"OUTPUT0", dt, {-1, 4}});
  sig.max_batch_size = max_batch;
  return sig;
}

TEST(RawBinary, BatchingModelGetsBatchOne) {
  Result<InferRequest> r = parse_raw_binary_request(kData, one_input(DataType::kFp32, {-1, 4}, 8));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_same_tensor(r->inputs.at(0), make_tensor("INPUT0", DataType::kFp32, {1, 4}, kData));
  EXPECT_TRUE(r->wants_binary("OUTPUT0"));
}

TEST(RawBinary, OneVariableDimensionIsDeducedFromTheSize) {
  Result<InferRequest> r = parse_raw_binary_request(kData, one_input(DataType::kFp32, {2, -1}, 0));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].shape, (Shape{2, 2}));
}

TEST(RawBinary, BytesBodyIsOneElement) {
  Result<InferRequest> r = parse_raw_binary_request("hello", one_input(DataType::kBytes, {1}, 0));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].data, bytes_elems({"hello"}));
  EXPECT_EQ(r->inputs[0].shape, (Shape{1}));
}

TEST(RawBinary, Rejections) {
  ModelSignature two = one_input(DataType::kFp32, {4}, 0);
  two.inputs.push_back({"INPUT1", DataType::kFp32, {4}});
  EXPECT_TRUE(is_client_error(parse_raw_binary_request(kData, two).status(), "exactly 1 input"));
  EXPECT_TRUE(is_client_error(
      parse_raw_binary_request(kData, one_input(DataType::kFp32, {-1, -1}, 0)).status(),
      "at most one variable-size"));
  EXPECT_TRUE(is_client_error(
      parse_raw_binary_request(kData.substr(0, 12), one_input(DataType::kFp32, {1, 4}, 0)).status(),
      "needs 16 bytes, got 12"));
  EXPECT_TRUE(is_client_error(
      parse_raw_binary_request(kData.substr(0, 6), one_input(DataType::kFp32, {-1}, 0)).status(),
      "does not fit"));
  EXPECT_TRUE(is_client_error(
      parse_raw_binary_request("ab", one_input(DataType::kBytes, {2}, 0)).status(), "shape [1]"));
}

}  // namespace
}  // namespace hir::protocol
