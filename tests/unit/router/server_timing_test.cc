#include "router/server_timing.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

using namespace hir;
using namespace hir::router;

namespace {
double ms(Duration d) { return to_ms(d); }
}  // namespace

TEST(ServerTiming, ParsesTheWorkersHeader) {
  auto t = parse_server_timing("queue;dur=0.125, infer;dur=2.5");
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(ms(t->queue), 0.125, 1e-6);
  EXPECT_NEAR(ms(t->infer), 2.5, 1e-6);
}

TEST(ServerTiming, ToleratesWhitespaceCaseOrderAndOtherMetrics) {
  auto t = parse_server_timing(" INFER ; desc=\"model, run\" ; dur = 3 ,cache;desc=miss,  Queue;dur=1");
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(ms(t->infer), 3, 1e-6);
  EXPECT_NEAR(ms(t->queue), 1, 1e-6);
  // A quoted duration and integer milliseconds are numbers too.
  t = parse_server_timing("infer;dur=\"7\"");
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(ms(t->infer), 7, 1e-6);
}

TEST(ServerTiming, QueueIsOptionalInferIsNot) {
  auto t = parse_server_timing("infer;dur=0.4");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->queue, Duration::zero());
  EXPECT_FALSE(parse_server_timing("queue;dur=0.4").has_value());
  EXPECT_FALSE(parse_server_timing("infer").has_value());       // no duration
  EXPECT_FALSE(parse_server_timing("infer;desc=x").has_value());
  EXPECT_FALSE(parse_server_timing("").has_value());
}

TEST(ServerTiming, FirstOccurrenceWins) {
  auto t = parse_server_timing("infer;dur=1;dur=9, infer;dur=5");
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(ms(t->infer), 1, 1e-6);
}

TEST(ServerTiming, MalformedHeadersAreRejectedNotGuessed) {
  for (const char* bad : {"infer;dur=abc", "infer;dur=-1", "infer;dur=nan", "infer;dur=inf", "infer;dur=1e12",
                          "infer;dur=1ms", "infer;dur=", "queue;dur=x, infer;dur=1", ";dur=1", "in fer;dur=1",
                          "infer;dur=1, =;dur=2", "infer;dur=0x10"}) {
    EXPECT_FALSE(parse_server_timing(bad).has_value()) << bad;
  }
}

TEST(ServerTiming, NeverReadsPastTheInput) {
  // Unterminated quotes and stray separators end at the text's end.
  EXPECT_FALSE(parse_server_timing("infer;desc=\"unterminated, queue;dur=1").has_value());
  auto t = parse_server_timing(",,infer;dur=2;;,");
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(ms(t->infer), 2, 1e-6);
  std::string big(100000, ',');
  EXPECT_FALSE(parse_server_timing(big).has_value());
}

// read_number takes plain decimals without std::from_chars: it must agree with from_chars on
// every string, bit for bit — structured decimals of every length and point position (the fast
// path's edges: 15 and 16 digits, leading zeros, "1." and ".5") and random text.
TEST(ServerTiming, ReadNumberAgreesWithFromChars) {
  auto expect_same = [](const std::string& s) {
    double a = -1, b = -1;
    const bool ok_a = read_number(s, a);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), b);
    const bool ok_b = ec == std::errc() && end == s.data() + s.size();
    ASSERT_EQ(ok_a, ok_b) << s;
    if (ok_a && !std::isnan(b)) {
      ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << s << " " << a << " " << b;
    }
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> digit(0, 9), len(1, 18);
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    const int n = len(rng);
    for (int k = 0; k < n; ++k) s += static_cast<char>('0' + digit(rng));
    const int point = static_cast<int>(rng() % static_cast<unsigned>(n + 2)) - 1;  // -1: none; n: "1."
    if (point >= 0) s.insert(static_cast<size_t>(point), ".");
    expect_same(s);
  }
  static constexpr char kAlphabet[] = "0123456789..-+eEx n";
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2), short_len(0, 12);
  for (int i = 0; i < 200000; ++i) {
    std::string s(short_len(rng), ' ');
    for (char& c : s) c = kAlphabet[pick(rng)];
    expect_same(s);
  }
  for (const char* s : {"0", "0.0", "999999999999999", "9999999999999999", "0.000000000000001",
                        "123456789012345.6", "1.", ".5", "", "-0", "-1.5", "1e3", "inf", "nan", "00.10"})
    expect_same(s);
}

// hir-worker's exact form has a shortcut; on it and on every near miss the answer must be the
// general grammar's.
TEST(ServerTiming, TheWorkerFormShortcutAgreesWithTheGrammar) {
  std::mt19937_64 rng(11);
  const std::vector<std::string> numbers = {"0",     "0.000", "0.125", "12",      "3600000", "3600000.5",
                                            "-1",    "1e3",   "1.",    ".5",      "1e400",   "nan",
                                            "0.0005", " 1",   "1 ",    "\"2\"",   "",        "123456789012345678"};
  const std::vector<std::string> forms = {"queue;dur={q}, infer;dur={i}", "queue;dur={q},infer;dur={i}",
                                          "queue;dur={q}, infer;dur={i}, cache;dur=1",
                                          "infer;dur={i}, queue;dur={q}", "Queue;dur={q}, infer;dur={i}",
                                          "queue;dur={q}, infer;dur={i};desc=x", "queue;dur={q}, infer;dur={i},",
                                          "queue;dur={q}, infer;dur={i}, infer;dur=9", "queue;dur={q}, inferx;dur={i}"};
  int checked = 0;
  for (int n = 0; n < 3000; ++n) {
    std::string h = forms[rng() % forms.size()];
    const std::string& q = numbers[rng() % numbers.size()];
    const std::string& i = numbers[rng() % numbers.size()];
    h.replace(h.find("{q}"), 3, q);
    h.replace(h.find("{i}"), 3, i);
    const auto fast = parse_server_timing(h);
    const auto slow = parse_server_timing_grammar(h);
    ASSERT_EQ(fast.has_value(), slow.has_value()) << h;
    if (fast) {
      EXPECT_EQ(fast->queue, slow->queue) << h;
      EXPECT_EQ(fast->infer, slow->infer) << h;
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);  // the sample holds many answers, not only refusals
}
