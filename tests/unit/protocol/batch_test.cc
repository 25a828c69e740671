// Requests merged into one batch and the batch's answer split back (protocol/batch.h).
#include "protocol/batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using testing::le;
using testing::make_tensor;

ModelSignature signature() {
  ModelSignature s;
  s.name = "m";
  s.max_batch_size = 8;
  s.inputs = {{"pixels", DataType::kFp32, {3}}, {"mask", DataType::kInt8, {2}}};
  s.outputs = {{"scores", DataType::kFp32, {2}}};
  return s;
}

// A client's request of `rows` rows, values from `seed`, encoded with raw tensors.
InferRequest request(const std::string& id, int64_t rows, int seed) {
  InferRequest r;
  r.id = id;
  std::string px, mk;
  for (int64_t i = 0; i < rows * 3; ++i) px += le<float>({static_cast<float>(seed * 100 + i)});
  for (int64_t i = 0; i < rows * 2; ++i) mk += static_cast<char>(seed + i);
  r.inputs.push_back(make_tensor("pixels", DataType::kFp32, {rows, 3}, px));
  r.inputs.push_back(make_tensor("mask", DataType::kInt8, {rows, 2}, mk));
  RequestedOutput o;
  o.name = "scores";
  o.binary_data = true;
  r.outputs.push_back(o);
  return r;
}

// What the router holds of a request it may batch: its body and the head read from it.
struct Held {
  Encoded enc;
  InferRequest head;
  std::string_view tensors() const { return std::string_view(enc.body).substr(*enc.json_length); }
};

Held hold(const InferRequest& r) {
  Held h;
  h.enc = encode_infer_request(r, true);
  std::string hl = std::to_string(*h.enc.json_length);
  auto head = parse_infer_request_head(h.enc.body, hl);
  EXPECT_TRUE(head.ok()) << head.status().to_string();
  h.head = std::move(*head);
  return h;
}

TEST(BatchForm, RequestsOfOneFormShareAKeyWhateverTheirIdsAndRows) {
  Held a = hold(request("a", 1, 1)), b = hold(request("a-much-longer-id", 3, 2));
  auto fa = batch_form(a.head, a.tensors().size(), signature());
  auto fb = batch_form(b.head, b.tensors().size(), signature());
  ASSERT_TRUE(fa && fb);
  EXPECT_EQ(fa->key, fb->key);
  EXPECT_EQ(fa->rows, 1);
  EXPECT_EQ(fb->rows, 3);
}

TEST(BatchForm, WhatChangesTheTargetsWorkChangesTheKeyAndTheAnswersFormDoesNot) {
  Held base = hold(request("a", 1, 1));
  const std::string key = batch_form(base.head, base.tensors().size(), signature())->key;
  auto key_of = [](const InferRequest& r) {
    Held h = hold(r);
    auto f = batch_form(h.head, h.tensors().size(), signature());
    return f ? f->key : std::string("none");
  };
  InferRequest all_out = request("a", 1, 1);
  all_out.outputs.clear();
  EXPECT_NE(key_of(all_out), key);
  InferRequest wide = request("a", 1, 1);
  wide.inputs[0].shape = {1, 1, 3};
  EXPECT_NE(key_of(wide), key);
  EXPECT_NE(key_of(wide), "none");
  InferRequest renamed = request("a", 1, 1);
  renamed.inputs[1].name = "other";
  EXPECT_NE(key_of(renamed), key);
  // Each split answer takes its own request's form (SplitResponse below): the form asked for
  // does not keep requests apart.
  InferRequest json_out = request("a", 1, 1);
  json_out.outputs[0].binary_data = false;
  EXPECT_EQ(key_of(json_out), key);
  InferRequest binary_all = request("a", 1, 1);
  binary_all.parameters["binary_data_output"] = true;
  EXPECT_EQ(key_of(binary_all), key);
}

TEST(BatchForm, NamesCannotRunIntoEachOther) {
  ModelSignature sig = signature();
  InferRequest a = request("a", 1, 1), b = request("a", 1, 1);
  a.inputs[0].name = "p 1";  // "p 1" then FP32 against "p" then " 1FP32"-like spellings
  b.inputs[0].name = "p";
  EXPECT_NE(batch_form(a, 14, sig)->key, batch_form(b, 14, sig)->key);
  InferRequest c = request("a", 1, 1), d = request("a", 1, 1);
  RequestedOutput extra;
  extra.name = "x";
  c.outputs[0].name = "scores2:x";
  d.outputs.push_back(extra);
  EXPECT_NE(batch_form(c, 14, sig)->key, batch_form(d, 14, sig)->key);
}

