#include "router/server_timing.h"

#include <gtest/gtest.h>

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
