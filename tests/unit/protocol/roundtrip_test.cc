// Every datatype through JSON and binary, both directions; flat and nested data; BYTES; parameters.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

// Four elements of each datatype, including the extremes of its range.
Tensor sample(DataType dt) {
  using L8 = std::numeric_limits<int8_t>;
  using L64 = std::numeric_limits<int64_t>;
  const Shape s{2, 2};
  switch (dt) {
    case DataType::kBool:
      return make_tensor("b", dt, s, std::string("\1\0\1\1", 4));
    case DataType::kUint8:
      return make_tensor("u8", dt, s, le<uint8_t>({0, 1, 128, 255}));
    case DataType::kUint16:
      return make_tensor("u16", dt, s, le<uint16_t>({0, 7, 40000, 65535}));
    case DataType::kUint32:
      return make_tensor("u32", dt, s, le<uint32_t>({0, 1, 3000000000u, 4294967295u}));
    case DataType::kUint64:
      return make_tensor("u64", dt, s,
                         le<uint64_t>({0, 1, 9223372036854775808ull, 18446744073709551615ull}));
    case DataType::kInt8:
      return make_tensor("i8", dt, s, le<int8_t>({L8::min(), -1, 0, L8::max()}));
    case DataType::kInt16:
      return make_tensor("i16", dt, s, le<int16_t>({-32768, -2, 3, 32767}));
    case DataType::kInt32:
      return make_tensor("i32", dt, s, le<int32_t>({INT32_MIN, -5, 6, INT32_MAX}));
    case DataType::kInt64:
      return make_tensor("i64", dt, s, le<int64_t>({L64::min(), -1, 1, L64::max()}));
    case DataType::kFp16:
      return make_tensor("f16", dt, s, le<uint16_t>({0x3C00, 0xC000, 0x7BFF, 0x0001}));
    case DataType::kBf16:
      return make_tensor("bf16", dt, s, le<uint16_t>({0x3F80, 0xC000, 0x7F7F, 0x0001}));
    case DataType::kFp32:
      return make_tensor("f32", dt, s,
                         le<float>({0.1f, -0.0f, std::numeric_limits<float>::max(),
                                    std::numeric_limits<float>::denorm_min()}));
    case DataType::kFp64:
      return make_tensor("f64", dt, s,
                         le<double>({0.1, -1e-300, std::numeric_limits<double>::max(),
                                     std::numeric_limits<double>::denorm_min()}));
    case DataType::kBytes:
      return make_tensor("s", dt, s,
                         bytes_elems({"", "hello", "quote\" back\\ nl\n tab\t",
                                      "\xc3\xbcnic\xc3\xb8"
                                      "de"}));
  }
  return {};
}

class EveryDatatype : public ::testing::TestWithParam<DataType> {};

InferRequest request_with(const Tensor& t) {
  InferRequest req;
  req.id = "r1";
  req.inputs.push_back(t);
  return req;
}

TEST_P(EveryDatatype, RequestRoundTripsBinary) {
  const Tensor t = sample(GetParam());
  const Encoded enc = encode_infer_request(request_with(t), /*binary_inputs=*/true);
  ASSERT_TRUE(enc.json_length.has_value());
  EXPECT_EQ(enc.body.size(), *enc.json_length + t.data.size());
  std::string h;
  Result<InferRequest> back = parse_infer_request(enc.body, header_of(enc, h));
  ASSERT_TRUE(back.ok()) << back.status().to_string() << "\n" << enc.body;
  ASSERT_EQ(back->inputs.size(), 1u);
  expect_same_tensor(back->inputs[0], t);
  EXPECT_EQ(back->id, "r1");
}

TEST_P(EveryDatatype, RequestRoundTripsJson) {
  const Tensor t = sample(GetParam());
  const Encoded enc = encode_infer_request(request_with(t), /*binary_inputs=*/false);
  const bool half = GetParam() == DataType::kFp16 || GetParam() == DataType::kBf16;
  // JSON cannot carry FP16/BF16 (Triton rejects them), so those go raw even when JSON is asked.
  EXPECT_EQ(enc.json_length.has_value(), half) << enc.body;
  if (!half) {
    EXPECT_NE(enc.body.find("\"data\":["), std::string::npos) << enc.body;
  }
  std::string h;
  Result<InferRequest> back = parse_infer_request(enc.body, header_of(enc, h));
  ASSERT_TRUE(back.ok()) << back.status().to_string() << "\n" << enc.body;
  expect_same_tensor(back->inputs.at(0), t);
}

