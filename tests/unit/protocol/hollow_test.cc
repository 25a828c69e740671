// hollow_data_arrays: what it empties, what it leaves, what it refuses; and that the request head
// read through it is the head of the request as sent.
#include "protocol/hollow.h"

#include <cstdint>
#include <random>
#include <vector>

#include "codec_test_util.h"

namespace hir::protocol {
namespace {

using namespace testing;  // NOLINT

std::optional<std::string> hollow(std::string_view s) {
  std::string out;
  if (!hollow_data_arrays(s, out)) return std::nullopt;
  return out;
}

TEST(Hollow, EmptiesEveryDataArrayAndNothingElse) {
  EXPECT_EQ(hollow(R"({"inputs":[{"name":"x","shape":[2,2],"data":[[1,2],[3.5e-3,-4]]}]})"),
            R"({"inputs":[{"name":"x","shape":[2,2],"data":[]}]})");
  // Strings holding brackets, quotes and backslashes (BYTES and BOOL data), and spacing.
  EXPECT_EQ(hollow("{ \"data\" :\n [ \"]\\\"[\", \"\\\\\", true ] , \"k\" : 1 }"), "{ \"data\" :\n [] , \"k\" : 1 }");
  // `data` as a string value, a parameter key, an escaped key, or a member that is no array.
  const std::string untouched[] = {
      R"({"a":"data","b":["data",[1]]})",
      R"({"parameters":{"data":"x"},"data":5})",
      R"({"d\u0061ta":[1,2]})",
      R"({"outputs":[{"name":"data"}]})",
      R"([1,2,"data"])",
      "",
  };
  for (const std::string& s : untouched) EXPECT_EQ(hollow(s), s) << s;
  // Every data array, at any place: the reader decides what each one means.
  EXPECT_EQ(hollow(R"({"parameters":{"data":[1]},"x":{"data":[[]]}})"), R"({"parameters":{"data":[]},"x":{"data":[]}})");
}

// Strings of every length up to three 16-byte steps, with escaped quotes and backslashes at every
// place in them: each string ends where its unescaped quote is, so the `data` after it is found
// and emptied, and a `data` inside one is not.
TEST(Hollow, FindsEachStringsEndAtAnyLengthAndPlace) {
  for (size_t len = 0; len <= 48; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (std::string_view escape : {"\\\"", "\\\\", "\\\\\\\""}) {
        std::string text(len, 'x');
        text.insert(at, escape);
        const std::string tail = R"(","data":[1,2]})";
        const std::string in = "{\"" + text + "\":\"" + text + "\\\"data\\\":[3]" + tail;
        const std::string want = "{\"" + text + "\":\"" + text + "\\\"data\\\":[3]" + R"(","data":[]})";
        EXPECT_EQ(hollow(in), want) << in;
        // The string last, so that its end falls at every place of the bytes after the last
        // 16-byte step too.
        const std::string last = "{\"k\":\"" + text + "\"}";
        EXPECT_EQ(hollow(last), last) << last;
        EXPECT_TRUE(nothing_after_root(last)) << last;
      }
    }
  }
}

// The commas of each emptied array, counted by the scan that finds its end: every comma of a flat
// array, at any place in the 16-byte steps and past 255 of them; -1 for nested arrays and
// strings. With the widest scan the CPU has, and with SSE2 (or bytes) alone.
void expect_commas_counted();
TEST(Hollow, CountsTheCommasOfFlatArrays) {
  const bool avx2 = set_wide_scan(true);  // as it is by default
  expect_commas_counted();
  EXPECT_FALSE(set_wide_scan(false));
  SCOPED_TRACE("without AVX2");
  expect_commas_counted();
  EXPECT_EQ(set_wide_scan(true), avx2);
}

