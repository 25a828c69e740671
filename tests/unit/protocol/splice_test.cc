// splice_response_header against the full path it replaces: decode, edit, encode again.
#include "protocol/splice.h"

#include <cmath>
#include <limits>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

struct Case {
  std::string body;
  std::optional<std::string> header;  // Inference-Header-Content-Length
};

std::optional<std::string_view> hdr(const Case& c) {
  return c.header ? std::optional<std::string_view>(*c.header) : std::nullopt;
}

// What the router adds (in key order, as it does), with every kind of value.
std::vector<ParamRef> router_params() {
  return {{"hir_cost_usd", 0.0001}, {"hir_fallbacks", int64_t{0}}, {"hir_hedged", true},
          {"hir_latency_ms", 1.25}, {"hir_target", std::string_view("edge-1")},
          {"hir_variant", std::string_view("small")}};
}

// What the router did before the splice: the whole answer decoded, edited and encoded again.
Result<Encoded> full_path(const Case& c, const HeaderEdit& e) {
  auto r = parse_infer_response(c.body, hdr(c));
  if (!r.ok()) return r.status();
  r->id = e.id;
  r->model_name = e.model_name;
  r->model_version = e.model_version;
  for (const ParamRef& p : e.extra) r->parameters.insert_or_assign(std::string(p.key), owned(p.value));
  return encode_infer_response(*r);
}

InferResponse decode(const Encoded& e) {
  std::string storage;
  auto r = parse_infer_response(e.body, header_of(e, storage));
  EXPECT_TRUE(r.ok()) << r.status().message() << "\n" << e.body.substr(0, 300);
  return r.ok() ? *r : InferResponse{};
}

// decode(splice(x)) == decode(full_path(x)), field by field and in the same form.
void expect_same_as_full_path(const Case& c, std::string_view id = "req-1") {
  const std::vector<ParamRef> extra = router_params();
  const HeaderEdit edit{id, "fmnist", "1", extra};
  auto full = full_path(c, edit);
  ASSERT_TRUE(full.ok()) << full.status().message() << "\n" << c.body;
  auto fast = splice_response_header(c.body, hdr(c), edit);
  ASSERT_TRUE(fast.ok()) << fast.status().message() << "\n" << c.body;
  EXPECT_EQ(fast->json_length.has_value(), full->json_length.has_value());
  InferResponse a = decode(*fast), b = decode(*full);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.model_name, b.model_name);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.binary, b.binary);
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) expect_same_tensor(a.outputs[i], b.outputs[i]);
}

Case from(const Encoded& e) {
  Case c{e.body, std::nullopt};
  if (e.json_length) c.header = std::to_string(*e.json_length);
  return c;
}

// A JSON header followed by raw bytes, as a target might write it (spacing, field order).
Case binary_case(const std::string& json, const std::string& raw) {
  return Case{json + raw, std::to_string(json.size())};
}

const std::string kF32x2 = le<float>({1.5f, -2.0f});

TEST(Splice, JsonBodies) {
  const char* bodies[] = {
      R"({"model_name":"w","model_version":"3","outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"data":[1.5,-2]}]})",
      R"({"id":"x","model_name":"w","parameters":{"hir_target":"old","keep":1,"s":"a}\"{"},"outputs":[{"name":"o","datatype":"FP32","shape":[2],"data":[1,2]}]})",
      R"({"outputs":[{"name":"o","datatype":"INT32","shape":[2],"data":[[1],[2]]}],"parameters":{},"model_name":null,"id":null})",
      R"( { "model_name" : "w" , "extra" : {"parameters":{"x":1},"arr":[{"parameters":[]},"}{"],"s":"\"parameters\":{"} ,)"
      R"( "outputs" : [ {"name":"s","datatype":"BYTES","shape":[4],"parameters":{"p":"{[\"\\"},)"
      R"("data":["a{b","q\"}","\\\\","\u00fc\n"]} ] } )",
      R"({"model_name":"w","parameters":{"hir_fallbacks":3,"hir_fallbacks":4,"b":true,"d":2.5},"outputs":[]})",
      R"({"model_name":"w","outputs":[{"name":"a","datatype":"BOOL","shape":[2],"data":[true,false]},)"
      R"({"name":"b","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}]})",
  };
  for (const char* b : bodies) {
    SCOPED_TRACE(b);
    expect_same_as_full_path(Case{b, std::nullopt});
    expect_same_as_full_path(Case{b, std::nullopt}, "");  // no id: the field goes
    expect_same_as_full_path(Case{b, std::nullopt}, "q\"\\ \xc3\xbc\n");  // an id that needs escaping
  }
}