// A JSON request as the router holds it: its body and the head read from it.
struct HeldJson {
  std::string body;
  InferRequest head;
};

HeldJson hold_json(const InferRequest& r) {
  HeldJson h;
  h.body = encode_infer_request(r, false).body;
  auto head = parse_infer_request_head(h.body, std::nullopt);
  EXPECT_TRUE(head.ok()) << head.status().to_string();
  h.head = std::move(*head);
  return h;
}

TEST(BatchForm, JsonBodiesHaveAFormOfTheirOwnAndTheirDataArraysAreFoundNotRead) {
  InferRequest r = request("j", 2, 4);
  HeldJson j = hold_json(r);
  auto form = batch_form(j.head, std::nullopt, signature());
  ASSERT_TRUE(form);
  EXPECT_EQ(form->rows, 2);
  Held raw = hold(request("b", 1, 1));
  EXPECT_NE(form->key, batch_form(raw.head, raw.tensors().size(), signature())->key)
      << "JSON bodies merge with JSON bodies only";
  EXPECT_EQ(form->key, batch_form(hold_json(request("k", 1, 9)).head, std::nullopt, signature())->key);
  auto texts = json_data_texts(j.body, j.head);
  ASSERT_TRUE(texts.ok()) << texts.status().to_string();
  ASSERT_EQ(texts->size(), 2u);
  EXPECT_EQ((*texts)[1], "4,5,6,7");
  EXPECT_EQ(std::count((*texts)[0].begin(), (*texts)[0].end(), ','), 5);

  auto refused = [&](std::string body) {
    auto head = parse_infer_request_head(body, std::nullopt);
    return !head.ok() || !json_data_texts(body, *head).ok();
  };
  EXPECT_FALSE(refused(j.body));
  std::string short_mask = j.body;
  short_mask.replace(short_mask.find("[4,5"), 3, "[");  // three values for four
  EXPECT_TRUE(refused(short_mask)) << short_mask;
  std::string nested = j.body;
  nested.replace(nested.find("[4,5,6,7]"), 9, "[[4,5],[6,7]]");  // nested: valid, not merged
  EXPECT_TRUE(refused(nested)) << nested;
  std::string elsewhere = j.body;
  elsewhere.insert(1, R"("x":{"data":[1,2,3,4]},)");  // a data array that is not an input's
  EXPECT_TRUE(refused(elsewhere)) << elsewhere;
  EXPECT_FALSE(json_data_texts("{", j.head).ok());
  // Long arrays are scanned sixteen bytes at a time: a bracket or a quote anywhere in them, and
  // a missing value, are still seen.
  HeldJson wide = hold_json(request("w", 8, 1000));
  ASSERT_TRUE(json_data_texts(wide.body, wide.head).ok());
  const size_t px = wide.body.find("\"data\":[") + 8;
  for (size_t at : {px + 1 + 40, px + 1 + 3, wide.body.find(']', px) - 2}) {
    for (const char* bad : {"[", "\""}) {
      std::string body = wide.body;
      body.insert(at, bad);
      auto head = parse_infer_request_head(body, std::nullopt);
      EXPECT_TRUE(!head.ok() || !json_data_texts(body, *head).ok()) << body.substr(px, 80);
    }
  }
  std::string missing = wide.body;
  missing.erase(missing.find(',', px + 60), 1);  // two values run into one
  auto mh = parse_infer_request_head(missing, std::nullopt);
  ASSERT_TRUE(mh.ok());
  EXPECT_FALSE(json_data_texts(missing, *mh).ok());
  // Past 254 lane counts the scan's per-lane comma counts are summed and restarted: a count
  // that spans the restart is still exact.
  HeldJson longer = hold_json(request("l", 400, 1));
  auto lt = json_data_texts(longer.body, longer.head);
  ASSERT_TRUE(lt.ok()) << lt.status().to_string();
  ASSERT_GT((*lt)[0].size(), 16u * 255u);
  std::string one_less = longer.body;
  const size_t lp = one_less.find("\"data\":[") + 8;
  one_less.erase(lp, one_less.find(',', lp) + 1 - lp);  // the first value and its comma
  auto lh = parse_infer_request_head(one_less, std::nullopt);
  ASSERT_TRUE(lh.ok());
  EXPECT_FALSE(json_data_texts(one_less, *lh).ok());
}

