// parse_infer_request_head (what the router reads of a body it forwards) against the full parser,
// and remove_request_parameters (hir's hints cut out of a forwarded body).
#include <random>

#include "codec_test_util.h"
#include "protocol/splice.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

struct Body {
  std::string text;
  std::optional<std::string> header;  // Inference-Header-Content-Length
  std::optional<std::string_view> hdr() const {
    return header ? std::optional<std::string_view>(*header) : std::nullopt;
  }
};

Body from(const Encoded& e) {
  Body b{e.body, std::nullopt};
  if (e.json_length) b.header = std::to_string(*e.json_length);
  return b;
}

InferRequest sample_request() {
  InferRequest r;
  r.id = "req-7";
  r.parameters = {{"priority", std::string("critical")}, {"latency_budget_ms", int64_t{80}},
                  {"min_accuracy", 0.85}, {"binary_data_output", true}, {"note", std::string("a\"b")}};
  r.inputs.push_back(make_tensor("input", DataType::kFp32, {1, 3}, le<float>({0.5f, -1.0f, 2.25f})));
  r.inputs.push_back(make_tensor("mask", DataType::kInt64, {2}, le<int64_t>({1, -7})));
  r.inputs.back().parameters = {{"custom", int64_t{3}}};
  RequestedOutput o;
  o.name = "probabilities";
  o.binary_data = false;
  o.parameters = {{"classification", int64_t{2}}};
  r.outputs.push_back(o);
  return r;
}

// The head holds everything the full parse holds but the tensors' bytes.
void expect_head_of(const Body& b) {
  auto full = parse_infer_request(b.text, b.hdr());
  ASSERT_TRUE(full.ok()) << full.status().message();
  auto head = parse_infer_request_head(b.text, b.hdr());
  ASSERT_TRUE(head.ok()) << head.status().message() << "\n" << b.text.substr(0, 300);
  EXPECT_EQ(head->id, full->id);
  EXPECT_EQ(head->parameters, full->parameters);
  ASSERT_EQ(head->inputs.size(), full->inputs.size());
  for (size_t i = 0; i < head->inputs.size(); ++i) {
    EXPECT_EQ(head->inputs[i].name, full->inputs[i].name);
    EXPECT_EQ(head->inputs[i].datatype, full->inputs[i].datatype);
    EXPECT_EQ(head->inputs[i].shape, full->inputs[i].shape);
    EXPECT_EQ(head->inputs[i].parameters, full->inputs[i].parameters);
    EXPECT_TRUE(head->inputs[i].data.empty());
  }
  ASSERT_EQ(head->outputs.size(), full->outputs.size());
  for (size_t i = 0; i < head->outputs.size(); ++i) {
    EXPECT_EQ(head->outputs[i].name, full->outputs[i].name);
    EXPECT_EQ(head->outputs[i].parameters, full->outputs[i].parameters);
    EXPECT_EQ(head->outputs[i].binary_data, full->outputs[i].binary_data);
  }
}

TEST(RequestHead, MatchesTheFullParseForJsonAndBinaryBodies) {
  const InferRequest r = sample_request();
  expect_head_of(from(encode_infer_request(r, false)));
  expect_head_of(from(encode_infer_request(r, true)));
  // Members in another order, spacing, a null id, unknown members skipped.
  expect_head_of(Body{R"( { "outputs" : [ ] , "extra" : {"inputs": 1},
      "inputs" : [ { "data" : [ [1, 2], [3, 4] ], "shape" : [2, 2], "datatype" : "INT32", "name" : "x" } ],
      "id" : null } )",
                      std::nullopt});
}