TEST(Splice, BinaryBodies) {
  const std::string hdr1 =
      R"({"model_name":"w","outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]})";
  const std::string hdr2 =
      R"({ "id" : "t", "parameters" : {"hir_target":"x","q":"}\\"}, "outputs" : [)"
      R"({"name":"o","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8,"n":{"nested":1}}},)"
      R"({"name":"j","datatype":"INT8","shape":[2],"data":[-1,1]},)"
      R"({"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":7}}],)"
      R"("model_name":"w","model_version":"9"})";
  expect_same_as_full_path(binary_case(hdr1, kF32x2));
  // The nested object is not a valid parameter: both paths refuse it.
  Case bad = binary_case(hdr2, kF32x2 + bytes_elems({"abc"}));
  EXPECT_FALSE(parse_infer_response(bad.body, hdr(bad)).ok());
  EXPECT_FALSE(splice_response_header(bad.body, hdr(bad), {"", "m", "1", {}}).ok());
  std::string hdr3 = hdr2;
  hdr3.replace(hdr3.find(R"(,"n":{"nested":1})"), 17, R"(,"n":"{\"nested\"")");
  expect_same_as_full_path(binary_case(hdr3, kF32x2 + bytes_elems({"abc"})));
}

TEST(Splice, EncodedResponsesOfEveryDatatype) {
  for (DataType dt : {DataType::kBool, DataType::kUint8, DataType::kInt16, DataType::kInt64, DataType::kFp16,
                      DataType::kBf16, DataType::kFp32, DataType::kFp64, DataType::kBytes}) {
    Tensor t = make_tensor("t", dt, {1}, dt == DataType::kBytes ? bytes_elems({"x\"}"}) : std::string());
    if (dt != DataType::kBytes) t.data.assign(datatype_size(dt), '\0');
    for (bool raw : {false, true}) {
      InferResponse r;
      r.model_name = "worker-model";
      r.model_version = "2";
      r.parameters = {{"hir_variant", std::string("stale")}, {"k", int64_t{5}}};
      r.outputs = {t, make_tensor("f", DataType::kFp32, {2}, kF32x2)};
      r.binary = {raw, false};
      SCOPED_TRACE(std::string(datatype_name(dt)) + (raw ? " raw" : " json"));
      expect_same_as_full_path(from(encode_infer_response(r)));
    }
  }
}

// The edited header is written into room sized once from its pieces at their largest: an id, a
// name, a version and parameter keys whose every byte takes six (\u00XX) or is ill-formed
// (\ufffd), the longest numbers of each kind. Each must come out whole and read back as the full
// path's does.
TEST(Splice, AnEditOfTheLargestPiecesComesOutWhole) {
  const std::string six(40, '\x01'), bad(40, '\xFF'), quotes(20, '"'), key1(9, '\x02'), key2(9, '\x03'),
      key3(9, '\x04'), key4(9, '\x05'), key5(9, '\x06'), key6(9, '\x07');
  const std::vector<ParamRef> extra = {
      {key1, Decimal{-999999999999999999, 18}}, {key2, -2.2250738585072014e-308},
      {key3, std::numeric_limits<int64_t>::min()}, {key4, std::string_view(six)},
      {key5, std::numeric_limits<double>::quiet_NaN()}, {key6, Decimal{-1, 18}}};
  // With no parameters to add the opening is all there is to get wrong; with them, they are.
  const std::string version(20, '\x0B');
  const HeaderEdit edits[] = {{six, bad, version, {}}, {six, bad, quotes, extra}};
  const std::string json =
      R"({"model_name":"w","parameters":{"own":"kept","n":123},"outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"data":[1.5,-2]}]})";
  const std::string head =
      R"({"model_name":"w","outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]})";
  for (const auto& [c, edit] : {std::pair{Case{json, std::nullopt}, edits[0]}, std::pair{binary_case(head, kF32x2), edits[0]},
                                 std::pair{Case{json, std::nullopt}, edits[1]}, std::pair{binary_case(head, kF32x2), edits[1]}}) {
    auto full = full_path(c, edit);
    ASSERT_TRUE(full.ok()) << full.status().message();
    auto fast = splice_response_header(c.body, hdr(c), edit);
    ASSERT_TRUE(fast.ok()) << fast.status().message();
    InferResponse a = decode(*fast), b = decode(*full);
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.model_name, b.model_name);
    EXPECT_EQ(a.model_version, edit.model_version);
    EXPECT_EQ(a.parameters, b.parameters);
    ASSERT_EQ(a.outputs.size(), 1u);
    expect_same_tensor(a.outputs[0], b.outputs[0]);
  }
}