TEST_P(EveryDatatype, ResponseRoundTripsBothWays) {
  for (bool raw : {false, true}) {
    InferResponse resp;
    resp.id = "7";
    resp.model_name = "m";
    resp.model_version = "1";
    resp.outputs.push_back(sample(GetParam()));
    resp.binary.push_back(raw);
    const Encoded enc = encode_infer_response(resp);
    std::string h;
    Result<InferResponse> back = parse_infer_response(enc.body, header_of(enc, h));
    ASSERT_TRUE(back.ok()) << back.status().to_string() << "\n" << enc.body;
    EXPECT_EQ(back->id, "7");
    EXPECT_EQ(back->model_name, "m");
    EXPECT_EQ(back->model_version, "1");
    expect_same_tensor(back->outputs.at(0), resp.outputs[0]);
    const bool half = GetParam() == DataType::kFp16 || GetParam() == DataType::kBf16;
    EXPECT_EQ(back->binary.at(0), raw || half);
  }
}

INSTANTIATE_TEST_SUITE_P(Codec, EveryDatatype, ::testing::ValuesIn(kAllDataTypes),
                         [](const auto& info) { return std::string(datatype_name(info.param)); });

TEST(JsonData, NumbersAreWrittenAsTheDatatypeReadsThem) {
  InferResponse resp;
  resp.model_name = "m";
  resp.outputs = {make_tensor("i", DataType::kInt8, {3}, le<int8_t>({-1, 0, 5})),
                  make_tensor("b", DataType::kBool, {2}, std::string("\1\0", 2)),
                  make_tensor("f", DataType::kFp32, {3}, le<float>({0.1f, 1.0f, -2.5f})),
                  make_tensor("s", DataType::kBytes, {1}, bytes_elems({"hi"}))};
  const Encoded enc = encode_infer_response(resp);
  EXPECT_FALSE(enc.json_length.has_value());
  EXPECT_EQ(enc.body, R"({"model_name":"m","outputs":[)"
                      R"({"name":"i","datatype":"INT8","shape":[3],"data":[-1,0,5]},)"
                      R"({"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},)"
                      R"({"name":"f","datatype":"FP32","shape":[3],"data":[0.1,1,-2.5]},)"
                      R"({"name":"s","datatype":"BYTES","shape":[1],"data":["hi"]}]})");
}

TEST(JsonData, FloatsRoundTripExactly) {
  // Shortest round-trip text (std::to_chars) must come back bit for bit, for many values.
  std::string data;
  uint32_t bits = 0x12345u;
  for (int i = 0; i < 4096; ++i) {
    bits = bits * 1664525u + 1013904223u;
    float f = std::bit_cast<float>(bits);
    if (!std::isfinite(f)) f = static_cast<float>(i);
    data += le<float>({f});
  }
  InferRequest req = request_with(make_tensor("x", DataType::kFp32, {4096}, data));
  const Encoded enc = encode_infer_request(req, false);
  ASSERT_FALSE(enc.json_length.has_value());
  Result<InferRequest> back = parse_infer_request(enc.body, std::nullopt);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->inputs[0].data, data);
}

TEST(JsonData, NestedDataIsFlattened) {
  const char* body = R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32",)"
                     R"("data":[[1,2,3],[4,5,6]]}]})";
  Result<InferRequest> r = parse_infer_request(body, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].data, le<int32_t>({1, 2, 3, 4, 5, 6}));
}

TEST(JsonData, NestedDeeperThanTheRankIsFlattenedWhenTheCountMatches) {
  // Triton flattens any nesting below 100 levels (TR-QA test_json_recursion_depth_limit).
  std::string nested = "1";
  for (int i = 0; i < 99; ++i) nested = "[" + nested + "]";
  const std::string body =
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":)" + nested + "}]}";
  Result<InferRequest> r = parse_infer_request(body, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].data, le<double>({1.0}));
}