TEST(RequestHead, RefusesWhatTheFullParserRejectsInTheHead) {
  const Body bad[] = {
      {R"({"inputs":[{"name":"x","datatype":"FP33","shape":[1],"data":[1]}]})", std::nullopt},
      {R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})", std::nullopt},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-1],"data":[1]}]})", std::nullopt},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})", std::nullopt},  // no data
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},)"
       R"({"name":"x","datatype":"FP32","shape":[1],"data":[1]}]})",
       std::nullopt},  // twice the same input
      {R"({"id":5,"inputs":[]})", std::nullopt},
      {R"({"parameters":{"a":[1]},"inputs":[]})", std::nullopt},
      {R"({"parameters":{"binary_data_output":1},"inputs":[]})", std::nullopt},
      {R"({"outputs":[{"name":"y","parameters":{"binary_data":"yes"}}],"inputs":[]})", std::nullopt},
      {R"({"inputs":[]})", "0"},       // raw binary: needs the signature
      {R"({"inputs":[]})", "12abc"},   // not a number
      {R"({"inputs":[]})", "9999"},    // beyond the body
      {R"([1,2])", std::nullopt},
      {R"({"inputs":[)", std::nullopt},
      {"", std::nullopt},
      // Bytes after the root object: a router that writes the header again would drop them.
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}xx)", std::nullopt},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]} {"a":1})", std::nullopt},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}})", std::nullopt},
      {R"({"parameters":{"priority":"critical"},"inputs":[]} 1)", std::nullopt},
      // "parameters" twice, the first empty: the full parser (and the worker) read the first;
      // the head reader must not read the second.
      {R"({"parameters":{},"parameters":{"priority":"critical"},"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]})",
       std::nullopt},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{},"parameters":{"a":1},"data":[1]}]})",
       std::nullopt},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}],"outputs":[{"name":"y","parameters":{},"parameters":{"binary_data":true}}]})",
       std::nullopt},
  };
  for (const Body& b : bad) {
    SCOPED_TRACE(b.text);
    EXPECT_FALSE(parse_infer_request_head(b.text, b.hdr()).ok());
  }
  // Raw inputs: a size that does not match the shape, or more bytes claimed than the body has.
  for (std::string size : {"4", "8"}) {
    const std::string json = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":)" +
                             size + "}}]}";
    const Body b{json + "abcd", std::to_string(json.size())};
    SCOPED_TRACE(b.text);
    EXPECT_FALSE(parse_infer_request(b.text, b.hdr()).ok());
    EXPECT_FALSE(parse_infer_request_head(b.text, b.hdr()).ok());
  }
}

TEST(RequestHead, LeavesTheTensorDataToTheTarget) {
  // Three values for a shape of two: the full parser refuses it, the head does not look.
  const Body b{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2,3]}]})", std::nullopt};
  EXPECT_FALSE(parse_infer_request(b.text, b.hdr()).ok());
  auto head = parse_infer_request_head(b.text, b.hdr());
  ASSERT_TRUE(head.ok()) << head.status().message();
  EXPECT_EQ(head->inputs[0].shape, Shape({2}));
}

