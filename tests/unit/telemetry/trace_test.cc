#include "telemetry/trace.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace hir::telemetry {
namespace {

// The example from the W3C Trace Context recommendation.
constexpr std::string_view kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

bool is_lower_hex(const std::string& s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(Trace, ParsesSpecExample) {
  auto ctx = TraceContext::parse(kSpecExample);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(ctx->flags, 1);
  EXPECT_EQ(ctx->header(), kSpecExample);
}

TEST(Trace, KeepsUnsampledAndUnknownFlagsForVersion00) {
  auto ctx = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->flags, 0);
  ctx = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->flags, 9);
  EXPECT_EQ(ctx->header().substr(53), "09");
}

TEST(Trace, RejectsInvalid) {
  const std::vector<std::string> bad = {
      "",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff is forbidden
      "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // short version
      "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version not hex
      "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version uppercase
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",    // trace id 31 chars
      "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",  // trace id 33 chars
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",    // parent id 15 chars
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",  // parent id 17 chars
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",    // flags 1 char
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",  // flags 3 chars
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",   // uppercase parent id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",   // uppercase flags
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // all-zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // all-zero parent id
      "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",   // wrong delimiters
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 has nothing after flags
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",  // trailing space
      " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // leading space
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",   // non-hex in parent id
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // future version: no '-' after flags
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // future version: too short
  };
  for (const auto& v : bad) EXPECT_FALSE(TraceContext::parse(v)) << "'" << v << "'";
}

TEST(Trace, ParsesFutureVersionsLeniently) {
  auto ctx = TraceContext::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->flags, 1);  // only the sampled bit is understood
  EXPECT_EQ(ctx->header(), kSpecExample);  // and we speak version 00
  EXPECT_TRUE(TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
}

TEST(Trace, NewHeaderIsValidAndRoundTrips) {
  std::set<std::string> traces;
  for (int i = 0; i < 1000; ++i) {
    const std::string header = TraceContext::new_header();
    auto ctx = TraceContext::parse(header);
    ASSERT_TRUE(ctx) << header;
    EXPECT_TRUE(is_lower_hex(ctx->trace_id, 32)) << ctx->trace_id;
    EXPECT_TRUE(is_lower_hex(ctx->parent_id, 16)) << ctx->parent_id;
    EXPECT_EQ(ctx->flags, 1);
    EXPECT_EQ(ctx->header(), header);
    traces.insert(ctx->trace_id);
  }
  EXPECT_EQ(traces.size(), 1000u);
}

TEST(Trace, ChildKeepsTraceIdAndFlags) {
  auto parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(parent);
  TraceContext child = parent->child();
  EXPECT_EQ(child.trace_id, parent->trace_id);
  EXPECT_EQ(child.flags, 0);
  EXPECT_NE(child.parent_id, parent->parent_id);
  EXPECT_TRUE(is_lower_hex(child.parent_id, 16));
  EXPECT_TRUE(TraceContext::parse(child.header()));
}

TEST(RequestId, SixteenLowerHexAndDistinctAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(new_request_id());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) {
    for (const auto& id : v) {
      EXPECT_TRUE(is_lower_hex(id, 16)) << id;
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace hir::telemetry