// The head reader hands over the arrays it emptied: the same texts json_data_texts finds, which
// check_data_texts then takes or refuses alike.
TEST(BatchForm, TheHeadReaderHandsOverTheDataArraysItFound) {
  HeldJson j = hold_json(request("h", 3, 4));
  std::vector<std::string_view> found;
  std::vector<int64_t> found_commas;
  auto head = parse_infer_request_head(j.body, std::nullopt, &found, &found_commas);
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  auto scanned = json_data_texts(j.body, *head);
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(found, *scanned);
  ASSERT_EQ(found_commas.size(), found.size());
  EXPECT_TRUE(check_data_texts(found, *head, found_commas).ok());
  // A count that disagrees with the shape, or an array that is not flat, is refused.
  std::vector<int64_t> commas = found_commas;
  commas.back() -= 1;
  EXPECT_FALSE(check_data_texts(found, *head, commas).ok());
  commas.back() = -1;
  EXPECT_FALSE(check_data_texts(found, *head, commas).ok());
  // Read a second time, the header comes from the memo: the arrays are still handed over.
  std::vector<std::string_view> again;
  ASSERT_TRUE(parse_infer_request_head(j.body, std::nullopt, &again).ok());
  EXPECT_EQ(again, *scanned);
  found.pop_back();
  found_commas.pop_back();
  EXPECT_FALSE(check_data_texts(found, *head, found_commas).ok());
  Held b = hold(request("b", 1, 1));
  std::string hl = std::to_string(*b.enc.json_length);
  std::vector<std::string_view> none{"stale"};
  ASSERT_TRUE(parse_infer_request_head(b.enc.body, hl, &none).ok());
  EXPECT_TRUE(none.empty()) << "a binary body has no data arrays";
}

TEST(MergeRequests, JsonPartsMergeIntoOneJsonBodyWithTheirValuesAsWritten) {
  const std::vector<InferRequest> reqs = {request("a", 1, 1), request("b", 2, 2), request("c", 1, 3)};
  std::vector<HeldJson> held;
  std::vector<std::vector<std::string_view>> texts;
  for (const InferRequest& r : reqs) held.push_back(hold_json(r));
  for (const HeldJson& h : held) texts.push_back(*json_data_texts(h.body, h.head));
  std::vector<BatchPart> parts;
  for (size_t k = 0; k < held.size(); ++k) parts.push_back({&held[k].head, {}, reqs[k].inputs[0].shape[0], texts[k]});
  auto merged = merge_requests(parts);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  EXPECT_FALSE(merged->json_length) << "a JSON body";
  auto req = parse_infer_request(merged->body, std::nullopt);
  ASSERT_TRUE(req.ok()) << req.status().to_string() << " " << merged->body;
  ASSERT_EQ(req->inputs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(req->inputs[i].shape, (i == 0 ? Shape{4, 3} : Shape{4, 2}));
    std::string data;
    for (const InferRequest& r : reqs) data += r.inputs[i].data;
    EXPECT_EQ(req->inputs[i].data, data) << "input " << i;
  }
  EXPECT_TRUE(req->wants_binary("scores"));
  // A binary part among JSON ones is another form.
  Held raw = hold(request("d", 1, 4));
  parts.push_back({&raw.head, raw.tensors(), 1, {}});
  EXPECT_FALSE(merge_requests(parts).ok());
}