// Requests that differ only in the id are read once (the per-thread memo, header_memo.h); a
// request that differs anywhere else in its header, or in its binary section's length, is read
// again, and every answer is the one reading it would give.
TEST(RequestHead, ARememberedHeaderIsReadAgainWhereverTheRequestDiffers) {
  InferRequest r = sample_request();
  const Body first = from(encode_infer_request(r, true));
  ASSERT_TRUE(first.text.starts_with(R"({"id":"req-7")")) << first.text.substr(0, 40);
  expect_head_of(first);
  for (std::string id : {"req-7", "x", "", "a b", "q\"", "caf\xc3\xa9"}) {
    r.id = id;
    SCOPED_TRACE(id);
    expect_head_of(from(encode_infer_request(r, true)));
  }
  // Encoders that space their separators (Python's json.dumps): the same, whatever the id.
  r.id = "req-7";
  const Body compact = from(encode_infer_request(r, true));
  for (std::string open : {"{\"id\": \"", "{ \"id\" :\t\"", "{\n  \"id\":  \""}) {
    for (std::string id : {"s-1", "s-22"}) {
      Body b = compact;
      const size_t json_len = std::stoul(*b.header);
      std::string json = b.text.substr(0, json_len);
      json.replace(0, std::string("{\"id\":\"req-7").size(), open + id);
      b.text = json + b.text.substr(json_len);
      b.header = std::to_string(json.size());
      SCOPED_TRACE(json.substr(0, 30));
      expect_head_of(b);
    }
  }
  // The binary section one byte short or long: refused, as before.
  for (int delta : {-1, 1}) {
    Body b = first;
    if (delta < 0) b.text.pop_back();
    else b.text += 'x';
    EXPECT_FALSE(parse_infer_request_head(b.text, b.hdr()).ok());
  }
  // Every byte of the header changed in turn, each time after the valid request was seen again.
  const size_t json_len = std::stoul(*first.header);
  const std::string alphabet = "{}[]\",:\\ 09a-e.tnxS\x01\xc3";
  size_t took = 0;
  for (size_t i = 0; i < json_len; ++i) {
    for (char ch : alphabet) {
      if (first.text[i] == ch) continue;
      ASSERT_TRUE(parse_infer_request_head(first.text, first.hdr()).ok());
      Body b = first;
      b.text[i] = ch;
      SCOPED_TRACE(b.text.substr(0, json_len));
      // Bytes after the root object the head does not look for (see above): both must take it.
      if (!parse_infer_request_head(b.text, b.hdr()).ok() || !parse_infer_request(b.text, b.hdr()).ok()) continue;
      ++took;
      expect_head_of(b);
    }
  }
  EXPECT_GT(took, 20u);
}

// JSON requests of one kind differ in their values and ids: the head reader reads them without
// their values (hollow.h) and remembers the reading; every head is still the request's own.
TEST(RequestHead, JsonRequestsThatDifferInTheirValuesReadAsTheirOwn) {
  InferRequest r = sample_request();
  for (int round = 0; round < 6; ++round) {
    r.id = round % 2 == 0 ? "req-" + std::to_string(round) : "";
    r.inputs[0].data = le<float>({0.5f * static_cast<float>(round), -1.0f, 1e-7f * static_cast<float>(round)});
    r.parameters["note"] = std::string(static_cast<size_t>(round % 3), 'n');
    SCOPED_TRACE(round);
    expect_head_of(from(encode_infer_request(r, false)));
  }
  // Bytes that simdjson refuses before reading any value are refused as before, in data too.
  for (const std::string& bad : {std::string("\xff"), std::string("a\x01b")}) {
    const Body b{R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"data":[")" + bad + R"("]}]})",
                 std::nullopt};
    EXPECT_FALSE(parse_infer_request_head(b.text, b.hdr()).ok()) << ::testing::PrintToString(b.text);
    EXPECT_FALSE(parse_infer_request(b.text, b.hdr()).ok());
  }
  // Values the head does not read reach the target as they came, which refuses them.
  const Body odd{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,oops]}]})", std::nullopt};
  EXPECT_FALSE(parse_infer_request(odd.text, odd.hdr()).ok());
  auto head = parse_infer_request_head(odd.text, odd.hdr());
  ASSERT_TRUE(head.ok()) << head.status().message();
  EXPECT_EQ(head->inputs[0].name, "x");
}

// Random damage: the head reader never crashes, and whenever both readers take a body they agree.
TEST(RequestHead, DamagedBodiesNeverDisagreeWithTheFullParse) {
  const InferRequest r = sample_request();
  const Body seeds[] = {from(encode_infer_request(r, false)), from(encode_infer_request(r, true))};
  std::mt19937 rng(11);
  const std::string alphabet = "{}[]\",:\\ 0a-e.tn1";
  size_t both = 0;
  for (const Body& seed : seeds) {
    for (size_t cut = 0; cut <= seed.text.size(); ++cut) {
      Body b{seed.text.substr(0, cut), seed.header};
      (void)parse_infer_request_head(b.text, b.hdr());
    }
    for (int round = 0; round < 4000; ++round) {
      Body b = seed;
      for (int k = 0; k < 1 + round % 3; ++k) b.text[rng() % b.text.size()] = alphabet[rng() % alphabet.size()];
      auto head = parse_infer_request_head(b.text, b.hdr());
      if (head.ok() && parse_infer_request(b.text, b.hdr()).ok()) {
        ++both;
        SCOPED_TRACE(b.text);
        expect_head_of(b);
      }
    }
  }
  EXPECT_GT(both, 100u);
}