TEST(JsonData, CoercesNumbersAcrossJsonKinds) {
  // 3.0 is an integral float: accepted for INT; integers are fine for FP32; 1e2 for UINT8.
  const char* body =
      R"({"inputs":[)"
      R"({"name":"a","shape":[2],"datatype":"INT32","data":[3.0,-4]},)"
      R"({"name":"b","shape":[2],"datatype":"FP32","data":[7,18446744073709551615]},)"
      R"({"name":"c","shape":[1],"datatype":"UINT8","data":[1e2]}]})";
  Result<InferRequest> r = parse_infer_request(body, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].data, le<int32_t>({3, -4}));
  EXPECT_EQ(r->inputs[1].data, le<float>({7.0f, 18446744073709551615.0f}));
  EXPECT_EQ(r->inputs[2].data, le<uint8_t>({100}));
}

TEST(JsonData, EmptyTensors) {
  const char* body = R"({"inputs":[{"name":"x","shape":[0,4],"datatype":"FP32","data":[]},)"
                     R"({"name":"y","shape":[2,0],"datatype":"INT8","data":[[],[]]}]})";
  Result<InferRequest> r = parse_infer_request(body, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->inputs[0].data.empty());
  EXPECT_TRUE(r->inputs[1].data.empty());
}

TEST(Bytes, ElementsAreLengthPrefixed) {
  const char* body =
      R"({"inputs":[{"name":"t","shape":[2],"datatype":"BYTES","data":["hello","test"]}]})";
  Result<InferRequest> r = parse_infer_request(body, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  // shared/protocol-v2.md §3: "hello" -> 05 00 00 00 68 65 6c 6c 6f; KS-PY: "test" ->
  // \x04\0\0\0test.
  EXPECT_EQ(r->inputs[0].data, std::string("\x05\0\0\0hello\x04\0\0\0test", 17));
}

TEST(Bytes, NonUtf8ElementsAreSentRaw) {
  InferResponse resp;
  resp.model_name = "m";
  resp.outputs.push_back(make_tensor("s", DataType::kBytes, {1}, bytes_elems({"\xff\xfe"})));
  const Encoded enc = encode_infer_response(resp);
  ASSERT_TRUE(enc.json_length.has_value()) << "invalid UTF-8 cannot be a JSON string";
  std::string h;
  Result<InferResponse> back = parse_infer_response(enc.body, header_of(enc, h));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->outputs[0].data, resp.outputs[0].data);
}

// A Decimal parameter is written exactly, as a number with a fraction, and reads back as the
// double nearest to it.
TEST(Parameters, DecimalsAreWrittenExactlyAndReadBackAsDoubles) {
  InferResponse resp;
  resp.model_name = "m";
  resp.outputs.push_back(make_tensor("f", DataType::kFp32, {1}, le<float>({1.0f})));
  const struct {
    Decimal d;
    const char* text;
  } cases[] = {{{2500, 9}, "0.0000025"}, {{0, 9}, "0.0"},        {{12500, 3}, "12.5"},
               {{30, 1}, "3.0"},         {{-7, 3}, "-0.007"},     {{123456789012, 9}, "123.456789012"},
               {{5, 0}, "5.0"},          {{1000000000, 9}, "1.0"}, {{10, 9}, "0.00000001"}};
  for (const auto& c : cases) {
    const ParamRef extra[] = {{"x", c.d}};
    const Encoded enc = encode_infer_response(resp, extra);
    EXPECT_NE(enc.body.find(std::string("\"x\":") + c.text + "}"), std::string::npos) << c.text << ": " << enc.body;
    std::string h;
    Result<InferResponse> back = parse_infer_response(enc.body, header_of(enc, h));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    const ParamValue& v = back->parameters.at("x");
    ASSERT_TRUE(std::holds_alternative<double>(v)) << c.text;
    EXPECT_EQ(std::get<double>(v), std::strtod(c.text, nullptr)) << c.text;
    EXPECT_EQ(std::get<double>(v), c.d.value()) << c.text;
  }
}

TEST(JsonData, NanAndInfinityAreSentRaw) {
  InferResponse resp;
  resp.model_name = "m";
  resp.outputs.push_back(make_tensor("f", DataType::kFp32, {2},
                                     le<float>({std::numeric_limits<float>::quiet_NaN(), 1.0f})));
  resp.outputs.push_back(make_tensor("g", DataType::kFp64, {1},
                                     le<double>({-std::numeric_limits<double>::infinity()})));
  const Encoded enc = encode_infer_response(resp);
  ASSERT_TRUE(enc.json_length.has_value());
  std::string h;
  Result<InferResponse> back = parse_infer_response(enc.body, header_of(enc, h));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->outputs[0].data, resp.outputs[0].data);
  EXPECT_EQ(back->outputs[1].data, resp.outputs[1].data);
}

