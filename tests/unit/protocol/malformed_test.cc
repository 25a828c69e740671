// Malformed and invalid requests: each must come back as a 4xx Status naming what was wrong.
#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

struct Bad {
  const char* what;
  std::string body;
  std::optional<std::string> header;  // Inference-Header-Content-Length
  const char* needle;                 // expected in the message
};

// One FP32 input x of the given shape; `rest` completes the input object after "datatype".
std::string input(const std::string& fields) { return R"({"inputs":[{)" + fields + "}]}"; }
std::string fp32(const std::string& shape, const std::string& data) {
  return input(R"("name":"x","shape":)" + shape + R"(,"datatype":"FP32","data":)" + data);
}
std::string typed(const char* dt, const std::string& shape, const std::string& data) {
  return input(R"("name":"x","shape":)" + shape + R"(,"datatype":")" + dt + R"(","data":)" + data);
}
std::string binary(const std::string& size_json) {
  return input(R"("name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":)" +
               size_json + "}");
}
std::string nested(int depth) {
  std::string s = "1";
  for (int i = 0; i < depth; ++i) s = "[" + s + "]";
  return s;
}

std::vector<Bad> cases() {
  const std::string bin16 = binary("16");
  const std::string bytes16 = le<float>({1, 2, 3, 4});
  const std::string h16 = std::to_string(bin16.size());
  // clang-format off: one case per line reads best as a table
  return {
      {"empty body", "", std::nullopt, "failed to parse the request JSON"},
      {"not JSON", "hello", std::nullopt, "failed to parse"},
      {"truncated JSON", fp32("[2]", "[1,2]").substr(0, 30), std::nullopt, "failed to parse"},
      {"root is an array", "[1,2]", std::nullopt, "must be an object"},
      {"no inputs", "{}", std::nullopt, "missing 'inputs'"},
      {"inputs is an object", R"({"inputs":{}})", std::nullopt, "'inputs' must be an array"},
      {"input is a number", R"({"inputs":[1]})", std::nullopt, "'inputs[0]' must be an object"},
      {"no name", input(R"("shape":[1],"datatype":"FP32","data":[1])"), std::nullopt,
       "missing 'inputs[0].name'"},
      {"name is a number", input(R"("name":5,"shape":[1],"datatype":"FP32","data":[1])"),
       std::nullopt, "'inputs[0].name' must be a string"},
      {"empty name", input(R"("name":"","shape":[1],"datatype":"FP32","data":[1])"), std::nullopt,
       "must not be empty"},
      {"no datatype", input(R"("name":"x","shape":[1],"data":[1])"), std::nullopt,
       "missing 'inputs[0].datatype'"},
      {"unknown datatype", typed("FP8", "[1]", "[1]"), std::nullopt, "not a valid datatype: 'FP8'"},
      {"datatype in lower case", typed("fp32", "[1]", "[1]"), std::nullopt, "not a valid datatype"},
      {"no shape", input(R"("name":"x","datatype":"FP32","data":[1])"), std::nullopt,
       "missing 'inputs[0].shape'"},
      {"shape is a string", fp32(R"("1,4")", "[1]"), std::nullopt,
       "'inputs[0].shape' must be an array"},
      {"shape holds a string", fp32(R"([1,"4"])", "[1]"), std::nullopt,
       "'inputs[0].shape[1]' must be an integer"},
      {"negative dimension", fp32("[1,-4]", "[1]"), std::nullopt,
       "'inputs[0].shape[1]' must be an integer in [0,"},
      {"fractional dimension", fp32("[1.5]", "[1]"), std::nullopt, "'inputs[0].shape[0]'"},
      {"dimension beyond int64", fp32("[18446744073709551615]", "[1]"), std::nullopt,
       "'inputs[0].shape[0]'"},
      {"element count overflows", fp32("[4294967296,4294967296,4]", "[1]"), std::nullopt,
       "exceed maximum size"},
      {"neither data nor binary", input(R"("name":"x","shape":[1],"datatype":"FP32")"),
       std::nullopt, "exactly one of 'data'"},
      {"both data and binary",
       input(
           R"("name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4})"),
       std::nullopt, "exactly one of 'data'"},
      {"too few elements", fp32("[2,2]", "[1,2,3]"), std::nullopt,
       "has 3 elements but shape [2,2] needs 4"},
      {"too many elements", fp32("[2]", "[1,2,3]"), std::nullopt, "more elements than shape [2]"},
      {"300 into UINT8", typed("UINT8", "[2]", "[1,300]"), std::nullopt,
       "element 1 (300) is out of range for UINT8"},
      {"-1 into UINT32", typed("UINT32", "[1]", "[-1]"), std::nullopt, "out of range for UINT32"},
      {"70000 into INT16", typed("INT16", "[1]", "[70000]"), std::nullopt,
       "out of range for INT16"},
      {"2^63 into INT64", typed("INT64", "[1]", "[9223372036854775808]"), std::nullopt,
       "out of range for INT64"},
      {"1.5 into INT32", typed("INT32", "[1]", "[1.5]"), std::nullopt,
       "(1.5) is not an integer for INT32"},
      {"1e39 into FP32", fp32("[1]", "[1e39]"), std::nullopt, "out of range for FP32"},
      {"string into FP32", fp32("[1]", R"(["1"])"), std::nullopt,
       "must be a number for FP32, got a string"},
      {"null element", fp32("[2]", "[1,null]"), std::nullopt, "element 1 must be a number"},
      {"number into BOOL", typed("BOOL", "[1]", "[1]"), std::nullopt, "must be a boolean for BOOL"},
      {"number into BYTES", typed("BYTES", "[1]", "[1]"), std::nullopt,
       "must be a string for BYTES"},
      {"FP16 in JSON", typed("FP16", "[1]", "[1]"), std::nullopt,
       "receiving FP16 data via JSON is not supported"},
      {"BF16 in JSON", typed("BF16", "[1]", "[1]"), std::nullopt,
       "receiving BF16 data via JSON is not supported"},
      {"data is an object", fp32("[1]", R"({"a":1})"), std::nullopt, "must be a number"},
      {"ragged nesting", fp32("[2,2]", "[[1,2],[3]]"), std::nullopt, "is ragged"},
      {"values beside arrays", fp32("[2,2]", "[[1,2],3,4]"), std::nullopt,
       "mixes arrays and values"},
      {"nested extents differ from shape", fp32("[2,3]", "[[1,2],[3,4],[5,6]]"), std::nullopt,
       "nested as [3,2] but 'shape' is [2,3]"},
      {"nesting of 100 levels", fp32("[1]", nested(100)), std::nullopt,
       "nested deeper than 99 levels"},
      {"document deeper than the parser allows", fp32("[1]", nested(5000)), std::nullopt,
       "failed to parse"},
      {"binary_data_size negative", binary("-16"), std::nullopt,
       "binary_data_size' must be a non-negative integer"},
      {"binary_data_size a string", binary(R"("16")"), std::nullopt,
       "binary_data_size' must be a non-negative integer"},
      {"binary_data_size huge", binary("1000000000000000000") + bytes16,
       std::to_string(binary("1000000000000000000").size()),
       "expecting 1000000000000000000 additional bytes"},
      {"binary_data_size without binary body", bin16, std::nullopt,
       "unexpected size for input 'x', expecting 16 additional bytes"},
      {"binary_data_size not the shape's size", binary("12") + bytes16.substr(0, 12),
       std::to_string(binary("12").size()), "needs 16 bytes, got 12"},
      {"bytes left over", bin16 + bytes16 + "xx", h16, "unexpected additional input data"},
      {"malformed BYTES lengths",
       input(R"("name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6})") +
           std::string("\x09\0\0\0ab", 6),
       std::to_string(
           input(R"("name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6})")
               .size()),
       "claims 9 bytes"},
      {"header not a number", bin16 + bytes16, std::string("abc"),
       "must be a non-negative integer"},
      {"header negative", bin16 + bytes16, std::string("-5"), "must be a non-negative integer"},
      {"header with trailing junk", bin16 + bytes16, h16 + "x", "must be a non-negative integer"},
      {"header empty", bin16 + bytes16, std::string(""), "must be a non-negative integer"},
      {"header beyond int32", bin16 + bytes16, std::string("99999999999"), "out of range"},
      {"header beyond body", bin16 + bytes16, std::string("1000"),
       "inference header size should be in range"},
      {"header cuts the JSON", bin16 + bytes16, std::string("100"), "failed to parse"},
      {"duplicate input",
       R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"x","shape":[1],"datatype":"FP32","data":[2]}]})",
       std::nullopt, "input 'x' appears more than once"},
      {"id is a number", R"({"id":5,"inputs":[]})", std::nullopt, "'id' must be a string"},
      {"parameters is an array", R"({"parameters":[1],"inputs":[]})", std::nullopt,
       "'parameters' must be an object"},
      {"parameter is an object", R"({"parameters":{"a":{"b":1}},"inputs":[]})", std::nullopt,
       "'parameters.a' must be a string, number or boolean"},
      {"parameter is null", R"({"parameters":{"a":null},"inputs":[]})", std::nullopt,
       "'parameters.a'"},
      {"binary_data_output not a boolean",
       R"({"parameters":{"binary_data_output":"yes"},"inputs":[]})", std::nullopt,
       "binary_data_output' must be a boolean"},
      {"outputs is a string", R"({"inputs":[],"outputs":"y"})", std::nullopt,
       "'outputs' must be an array"},
      {"output without name", R"({"inputs":[],"outputs":[{}]})", std::nullopt,
       "missing 'outputs[0].name'"},
      {"output binary_data not a boolean",
       R"({"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":1}}]})", std::nullopt,
       "binary_data' must be a boolean"},
      {"input parameters nested",
       input(R"("name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"p":[1]})"),
       std::nullopt, "'inputs[0].parameters.p'"},
      {"trailing garbage after JSON", fp32("[1]", "[1]") + "}", std::nullopt, "failed to parse"},
      {"invalid UTF-8 in a string", R"({"id":")" + std::string("\xff") + R"(","inputs":[]})",
       std::nullopt, "failed to parse"},
  };
  // clang-format on
}