TEST(BatchForm, RefusesWhatCannotBeMerged) {
  Held ok = hold(request("a", 2, 1));
  ModelSignature no_batch = signature();
  no_batch.max_batch_size = 0;
  EXPECT_FALSE(batch_form(ok.head, ok.tensors().size(), no_batch));
  ModelSignature small = signature();
  small.max_batch_size = 1;
  EXPECT_FALSE(batch_form(ok.head, ok.tensors().size(), small)) << "more rows than the model takes";
  // The binary section must be exactly the inputs' rows (an input sent as JSON leaves it short).
  EXPECT_FALSE(batch_form(ok.head, ok.tensors().size() - 1, signature()));
  EXPECT_FALSE(batch_form(ok.head, ok.tensors().size() + 1, signature()));

  InferRequest param = request("a", 1, 1);
  param.parameters["priority"] = int64_t{1};
  EXPECT_FALSE(batch_form(param, 14, signature()));
  InferRequest out_param = request("a", 1, 1);
  out_param.outputs[0].parameters["classification"] = int64_t{3};
  EXPECT_FALSE(batch_form(out_param, 14, signature()));
  InferRequest in_param = request("a", 1, 1);
  in_param.inputs[0].parameters["shared_memory_region"] = std::string("x");
  EXPECT_FALSE(batch_form(in_param, 14, signature()));
  InferRequest uneven = request("a", 1, 1);
  uneven.inputs[1].shape = {2, 2};
  EXPECT_FALSE(batch_form(uneven, 16, signature()));
  InferRequest bytes = request("a", 1, 1);
  bytes.inputs[1].datatype = DataType::kBytes;
  EXPECT_FALSE(batch_form(bytes, 14, signature()));
  InferRequest empty = request("a", 1, 1);
  empty.inputs[1].shape = {1, 0};
  EXPECT_FALSE(batch_form(empty, 12, signature()));
  EXPECT_TRUE(batch_form(request("a", 1, 1), 14, signature())) << "the same request, unchanged";
  // An output whose answer cannot be cut by rows (BYTES), asked for or, with none named, given.
  ModelSignature text = signature();
  text.outputs.push_back({"label", DataType::kBytes, {1}});
  EXPECT_TRUE(batch_form(request("a", 1, 1), 14, text)) << "scores only: label not asked for";
  InferRequest label = request("a", 1, 1);
  label.outputs[0].name = "label";
  EXPECT_FALSE(batch_form(label, 14, text));
  InferRequest all = request("a", 1, 1);
  all.outputs.clear();
  EXPECT_FALSE(batch_form(all, 14, text));
  EXPECT_TRUE(batch_form(all, 14, signature()));
  InferRequest unknown = request("a", 1, 1);
  unknown.outputs[0].name = "nope";
  EXPECT_FALSE(batch_form(unknown, 14, signature()));
}

TEST(MergeRequests, EachInputHoldsThePartsRowsInOrder) {
  std::vector<InferRequest> reqs = {request("a", 1, 1), request("b", 2, 2), request("c", 1, 3)};
  reqs[0].outputs[0].binary_data = false;  // the merged call asks raw outputs all the same
  std::vector<Held> held;
  for (const InferRequest& r : reqs) held.push_back(hold(r));
  std::vector<BatchPart> parts;
  for (const Held& h : held) parts.push_back({&h.head, h.tensors(), h.head.inputs[0].shape[0]});
  auto merged = merge_requests(parts);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  ASSERT_TRUE(merged->json_length);
  std::string hl = std::to_string(*merged->json_length);
  auto req = parse_infer_request(merged->body, hl);
  ASSERT_TRUE(req.ok()) << req.status().to_string();
  EXPECT_TRUE(req->id.empty());
  ASSERT_EQ(req->inputs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    Shape want = i == 0 ? Shape{4, 3} : Shape{4, 2};
    EXPECT_EQ(req->inputs[i].shape, want);
    std::string data;
    for (const InferRequest& r : reqs) data += r.inputs[i].data;
    EXPECT_EQ(req->inputs[i].data, data) << "input " << i;
  }
  ASSERT_EQ(req->outputs.size(), 1u);
  EXPECT_EQ(req->outputs[0].name, "scores");
  EXPECT_EQ(req->outputs[0].binary_data, std::optional<bool>(true));
}

TEST(MergeRequests, RefusesPartsThatDoNotFit) {
  Held a = hold(request("a", 1, 1)), b = hold(request("b", 2, 2));
  std::vector<BatchPart> parts = {{&a.head, a.tensors(), 1}, {&b.head, b.tensors(), 2}};
  EXPECT_TRUE(merge_requests(parts).ok());
  auto with = [&](auto edit) {
    auto p = parts;
    edit(p);
    return merge_requests(p).ok();
  };
  EXPECT_FALSE(with([](auto& p) { p[1].rows = 1; }));
  EXPECT_FALSE(with([](auto& p) { p[1].tensors.remove_suffix(1); }));
  EXPECT_FALSE(with([&](auto& p) { p[1].tensors = b.enc.body; }));  // header included: too long
  EXPECT_FALSE(with([](auto& p) { p.clear(); }));
  InferRequest other = request("c", 1, 3);
  other.inputs[0].shape = {1, 1, 3};
  Held c = hold(other);
  EXPECT_FALSE(with([&](auto& p) { p[1] = {&c.head, c.tensors(), 1}; }));
}