TEST(Binary, MixedJsonAndBinaryInputsKeepJsonOrder) {
  const std::string json =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"INT16","parameters":{"binary_data_size":4}},)"
      R"({"name":"b","shape":[1],"datatype":"INT8","data":[9]},)"
      R"({"name":"c","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":7}}]})";
  const std::string body = json + le<int16_t>({-1, 2}) + bytes_elems({"abc"});
  const std::string h = std::to_string(json.size());
  Result<InferRequest> r = parse_infer_request(body, h);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].data, le<int16_t>({-1, 2}));
  EXPECT_EQ(r->inputs[1].data, le<int8_t>({9}));
  EXPECT_EQ(r->inputs[2].data, bytes_elems({"abc"}));
  EXPECT_TRUE(r->inputs[0].parameters.empty()) << "binary_data_size is transport, not kept";
}

TEST(Parameters, ValuesKeepTheirTypes) {
  InferRequest req;
  req.parameters = {
      {"s", std::string("x\"y")},   {"i", int64_t{-5}}, {"d", 2.5}, {"whole", 5.0}, {"b", true},
      {"binary_data_output", false}};
  req.inputs.push_back(make_tensor("x", DataType::kInt32, {1}, le<int32_t>({1})));
  req.inputs[0].parameters = {{"note", std::string("n")}};
  RequestedOutput out;
  out.name = "y";
  out.binary_data = true;
  out.parameters = {{"classification", int64_t{3}}};
  req.outputs.push_back(out);
  const Encoded enc = encode_infer_request(req, false);
  Result<InferRequest> back = parse_infer_request(enc.body, std::nullopt);
  ASSERT_TRUE(back.ok()) << back.status().to_string() << enc.body;
  EXPECT_EQ(back->parameters, req.parameters);
  EXPECT_EQ(back->inputs[0].parameters, req.inputs[0].parameters);
  ASSERT_EQ(back->outputs.size(), 1u);
  EXPECT_EQ(back->outputs[0].binary_data, std::optional<bool>(true));
  EXPECT_EQ(back->outputs[0].parameters, out.parameters);
  EXPECT_TRUE(back->wants_binary("y"));
  EXPECT_FALSE(back->wants_binary("z"));
}

TEST(Parameters, AppendParametersWritesJson) {
  std::string out;
  append_parameters(out, {{"a", int64_t{1}},
                          {"b", 1.0},
                          {"c", std::string("t")},
                          {"d", false},
                          {"e", std::numeric_limits<double>::quiet_NaN()}});
  EXPECT_EQ(out, R"({"a":1,"b":1.0,"c":"t","d":false,"e":"NaN"})");
}

TEST(Response, ErrorBodyIsReportedWithItsMessage) {
  Result<InferResponse> r = parse_infer_response(R"({"error":"model is sad"})", std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("model is sad"), std::string::npos);
}

TEST(Response, KServeNullVersionIsAccepted) {
  Result<InferResponse> r =
      parse_infer_response(R"({"model_name":"m","model_version":null,"id":"1","outputs":[)"
                           R"({"name":"o","shape":[1],"datatype":"FP32","data":[1.5]}]})",
                           std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->model_version, "");
  EXPECT_EQ(r->outputs[0].data, le<float>({1.5f}));
}

}  // namespace
}  // namespace hir::protocol

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

TEST(Binary, AnEmptyRawTensorStillMakesABinaryBody) {
  InferRequest req;
  req.inputs.push_back(make_tensor("e", DataType::kFp32, {0, 4}, ""));
  const Encoded enc = encode_infer_request(req, true);
  ASSERT_EQ(enc.json_length, std::optional<size_t>(enc.body.size()));
  EXPECT_NE(enc.body.find(R"("binary_data_size":0)"), std::string::npos) << enc.body;
  std::string h;
  Result<InferRequest> back = parse_infer_request(enc.body, header_of(enc, h));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->inputs[0].shape, (Shape{0, 4}));
}

}  // namespace
}  // namespace hir::protocol