TEST(Splice, ExistingKeysAreReplacedNotRepeated) {
  Case c{R"({"model_name":"w","parameters":{"hir_target":"old","hir_cost_usd":"x"},"outputs":[]})", std::nullopt};
  const std::vector<ParamRef> extra = router_params();
  auto r = splice_response_header(c.body, std::nullopt, {"", "fmnist", "1", extra});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.find("\"old\""), std::string::npos) << r->body;
  size_t n = 0;
  for (size_t at = r->body.find("\"hir_target\""); at != std::string::npos; at = r->body.find("\"hir_target\"", at + 1)) ++n;
  EXPECT_EQ(n, 1u) << r->body;
}

TEST(Splice, TensorBytesAreCopiedUntouched) {
  const std::string json =
      R"({"model_name":"w","outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]})";
  const std::vector<ParamRef> extra = router_params();
  auto r = splice_response_header(json + kF32x2, std::to_string(json.size()), {"id", "fmnist", "1", extra});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->json_length.has_value());
  EXPECT_EQ(r->body.size(), *r->json_length + kF32x2.size());
  EXPECT_EQ(r->body.substr(*r->json_length), kF32x2);
  EXPECT_EQ(r->body[*r->json_length - 1], '}');
}

// Inputs the full path refuses, or whose form the encoder would change: the splice refuses too.
TEST(Splice, MalformedOrUnusualIsRefused) {
  const std::string ok_json =
      R"({"model_name":"w","outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]})";
  const std::string n = std::to_string(ok_json.size());
  const Case cases[] = {
      {"", std::nullopt}, {"{", std::nullopt}, {"[]", std::nullopt}, {"null", std::nullopt},
      {R"({"outputs":5})", std::nullopt}, {R"({"error":"boom"})", std::nullopt},
      {R"({"model_name":"a"})", std::nullopt},
      {R"({"model_name":5,"outputs":[]})", std::nullopt},
      {R"({"model_name":"a","model_name":"b","outputs":[]})", std::nullopt},
      {R"({"model_\u006eame":"a","outputs":[]})", std::nullopt},
      {R"({"outputs":[{"name":"o","datatype":"FP32","shape":[2],"data":[1]}]})", std::nullopt},
      {R"({"outputs":[{"name":"o","datatype":"FP16","shape":[1],"data":[1]}]})", std::nullopt},
      {R"({"outputs":[{"name":"o","datatype":"INT8","shape":[1],"data":[300]}]})", std::nullopt},
      {R"({"outputs":[{"name":"o","datatype":"INT8","shape":[1],"data":[1]}]} trailing)", std::nullopt},
      {R"({"outputs":[],"parameters":{"a":[1]}})", std::nullopt},
      {ok_json + kF32x2, std::nullopt},        // raw bytes without the header
      {ok_json + kF32x2, "abc"}, {ok_json + kF32x2, "0"}, {ok_json + kF32x2, "-1"},
      {ok_json + kF32x2, "99999"}, {ok_json + kF32x2 + "x", n},  // leftover bytes
      {ok_json + kF32x2.substr(0, 7), n},                         // too few
      {R"({"outputs":[]})", "14"},  // a header, but no raw output: the encoder would drop it
  };
  const std::vector<ParamRef> extra = router_params();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 120) + " / " + c.header.value_or("-"));
    EXPECT_FALSE(splice_response_header(c.body, hdr(c), {"", "m", "1", extra}).ok());
  }
}