TEST(SplitResponse, EachPartGetsItsRowsWithTheAnswersParameters) {
  InferResponse whole;
  whole.model_name = "m";
  whole.parameters["note"] = std::string("x");
  std::string data;
  for (int i = 0; i < 8; ++i) data += le<float>({static_cast<float>(i)});
  whole.outputs.push_back(make_tensor("scores", DataType::kFp32, {4, 2}, data));
  whole.binary = {true};
  const int64_t rows[] = {1, 2, 1};
  InferRequest binary = request("a", 1, 1), json = request("b", 2, 1), plain = request("c", 1, 1);
  json.outputs[0].binary_data = false;
  plain.outputs[0].binary_data.reset();
  plain.parameters["binary_data_output"] = true;
  const BatchPart forms[] = {{&binary, {}, 1}, {&json, {}, 2}, {&plain, {}, 1}};
  auto parts = split_response(whole, forms);
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 3u);
  size_t at = 0;
  for (size_t k = 0; k < 3; ++k) {
    const InferResponse& p = (*parts)[k];
    ASSERT_EQ(p.outputs.size(), 1u);
    EXPECT_EQ(p.outputs[0].shape, (Shape{rows[k], 2}));
    EXPECT_EQ(p.outputs[0].data, data.substr(at, rows[k] * 8));
    at += rows[k] * 8;
    EXPECT_EQ(p.binary, std::vector<bool>{k != 1}) << "each answer in the form its request asked";
    EXPECT_EQ(p.parameters, whole.parameters);
    EXPECT_EQ(p.model_name, "m");
  }
}

TEST(SplitResponse, RefusesAnAnswerThatIsNotTheBatchAsked) {
  InferResponse whole;
  whole.outputs.push_back(make_tensor("scores", DataType::kFp32, {4, 2}, std::string(32, '\0')));
  const InferRequest r = request("a", 1, 1);
  const BatchPart three[] = {{&r, {}, 1}, {&r, {}, 2}};
  EXPECT_FALSE(split_response(whole, three).ok()) << "3 rows asked, 4 answered";
  const BatchPart four[] = {{&r, {}, 2}, {&r, {}, 2}};
  EXPECT_TRUE(split_response(whole, four).ok());
  InferResponse ragged = whole;
  ragged.outputs[0].data.resize(31);
  EXPECT_FALSE(split_response(ragged, four).ok());
  InferResponse text = whole;
  text.outputs[0].datatype = DataType::kBytes;
  EXPECT_FALSE(split_response(text, four).ok());
  InferResponse scalar = whole;
  scalar.outputs[0].shape = {};
  EXPECT_FALSE(split_response(scalar, four).ok());
  const BatchPart none[] = {{&r, {}, 0}, {&r, {}, 4}};
  EXPECT_FALSE(split_response(whole, none).ok());
  const BatchPart headless[] = {{nullptr, {}, 2}, {&r, {}, 2}};
  EXPECT_FALSE(split_response(whole, headless).ok());
}