TEST(RemoveRequestParameters, CutsTheKeysAndKeepsEveryOtherByte) {
  const InferRequest r = sample_request();
  for (bool binary : {false, true}) {
    SCOPED_TRACE(binary ? "binary" : "json");
    const Body b = from(encode_infer_request(r, binary));
    auto cut = remove_request_parameters(b.text, b.hdr(), {"priority", "latency_budget_ms", "min_accuracy"});
    ASSERT_TRUE(cut.ok()) << cut.status().message();
    EXPECT_EQ(cut->json_length.has_value(), binary);
    std::string storage;
    auto got = parse_infer_request(cut->body, header_of(*cut, storage));
    ASSERT_TRUE(got.ok()) << got.status().message();
    InferRequest want = r;
    want.parameters.erase("priority");
    want.parameters.erase("latency_budget_ms");
    want.parameters.erase("min_accuracy");
    EXPECT_EQ(got->parameters, want.parameters);
    EXPECT_EQ(got->id, want.id);
    ASSERT_EQ(got->inputs.size(), want.inputs.size());
    for (size_t i = 0; i < got->inputs.size(); ++i) expect_same_tensor(got->inputs[i], want.inputs[i]);
    if (binary) {  // the raw section is the original's, byte for byte
      const size_t old_json = std::stoul(*b.header);
      EXPECT_EQ(cut->body.substr(*cut->json_length), b.text.substr(old_json));
    }
  }
}

TEST(RemoveRequestParameters, DropsAnEmptiedParametersObject) {
  const std::string body = R"({"parameters":{"priority":"critical"},"inputs":[],"id":"a"})";
  auto cut = remove_request_parameters(body, std::nullopt, {"priority"});
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->body, R"({"inputs":[],"id":"a"})");
  auto last = remove_request_parameters(R"({"id":"a","parameters":{"x":1,"priority":"low"}})", std::nullopt,
                                        {"priority"});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->body, R"({"id":"a","parameters":{"x":1}})");
}

// Long values (the scan skips them many bytes at a time), brackets and quotes inside strings,
// nested arrays, and random damage: whenever the body is a valid request and the cut succeeds,
// the cut body is that request without the keys.
TEST(RemoveRequestParameters, LongAndDamagedBodiesKeepTheirRequest) {
  std::string row;
  for (int i = 0; i < 40; ++i) row += (i ? "," : "") + std::to_string(i) + ".25";
  const std::string seed =
      R"({"id":"r-1","inputs":[{"name":"a","datatype":"FP32","shape":[2,40],"data":[[)" + row + "],[" + row +
      R"(]]},{"name":"s","datatype":"BYTES","shape":[3],"data":["x]}\"[{ and a long string to cross words",)"
      R"("\\\\","{[\"]}"]}],"parameters":{"priority":"low","keep":"}{[]\"","latency_budget_ms":50},)"
      R"("outputs":[{"name":"o","parameters":{"binary_data":false}}]})";
  const std::vector<std::string> keys = {"priority", "latency_budget_ms"};
  auto want_of = [&keys](const std::string& body) {
    auto r = parse_infer_request(body, std::nullopt);
    if (r.ok())
      for (const auto& k : keys) r->parameters.erase(k);
    return r;
  };
  ASSERT_TRUE(want_of(seed).ok());
  std::mt19937 rng(5);
  const std::string alphabet = "{}[]\",:\\ 0a-e.tn";
  size_t compared = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string body = seed;
    if (round > 0)
      for (int k = 0; k < 1 + round % 3; ++k) body[rng() % body.size()] = alphabet[rng() % alphabet.size()];
    auto want = want_of(body);
    auto cut = remove_request_parameters(body, std::nullopt, keys);
    if (!want.ok() || !cut.ok()) continue;
    ++compared;
    SCOPED_TRACE(body);
    auto got = parse_infer_request(cut->body, std::nullopt);
    ASSERT_TRUE(got.ok()) << got.status().message() << "\n" << cut->body;
    EXPECT_EQ(got->id, want->id);
    EXPECT_EQ(got->parameters, want->parameters);
    ASSERT_EQ(got->inputs.size(), want->inputs.size());
    for (size_t i = 0; i < got->inputs.size(); ++i) expect_same_tensor(got->inputs[i], want->inputs[i]);
    ASSERT_EQ(got->outputs.size(), want->outputs.size());
  }
  EXPECT_GT(compared, 200u);
}