void expect_commas_counted() {
  auto counts = [](std::string_view s) {
    std::string out;
    std::vector<std::string_view> texts;
    std::vector<int64_t> commas;
    EXPECT_TRUE(hollow_data_arrays(s, out, &texts, &commas)) << s;
    EXPECT_EQ(texts.size(), commas.size());
    return commas;
  };
  EXPECT_EQ(counts(R"({"data":[1,2,3],"x":{"data":[]},"y":{"data":[[1,2],[3]]},"z":{"data":["a,b",1]}})"),
            (std::vector<int64_t>{2, 0, -1, -1}));
  // "1,1,…": the same lanes see a comma at every step, 625 steps in all.
  std::string ones = "1";
  for (int k = 1; k < 5000; ++k) ones += ",1";
  EXPECT_EQ(counts(R"({"data":[)" + ones + "]}"), std::vector<int64_t>{4999});
  std::mt19937 rng(7);
  for (int round = 0; round < 400; ++round) {
    // Lengths around the 16-byte steps and past 255 steps of them (a lane's counter wraps at 256).
    const size_t n = round < 300 ? static_cast<size_t>(rng() % 64) : 4000 + static_cast<size_t>(rng() % 3000);
    std::string text;
    int64_t expected = 0;
    for (size_t k = 0; k < n; ++k) {
      const unsigned r = rng() % 10;
      if (r < 4) {
        text += ',';
        ++expected;
      } else if (r == 4) {
        text += (rng() % 2) ? " " : "\n";
      } else {
        text += static_cast<char>('0' + rng() % 10);
      }
    }
    const std::string body = R"({"pad":")" + std::string(rng() % 16, 'p') + R"(","data":[)" + text + "]}";
    EXPECT_EQ(counts(body), std::vector<int64_t>{expected}) << body.size();
  }
}

TEST(Hollow, RefusesWhatItCannotFollow) {
  const std::string bad[] = {
      R"({"data":[1,2})",          // the array never closes
      R"({"data":[1,{"a":2}]})",   // an object inside
      R"({"data":["1,2]})",        // a string that never closes
      R"({"a":"x)",                // likewise outside
      R"({"a":[1,2})",             // mismatched brackets
      R"({"a":1]})",
      R"({"a" 1})",                // no colon after a key
      std::string(100, '[') + std::string(100, ']'),  // deeper than it follows
      // What simdjson's first stage refuses, inside a data array: invalid or any non-ASCII
      // bytes, control characters in or between strings (escaped ones included).
      "{\"data\":[\"\xff\"]}", "{\"data\":[\"caf\xc3\xa9\"]}", "{\"data\":[\"a\x01b\"]}",
      "{\"data\":[\"a\\\x01\"]}", "{\"data\":[1,\x01 2]}", "{\"data\":[1\x80]}",
      "{\"data\":[1,2,\x80,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]}",  // in a 16-byte step
  };
  for (const std::string& s : bad) EXPECT_FALSE(hollow(s).has_value()) << ::testing::PrintToString(s);
  // Whitespace inside is fine.
  EXPECT_EQ(hollow("{\"data\":[1,\n\t2,\r\n 3]}"), "{\"data\":[]}");
}

// Damage at random: the scan never fails on any input, and what it returns is the input with
// bytes removed, never changed or added.
TEST(Hollow, DamagedTextsAreRefusedOrOnlyShortened) {
  InferRequest r;
  r.id = "x";
  r.inputs.push_back(make_tensor("input", DataType::kFp32, {1, 3}, le<float>({0.5f, -1.0f, 2.25f})));
  r.inputs.push_back(make_tensor("s", DataType::kBytes, {2}, bytes_elems({"a]\"[", "\\"})));
  const std::string seed = encode_infer_request(r, false).body;
  std::mt19937 rng(3);
  const std::string alphabet = "{}[]\",:\\ 0a";
  size_t taken = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s = seed;
    for (int k = 0; k < 1 + round % 3; ++k) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    auto h = hollow(s);
    if (!h) continue;
    ++taken;
    EXPECT_LE(h->size(), s.size());
    // A subsequence of the input, in order.
    size_t j = 0;
    for (char c : *h) {
      while (j < s.size() && s[j] != c) ++j;
      ASSERT_LT(j, s.size()) << s;
      ++j;
    }
  }
  EXPECT_GT(taken, 1000u);
}

TEST(Hollow, TellsWhetherBytesFollowTheRoot) {
  for (std::string_view ok : {R"({})", R"( {"a":[1,{"b":"}"}]} )", "{\"a\":\"\\\"}\"}\r\n\t", R"([1,[2]])",
                              "{\"k\":\"\xc3\xa9\"}"}) {
    EXPECT_TRUE(nothing_after_root(ok)) << ok;
  }
  for (std::string_view bad : {R"({}x)", R"({} {})", R"({}})", R"({"a":1} 1)", R"({"a":"}")", R"({)",
                               R"("s")", R"(1)", "", "   ", R"({"a":"\"} x)"}) {
    EXPECT_FALSE(nothing_after_root(bad)) << bad;
  }
}

}  // namespace
}  // namespace hir::protocol