// A target's answers differ from one another only in the id: after the first, the splice skips
// the check (the per-thread memo in splice.cc). Whatever else differs is checked again — a byte
// of the header, the binary section's length, BYTES contents — and the answers stay the full
// path's, whatever the id.
TEST(Splice, ARememberedHeaderIsCheckedAgainWhereverTheAnswerDiffers) {
  const std::vector<ParamRef> extra = router_params();
  const HeaderEdit edit{"req", "fmnist", "1", extra};
  const auto answer = [](std::string_view id) {
    return std::string(R"({"id":")") + std::string(id) +
           R"(","model_name":"w","parameters":{"q":1},"outputs":[{"name":"o","datatype":"FP32",)"
           R"("shape":[1,2],"parameters":{"binary_data_size":8}}]})";
  };
  const Case first = binary_case(answer("a"), kF32x2);
  expect_same_as_full_path(first);
  for (std::string_view id : {"a", "bb", "", "x y", "a\\\"b", "\u00e9", "caf\u00e9"})
    expect_same_as_full_path(binary_case(answer(id), kF32x2));
  // Spaced separators before the id (Python's json.dumps writes them): the same answers.
  for (std::string open : {"{\"id\": \"", "{ \"id\" : \""})
    for (std::string_view id : {"a", "q-9"}) {
      std::string json = answer(id);
      json.replace(0, 7, open);
      expect_same_as_full_path(binary_case(json, kF32x2));
    }
  // The same header with a binary section one byte short or long: refused, as before.
  for (const std::string& raw : {kF32x2.substr(0, 7), kF32x2 + "x"}) {
    const Case c = binary_case(answer("a"), raw);
    EXPECT_FALSE(full_path(c, edit).ok());
    EXPECT_FALSE(splice_response_header(c.body, hdr(c), edit).ok());
  }
  // Every byte of the header changed in turn, each time after the valid answer was seen again.
  const std::string json = answer("abc");
  const std::string alphabet = "{}[]\",:\\ 09a-e.tnxS\x01\xc3";
  size_t took = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    for (char ch : alphabet) {
      if (json[i] == ch) continue;
      ASSERT_TRUE(splice_response_header(first.body, hdr(first), edit).ok());
      std::string damaged = json;
      damaged[i] = ch;
      const Case c = binary_case(damaged, kF32x2);
      SCOPED_TRACE(damaged);
      auto fast = splice_response_header(c.body, hdr(c), edit);
      if (!full_path(c, edit).ok()) {
        EXPECT_FALSE(fast.ok());
      } else if (fast.ok()) {
        ++took;
        expect_same_as_full_path(c, "req");
      }
    }
  }
  EXPECT_GT(took, 20u);
  // BYTES contents are read by the check: a header seen with good contents, then bad ones.
  const std::string bytes_json =
      R"({"id":"a","model_name":"w","outputs":[{"name":"s","datatype":"BYTES","shape":[1],)"
      R"("parameters":{"binary_data_size":7}}]})";
  const Case good = binary_case(bytes_json, bytes_elems({"abc"}));
  expect_same_as_full_path(good);
  const Case bad = binary_case(bytes_json, le<uint32_t>({9}) + "abc");
  EXPECT_FALSE(full_path(bad, edit).ok());
  EXPECT_FALSE(splice_response_header(bad.body, hdr(bad), edit).ok());
}

// The splice's answer for a body in a thread of its own, whose memo is empty: the full check.
Result<Encoded> splice_unremembered(const Case& c, const HeaderEdit& edit) {
  Result<Encoded> r = InvalidArgument("not run");
  std::thread([&] { r = splice_response_header(c.body, hdr(c), edit); }).join();
  return r;
}