// An answer written straight from the merged answer's rows is the one the split answer, edited and
// encoded, gives: byte for byte, over outputs of several datatypes (some JSON cannot carry, which
// go raw), with and without their own parameters, answer parameters the edit replaces or not, and
// every mix of forms the parts ask for. 300 random rounds.
TEST(SplitResponse, AnswersWrittenFromTheWholeEqualTheSplitAnswersEncoded) {
  std::mt19937 rng(11);
  auto bytes = [&rng](size_t n) {
    std::string b(n, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    return b;
  };
  const std::vector<std::string> param_keys = {"a", "hir_cost_usd", "hir_latency_ms", "hir_zz", "z"};
  for (int round = 0; round < 300; ++round) {
    const size_t n = 1 + rng() % 4;
    std::vector<InferRequest> heads(n);
    std::vector<BatchPart> parts;
    int64_t total = 0;
    for (size_t k = 0; k < n; ++k) {
      heads[k] = request("r", 1, 0);
      heads[k].outputs.clear();
      if (rng() % 2) heads[k].parameters["binary_data_output"] = true;
      parts.push_back({&heads[k], {}, static_cast<int64_t>(1 + rng() % 3), {}});
      total += parts.back().rows;
    }
    InferResponse whole;
    whole.model_name = "target-name";
    whole.model_version = "7";
    for (const std::string& key : param_keys)
      if (rng() % 3 == 0) whole.parameters[key] = static_cast<int64_t>(rng() % 100);
    const size_t outputs = 1 + rng() % 3;
    for (size_t o = 0; o < outputs; ++o) {
      const DataType types[] = {DataType::kFp32, DataType::kInt64, DataType::kUint8, DataType::kFp16, DataType::kFp64};
      const DataType type = types[rng() % 5];
      const int64_t width = 1 + rng() % 3;
      std::string data;
      for (int64_t v = 0; v < total * width; ++v) {
        if (type == DataType::kFp32) data += le<float>({rng() % 17 == 0 ? NAN : static_cast<float>(rng() % 1000) / 7.0f});
        else data += bytes(datatype_size(type));
      }
      Tensor t = make_tensor("out" + std::to_string(o), type, {total, width}, data);
      if (rng() % 3 == 0) t.parameters["note"] = std::string("kept");
      whole.outputs.push_back(std::move(t));
      // Some parts ask this output in the other form than their request-wide choice.
      for (InferRequest& h : heads)
        if (rng() % 3 == 0) h.outputs.push_back({"out" + std::to_string(o), {}, rng() % 2 == 0});
    }
    ASSERT_TRUE(check_split(whole, parts).ok());
    auto split = split_response(whole, parts);
    ASSERT_TRUE(split.ok());
    // The router's parameters: distinct keys in key order, some also among the answer's own.
    std::vector<ParamRef> extra;
    const std::string label = "tgt-" + std::to_string(round);
    if (rng() % 2) extra.push_back({"hir_cost_usd", 0.25 * static_cast<double>(rng() % 9)});
    if (rng() % 2) extra.push_back({"hir_fallbacks", static_cast<int64_t>(rng() % 3)});
    if (rng() % 2) extra.push_back({"hir_latency_ms", 1.5});
    if (rng() % 2) extra.push_back({"hir_target", std::string_view(label)});
    const std::string id = rng() % 2 ? "" : "req-\"" + std::to_string(round);
    for (size_t k = 0; k < n; ++k) {
      InferResponse expected = (*split)[k];
      EXPECT_EQ(split_part(whole, parts, k).outputs.size(), expected.outputs.size());
      expected.id = id;
      expected.model_name = "m";
      expected.model_version = "1";
      const Encoded with_extra = encode_infer_response(expected, extra);
      for (const ParamRef& e : extra) expected.parameters.insert_or_assign(std::string(e.key), owned(e.value));
      const Encoded reference = encode_infer_response(expected);
      const Encoded direct = encode_split_answer(whole, parts, k, {id, "m", "1", extra});
      EXPECT_EQ(direct.body, reference.body) << "round " << round << " part " << k;
      EXPECT_EQ(direct.json_length, reference.json_length);
      EXPECT_EQ(with_extra.body, reference.body) << "round " << round << " part " << k;
      EXPECT_EQ(with_extra.json_length, reference.json_length);
    }
  }
}

// Requests held as the router holds them, and their parts of a batch: JSON or binary bodies.
struct HeldBatch {
  std::vector<Held> held;
  std::vector<HeldJson> held_json;
  std::vector<std::vector<std::string_view>> texts;
  std::vector<BatchPart> parts;
};
std::unique_ptr<HeldBatch> held_batch(const std::vector<InferRequest>& reqs, bool json_bodies) {
  auto b = std::make_unique<HeldBatch>();  // the parts point into it: it stays where it is
  for (const InferRequest& r : reqs) {
    b->held.push_back(hold(r));
    b->held_json.push_back(hold_json(r));
  }
  for (const HeldJson& h : b->held_json) b->texts.push_back(*json_data_texts(h.body, h.head));
  for (size_t k = 0; k < reqs.size(); ++k)
    b->parts.push_back(json_bodies ? BatchPart{&b->held_json[k].head, {}, 1, b->texts[k]}
                                   : BatchPart{&b->held[k].head, b->held[k].tensors(), 1, {}});
  return b;
}

TEST(MergeRequests, AnOutputIsAskedAsJsonOnlyWhenEveryPartWantsItSo) {
  auto wanting = [](const std::string& id, std::optional<bool> binary) {
    InferRequest r = request(id, 1, 1);
    r.outputs[0].binary_data = binary;
    return r;
  };
  const ModelSignature sig = signature();
  auto merged_head = [](std::span<const BatchPart> parts, const ModelSignature* s) {
    auto merged = merge_requests(parts, s);
    EXPECT_TRUE(merged.ok()) << merged.status().to_string();
    auto req = parse_infer_request(merged->body, merged->json_length ? std::optional<std::string>(std::to_string(*merged->json_length))
                                                                     : std::nullopt);
    EXPECT_TRUE(req.ok()) << req.status().to_string();
    return *req;
  };
  for (const bool json_bodies : {true, false}) {
    SCOPED_TRACE(json_bodies ? "JSON bodies" : "binary bodies");
    // Each case: what each part asks of "scores" (explicitly JSON, JSON by default, raw).
    const std::vector<std::vector<std::optional<bool>>> cases = {
        {false, false}, {std::nullopt, false}, {false, true}, {true, std::nullopt}};
    for (const auto& asks : cases) {
      std::vector<InferRequest> reqs;
      for (size_t k = 0; k < asks.size(); ++k) reqs.push_back(wanting("r" + std::to_string(k), asks[k]));
      const auto batch = held_batch(reqs, json_bodies);
      const bool any_raw = std::any_of(asks.begin(), asks.end(), [](auto a) { return a.value_or(false); });
      EXPECT_EQ(merged_head(batch->parts, &sig).wants_binary("scores"), any_raw);
      // Without the signature, or with an answer the reader would take through its DOM (a BOOL
      // output among those asked for, or FP16), every output is asked raw, as before.
      EXPECT_TRUE(merged_head(batch->parts, nullptr).wants_binary("scores"));
      for (const DataType odd : {DataType::kFp16, DataType::kBool}) {
        ModelSignature other = sig;
        other.outputs[0].datatype = odd;
        EXPECT_TRUE(merged_head(batch->parts, &other).wants_binary("scores"));
      }
    }
    // No output named: the request-wide choice, the same way.
    for (const bool one_raw : {false, true}) {
      std::vector<InferRequest> reqs = {request("a", 1, 1), request("b", 1, 2)};
      for (InferRequest& r : reqs) r.outputs.clear();
      if (one_raw) reqs[1].parameters["binary_data_output"] = true;
      const auto batch = held_batch(reqs, json_bodies);
      const InferRequest head = merged_head(batch->parts, &sig);
      EXPECT_TRUE(head.outputs.empty());
      EXPECT_EQ(head.wants_binary("scores"), one_raw);
      // Every output comes back: one BOOL output among them keeps the answer raw.
      ModelSignature with_bool = sig;
      with_bool.outputs.push_back({"flags", DataType::kBool, {1}});
      EXPECT_TRUE(merged_head(batch->parts, &with_bool).wants_binary("scores"));
    }
  }
}

// A merged answer whose outputs the target wrote as JSON: each part's answer holds its rows'
// text as the target wrote it (spacing and spelling of the numbers kept), with the same values
// as the answer written from the values; what cannot be cut is written from the values.
TEST(SplitResponse, JsonRowsGoToEachAnswerAsTheTargetWroteThem) {
  const std::string body =
      R"({"model_name":"t","outputs":[)"
      R"({"name":"scores","datatype":"FP32","shape":[3,2],"data":[1.50, 2e0,3,  -0.25,5.0,6]},)"
      R"({"name":"raw","datatype":"INT8","shape":[3,1],"parameters":{"binary_data_size":3}},)"
      R"({"name":"nested","datatype":"FP32","shape":[3,2],"data":[[1,2],[3,4],[5,6]]}]})";
  const std::string json_length = std::to_string(body.size());
  const std::string with_raw = body + "abc";
  std::vector<std::string_view> texts;
  auto whole = parse_infer_response(with_raw, json_length, &texts);
  ASSERT_TRUE(whole.ok()) << whole.status().to_string();
  ASSERT_EQ(texts.size(), 3u) << "one per output, read the common way";
  EXPECT_EQ(texts[0], "1.50, 2e0,3,  -0.25,5.0,6");
  EXPECT_EQ(texts[1], "");
  EXPECT_EQ(texts[2], "[1,2],[3,4],[5,6]");
  InferRequest a, b;  // JSON answers for both, as the merged call was asked
  std::vector<BatchPart> parts = {{&a, {}, 2, {}}, {&b, {}, 1, {}}};
  ASSERT_TRUE(check_split(*whole, parts).ok());
  const RowCuts cuts = cut_rows(*whole, texts, 3);
  ASSERT_EQ(cuts.starts.size(), 3u);
  EXPECT_EQ(cuts.starts[0], (std::vector<size_t>{0, 10, 20, 26}));
  EXPECT_TRUE(cuts.starts[1].empty()) << "a raw output is not cut";
  EXPECT_TRUE(cuts.starts[2].empty()) << "nested arrays are not cut";
  const std::vector<std::string> rows_text = {R"("data":[1.50, 2e0,3,  -0.25])", R"("data":[5.0,6])"};
  for (size_t k = 0; k < 2; ++k) {
    const Encoded cut = encode_split_answer(*whole, parts, k, {"id", "m", "1", {}}, &cuts);
    const Encoded plain = encode_split_answer(*whole, parts, k, {"id", "m", "1", {}});
    EXPECT_NE(cut.body.find(rows_text[k]), std::string::npos) << cut.body;
    auto x = parse_infer_response(cut.body, std::nullopt), y = parse_infer_response(plain.body, std::nullopt);
    ASSERT_TRUE(x.ok() && y.ok()) << cut.body;
    ASSERT_EQ(x->outputs.size(), 3u);
    for (size_t o = 0; o < 3; ++o) testing::expect_same_tensor(x->outputs[o], y->outputs[o]);
    EXPECT_EQ(cut.body.substr(cut.body.find(R"({"name":"raw")")), plain.body.substr(plain.body.find(R"({"name":"raw")")))
        << "uncut outputs are written from their values";
  }
  // Texts that are not one per output, or do not hold one value per element, cut nothing.
  EXPECT_TRUE(cut_rows(*whole, std::vector<std::string_view>{texts[0]}, 3).texts.empty());
  const std::vector<std::string_view> short_text = {"1,2,3,4,5", "", ""};
  EXPECT_TRUE(cut_rows(*whole, short_text, 3).starts[0].empty());
  const std::vector<std::string_view> long_text = {"1,2,3,4,5,6,7", "", ""};
  EXPECT_TRUE(cut_rows(*whole, long_text, 3).starts[0].empty());
  // An answer read the DOM way (here: a data array holding a string) hands out no texts.
  const std::string odd = R"({"outputs":[{"name":"s","datatype":"BYTES","shape":[1],"data":["x"]}]})";
  EXPECT_TRUE(parse_infer_response(odd, std::nullopt, &texts).ok());
  EXPECT_TRUE(texts.empty());
}

// Merge, run a stand-in model row by row on the merged request, split: each part's answer is the
// answer to that request alone. Random forms of parts, 200 times.
TEST(Batch, AnswersSplitFromABatchEqualAnswersToEachRequestAlone) {
  std::mt19937 rng(7);
  auto model = [](const InferRequest& r) {
    // scores[row] = {sum of the row's pixels, sum of its mask}
    InferResponse out;
    const int64_t n = r.inputs[0].shape[0];
    std::string data;
    for (int64_t row = 0; row < n; ++row) {
      float px = 0, mk = 0;
      for (int j = 0; j < 3; ++j) {
        float v;
        std::memcpy(&v, r.inputs[0].data.data() + (row * 3 + j) * 4, 4);
        px += v;
      }
      for (int j = 0; j < 2; ++j) mk += static_cast<signed char>(r.inputs[1].data[row * 2 + j]);
      data += le<float>({px, mk});
    }
    out.outputs.push_back(make_tensor("scores", DataType::kFp32, {n, 2}, data));
    out.binary = {true};
    return out;
  };
  for (int round = 0; round < 200; ++round) {
    const bool json = round % 2 == 1;
    const size_t n = 1 + rng() % 5;
    std::vector<Held> held;
    std::vector<HeldJson> held_json;
    std::vector<std::vector<std::string_view>> texts;
    std::vector<int64_t> rows;
    for (size_t k = 0; k < n; ++k) {
      rows.push_back(1 + rng() % 3);
      InferRequest r = request("r" + std::to_string(k), rows.back(), static_cast<int>(rng() % 50));
      held.push_back(hold(r));
      held_json.push_back(hold_json(r));
    }
    for (const HeldJson& h : held_json) texts.push_back(*json_data_texts(h.body, h.head));
    std::vector<BatchPart> parts;
    for (size_t k = 0; k < n; ++k)
      parts.push_back(json ? BatchPart{&held_json[k].head, {}, rows[k], texts[k]}
                           : BatchPart{&held[k].head, held[k].tensors(), rows[k], {}});
    auto merged = merge_requests(parts);
    ASSERT_TRUE(merged.ok());
    auto req = parse_infer_request(merged->body, merged->json_length ? std::optional<std::string>(std::to_string(*merged->json_length))
                                                                     : std::nullopt);
    ASSERT_TRUE(req.ok()) << req.status().to_string();
    auto split = split_response(model(*req), parts);
    ASSERT_TRUE(split.ok());
    for (size_t k = 0; k < n; ++k) {
      auto alone = parse_infer_request(held[k].enc.body, std::to_string(*held[k].enc.json_length));
      ASSERT_TRUE(alone.ok());
      testing::expect_same_tensor((*split)[k].outputs[0], model(*alone).outputs[0]);
    }
  }
}

}  // namespace
}  // namespace hir::protocol