TEST(RemoveRequestParameters, RefusesWhatItCannotScan) {
  EXPECT_FALSE(remove_request_parameters(R"({"parameters":{},"parameters":{}})", std::nullopt, {"a"}).ok());
  EXPECT_FALSE(remove_request_parameters(R"({"a":)", std::nullopt, {"a"}).ok());
  EXPECT_FALSE(remove_request_parameters(R"({"parameters":{"pri\u006frity":"x"}})", std::nullopt, {"a"}).ok());
  EXPECT_FALSE(remove_request_parameters(R"({})", std::string_view("0"), {"a"}).ok());
}

}  // namespace
}  // namespace hir::protocol

namespace hir::protocol {
namespace {

// The head without a copy: what the copy holds, and this body's id, whether the header was read
// now, remembered (ids that lead the header or not), or read and not kept.
TEST(RequestHead, ViewHoldsWhatTheCopyHoldsWithThisBodysId) {
  InferRequest r = sample_request();
  const Body raw = from(encode_infer_request(r, true));
  const std::string first_id = r.id;
  const std::vector<Body> bodies = {
      raw,
      // The same header with another id: remembered, and read with this id.
      [&] { InferRequest o = r; o.id = "other-id"; return from(encode_infer_request(o, true)); }(),
      // An id that does not lead the header is part of what is remembered.
      [] {
        const std::string json =
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}],"id":"late"})";
        return Body{json + std::string(4, '\0'), std::to_string(json.size())};
      }(),
      // Empty data arrays: nothing to leave out, so the header is read and not kept.
      Body{R"({"id":"e","inputs":[{"name":"x","datatype":"FP32","shape":[0],"data":[]}]})", std::nullopt},
  };
  for (int round = 0; round < 3; ++round) {
    for (const Body& b : bodies) {
      SCOPED_TRACE(b.text.substr(0, 120));
      auto copy = parse_infer_request_head(b.text, b.hdr());
      ASSERT_TRUE(copy.ok()) << copy.status().message();
      auto view = view_infer_request_head(b.text, b.hdr());
      ASSERT_TRUE(view.ok()) << view.status().message();
      EXPECT_EQ(view->id, copy->id);
      EXPECT_EQ(view->head->parameters, copy->parameters);
      ASSERT_EQ(view->head->inputs.size(), copy->inputs.size());
      EXPECT_EQ(view->head->inputs[0].name, copy->inputs[0].name);
      EXPECT_EQ(view->head->inputs[0].shape, copy->inputs[0].shape);
      EXPECT_EQ(view->head->outputs.size(), copy->outputs.size());
    }
  }
  auto again = view_infer_request_head(bodies[1].text, bodies[1].hdr());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, "other-id");
  EXPECT_NE(first_id, "other-id");
}

}  // namespace
}  // namespace hir::protocol