// JSON answers differ from one another in the id and the data arrays' contents: after the first,
// the splice looks their header up with the arrays emptied and reads the arrays again as the
// check would. Whatever the contents — other numbers, another count, strings, literals, numbers
// out of range, nesting that does not match — the answer is the one an empty memo gives, byte
// for byte, and the full path's.
TEST(Splice, ARememberedJsonHeaderReadsTheDataAgain) {
  const std::vector<ParamRef> extra = router_params();
  const HeaderEdit edit{"req", "fmnist", "1", extra};
  const auto answer = [](std::string_view id, std::string_view a, std::string_view b) {
    return std::string(R"({"id":")") + std::string(id) +
           R"(","model_name":"w","parameters":{"q":1},"outputs":[{"name":"p","datatype":"FP32","shape":[1,3],"data":[)" +
           std::string(a) + R"(]},{"name":"k","datatype":"INT64","shape":[2,1],"data":[)" + std::string(b) +
           R"(]}],"extra":{"z":[1,2]}})";
  };
  auto same_as_unremembered = [&](const Case& c) {
    SCOPED_TRACE(c.body);
    auto fresh = splice_unremembered(c, edit);
    auto fast = splice_response_header(c.body, hdr(c), edit);
    ASSERT_EQ(fast.ok(), fresh.ok()) << (fast.ok() ? fresh.status().message() : fast.status().message());
    // The splice may refuse what the full path takes (keys with escapes, say): the router then
    // takes the full path. It never takes what the full path refuses.
    if (!full_path(c, edit).ok()) {
      EXPECT_FALSE(fast.ok());
    }
    if (!fast.ok()) return;
    EXPECT_EQ(fast->body, fresh->body);
    EXPECT_FALSE(fast->json_length.has_value());
    expect_same_as_full_path(c, "req");
  };
  const Case first{answer("a", "0.25,1e-05,3", "7,-8"), std::nullopt};
  expect_same_as_full_path(first);
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    auto num = [&] {
      const double v = std::ldexp(static_cast<double>(rng() % 100000) - 50000, static_cast<int>(rng() % 40) - 30);
      char buf[32];
      const int n = std::snprintf(buf, sizeof buf, rng() % 2 ? "%.9g" : "%.3e", v);
      return std::string(buf, static_cast<size_t>(n));
    };
    const std::string a = num() + "," + num() + " , " + num();
    const std::string b = std::to_string(static_cast<int64_t>(rng()) - (1ll << 31)) + "," + std::to_string(rng() % 10);
    same_as_unremembered(Case{answer("id-" + std::to_string(round), a, b), std::nullopt});
  }
  const std::vector<std::pair<std::string, std::string>> odd = {
      {"1,2", "3,4"},              {"1,2,3,4", "3,4"},      {"1,2,3", "3"},         {"1,\"2\",3", "3,4"},
      {"1,true,3", "3,4"},         {"1,null,3", "3,4"},     {"1e39,2,3", "3,4"},    {"1,2,3", "3.5,4"},
      {"1,2,3", "9223372036854775808,4"}, {"[1,2,3]", "3,4"}, {"[1],[2],[3]", "3,4"}, {"1,2,3", "[3],[4]"},
      {"1,,3", "3,4"},             {"1,2,3,", "3,4"},       {"-,2,3", "3,4"},       {"1,2,3", "03,4"},
      {"1.,2,3", "3,4"},           {"1,2,3", "3,4 "},       {" 1 ,\t2,\n3", "3,4"}, {"NaN,2,3", "3,4"},
      {"1,2,3", "-0,4"},           {"-0.0,2,3", "3,4"},     {"1E+2,2e-2,3", "3,4"}, {"", "3,4"}};
  for (const auto& [a, b] : odd) {
    ASSERT_TRUE(splice_response_header(first.body, hdr(first), edit).ok());
    same_as_unremembered(Case{answer("b", a, b), std::nullopt});
  }
  // Emptied arrays that are not each output's one data array — a scalar `data` with a stray
  // array elsewhere, an escaped key with a repeated one, a data array inside another member —
  // must not let a later answer's contents be read as another output's.
  const std::vector<std::pair<std::string, std::string>> misleading = {
      {R"({"id":"1","outputs":[{"name":"a","datatype":"FP32","shape":[1],"data":5},)"
       R"({"name":"b","datatype":"INT32","shape":[1],"data":[5]}],"x":{"data":[5]}})",
       R"({"id":"2","outputs":[{"name":"a","datatype":"FP32","shape":[1],"data":5},)"
       R"({"name":"b","datatype":"INT32","shape":[1],"data":[2.5]}],"x":{"data":[5]}})"},
      {R"({"id":"1","outputs":[{"name":"a","datatype":"INT32","shape":[1],"d\u0061ta":[5]},)"
       R"({"name":"b","datatype":"INT8","shape":[1],"data":[5],"data":[5]}]})",
       R"({"id":"2","outputs":[{"name":"a","datatype":"INT32","shape":[1],"d\u0061ta":[5]},)"
       R"({"name":"b","datatype":"INT8","shape":[1],"data":[1000],"data":[5]}]})"},
      {R"({"id":"1","outputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[5],"q":{"data":[5]}}]})",
       R"({"id":"2","outputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[5],"q":{"data":[1000]}}]})"},
      {R"({"id":"1","outputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[5]}],)"
       R"("outputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[5]}]})",
       R"({"id":"2","outputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[5]}],)"
       R"("outputs":[{"name":"a","datatype":"INT8","shape":[1],"data":[1000]}]})"}};
  for (const auto& [seen, next] : misleading) {
    const Case a{seen, std::nullopt}, b{next, std::nullopt};
    for (int i = 0; i < 2; ++i) (void)splice_response_header(a.body, hdr(a), edit);
    same_as_unremembered(b);
  }
  // Every byte of the header outside the arrays changed in turn, each time after the valid
  // answer was seen again: what the memo lets through is what an empty memo does.
  const std::string json = answer("abc", "1,2,3", "4,5");
  const std::string alphabet = "{}[]\",:\\ 09a-e.tnxS\x01\xc3";
  for (size_t i = 0; i < json.size(); i += 1 + i % 2) {
    for (char ch : alphabet) {
      if (json[i] == ch) continue;
      ASSERT_TRUE(splice_response_header(first.body, hdr(first), edit).ok());
      std::string damaged = json;
      damaged[i] = ch;
      same_as_unremembered(Case{damaged, std::nullopt});
    }
  }
}