TEST(Malformed, EveryCaseIsAClientErrorWithAMessage) {
  const std::vector<Bad> all = cases();
  ASSERT_GE(all.size(), 30u);
  for (const Bad& c : all) {
    std::optional<std::string_view> h;
    if (c.header) h = *c.header;
    Result<InferRequest> r = parse_infer_request(c.body, h);
    EXPECT_TRUE(is_client_error(r.status(), c.needle)) << c.what;
  }
}

TEST(Malformed, SharedMemoryIsUnimplemented) {
  Result<InferRequest> r = parse_infer_request(
      input(
          R"("name":"x","shape":[1],"datatype":"FP32","parameters":{"shared_memory_region":"r"})"),
      std::nullopt);
  EXPECT_EQ(r.status().code(), Code::kUnimplemented);
}

TEST(Malformed, ResponsesToo) {
  const std::vector<std::pair<std::string, const char*>> bad = {
      {"{}", "missing 'outputs'"},
      {R"({"model_name":1,"outputs":[]})", "'model_name' must be a string"},
      {R"({"outputs":[{"name":"o","shape":[1],"datatype":"INT8","data":[999]}]})",
       "out of range for INT8"},
      {R"({"outputs":[{"name":"o","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]})",
       "unexpected size for output 'o'"},
      {R"({"error":5})", "'error' must be a string"},
  };
  for (const auto& [body, needle] : bad)
    EXPECT_TRUE(is_client_error(parse_infer_response(body, std::nullopt).status(), needle)) << body;
  EXPECT_TRUE(
      is_client_error(parse_infer_response("{}", "0").status(), "not valid for a response"));
}

}  // namespace
}  // namespace hir::protocol
