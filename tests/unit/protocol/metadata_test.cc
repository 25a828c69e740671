// Model and server metadata, error bodies, JSON string escaping.
#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

ModelSignature mnist() {
  ModelSignature sig;
  sig.name = "mnist";
  sig.versions = {"1", "2"};
  sig.platform = "onnxruntime_onnx";
  sig.inputs = {{"input", DataType::kFp32, {-1, 784}}};
  sig.outputs = {{"probabilities", DataType::kFp32, {-1, 10}}};
  sig.max_batch_size = 64;
  return sig;
}

TEST(ModelMetadata, EncodesTheSpecShape) {
  EXPECT_EQ(encode_model_metadata(mnist()),
            R"({"name":"mnist","versions":["1","2"],"platform":"onnxruntime_onnx",)"
            R"("inputs":[{"name":"input","datatype":"FP32","shape":[-1,784]}],)"
            R"("outputs":[{"name":"probabilities","datatype":"FP32","shape":[-1,10]}],)"
            R"("max_batch_size":64})");
}

TEST(ModelMetadata, RoundTrips) {
  Result<ModelSignature> back = parse_model_metadata(encode_model_metadata(mnist()));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->name, "mnist");
  EXPECT_EQ(back->versions, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(back->platform, "onnxruntime_onnx");
  ASSERT_EQ(back->inputs.size(), 1u);
  EXPECT_EQ(back->inputs[0].shape, (Shape{-1, 784}));
  EXPECT_EQ(back->outputs[0].name, "probabilities");
  EXPECT_EQ(back->max_batch_size, 64);
}

TEST(ModelMetadata, ReadsTritonAndKServeBodies) {
  // KServe returns platform "" and may omit versions; Triton has no max_batch_size field.
  Result<ModelSignature> sig =
      parse_model_metadata(R"({"name":"simple","versions":["1"],"platform":"tensorflow_graphdef",)"
                           R"("inputs":[{"name":"INPUT0","datatype":"INT32","shape":[-1,16]}],)"
                           R"("outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[-1,16]}]})");
  ASSERT_TRUE(sig.ok()) << sig.status().to_string();
  EXPECT_EQ(sig->inputs[0].datatype, DataType::kInt32);
  EXPECT_EQ(sig->max_batch_size, 0);
  EXPECT_TRUE(parse_model_metadata(R"({"name":"k","platform":""})").ok());
}

TEST(ModelMetadata, Rejections) {
  EXPECT_TRUE(
      is_client_error(parse_model_metadata("{").status(), "failed to parse the model metadata"));
  EXPECT_TRUE(is_client_error(parse_model_metadata("{}").status(), "missing 'name'"));
  EXPECT_TRUE(is_client_error(
      parse_model_metadata(R"({"name":"m","inputs":[{"name":"a","datatype":"X","shape":[]}]})")
          .status(),
      "'inputs[0].datatype' is not a valid datatype"));
  EXPECT_TRUE(
      is_client_error(parse_model_metadata(
                          R"({"name":"m","outputs":[{"name":"a","datatype":"FP32","shape":[-2]}]})")
                          .status(),
                      "'outputs[0].shape[0]'"));
  EXPECT_TRUE(is_client_error(parse_model_metadata(R"({"name":"m","versions":[1]})").status(),
                              "'versions[]' must be a string"));
}

TEST(ServerMetadata, Encodes) {
  EXPECT_EQ(encode_server_metadata("hir", "0.1.0", {"binary_tensor_data", "parameters"}),
            R"({"name":"hir","version":"0.1.0","extensions":["binary_tensor_data","parameters"]})");
  EXPECT_EQ(encode_server_metadata("hir", "1", {}),
            R"({"name":"hir","version":"1","extensions":[]})");
}

TEST(ErrorBody, IsEscapedJson) {
  EXPECT_EQ(error_body("unexpected inference input 'x' for model \"m\""),
            R"({"error":"unexpected inference input 'x' for model \"m\""})");
  // An error body must parse as a response error, not as a response.
  Result<InferResponse> r = parse_infer_response(error_body("line1\nline2"), std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line1\nline2"), std::string::npos);
}

}  // namespace
}  // namespace hir::protocol