// Random damage to valid answers: the splice never crashes, and when it answers, its answer is
// the full path's.
TEST(Splice, DamagedBodiesAgreeWithTheFullPath) {
  std::vector<Case> seeds = {
      Case{R"({"id":"x","model_name":"w","parameters":{"a":"}{\"","hir_target":1},"extra":[{"parameters":{}}],)"
           R"("outputs":[{"name":"s","datatype":"BYTES","shape":[2],"data":["\\\"",")}"]}]})",
           std::nullopt},
      binary_case(R"({"model_name":"w","outputs":[{"name":"o","datatype":"FP32","shape":[2],)"
                  R"("parameters":{"binary_data_size":8}}]})",
                  kF32x2),
  };
  const std::vector<ParamRef> extra = router_params();
  const HeaderEdit edit{"req", "fmnist", "1", extra};
  std::mt19937 rng(7);
  size_t agreed = 0;  // damaged bodies the splice still took: the comparison must have run
  const std::string alphabet = "{}[]\",:\\ 0a-e.tn";
  for (const Case& seed : seeds) {
    for (size_t cut = 0; cut < seed.body.size(); ++cut) {
      Case c{seed.body.substr(0, cut), seed.header};
      auto fast = splice_response_header(c.body, hdr(c), edit);
      if (fast.ok()) expect_same_as_full_path(c, "req");
    }
    for (int round = 0; round < 3000; ++round) {
      Case c = seed;
      for (int k = 0; k < 1 + round % 3; ++k)
        c.body[rng() % c.body.size()] = alphabet[rng() % alphabet.size()];
      auto fast = splice_response_header(c.body, hdr(c), edit);
      if (!full_path(c, edit).ok()) {
        EXPECT_FALSE(fast.ok()) << c.body;
      } else if (fast.ok()) {
        ++agreed;
        SCOPED_TRACE(c.body);
        expect_same_as_full_path(c, "req");
      }
    }
  }
  EXPECT_GT(agreed, 100u);
}

}  // namespace
}  // namespace hir::protocol
