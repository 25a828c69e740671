#include "routing/breaker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0{};  // simulated time: no test here reads a real clock

TimePoint at(Duration d) { return kT0 + d; }

// The ejection schedule these tests check starts at 2 s, whatever the default, and the
// consecutive detector counts alone (its minimum span has tests of its own below).
BreakerConfig pinned() {
  BreakerConfig c;
  c.base_ejection = seconds(2);
  c.consecutive_span = Duration::zero();
  return c;
}

TEST(Breaker, OpensAfterConsecutiveFailures) {
  Breaker b{pinned()};
  for (int i = 0; i < 4; ++i) b.on_failure(at(milliseconds(i)));
  EXPECT_EQ(b.state(at(milliseconds(4))), BreakerState::kClosed);
  EXPECT_TRUE(b.allow(at(milliseconds(4))));
  b.on_failure(at(milliseconds(4)));
  EXPECT_EQ(b.state(at(milliseconds(4))), BreakerState::kOpen);
  EXPECT_FALSE(b.allow(at(milliseconds(5))));
  EXPECT_EQ(b.ejections(), 1u);
  EXPECT_EQ(b.open_until(), at(milliseconds(4) + seconds(2)));
  EXPECT_NE(b.reason().find("5 consecutive failures"), std::string::npos) << b.reason();
}

TEST(Breaker, ARunOfFailuresShorterThanTheSpanDoesNotOpen) {
  // One stall: five timeouts within 50 ms, then the target answers again.
  BreakerConfig cfg = pinned();
  cfg.failure_rate = 1.0;  // only the consecutive detector
  cfg.consecutive_span = milliseconds(100);
  Breaker b{cfg};
  for (int i = 0; i < 8; ++i) b.on_failure(at(milliseconds(10 * i)));  // 0 .. 70 ms
  EXPECT_EQ(b.state(at(milliseconds(70))), BreakerState::kClosed);
  b.on_success(at(milliseconds(80)));
  // The success ended the run: the next failures start a new one, 100 ms long at the earliest.
  for (int i = 0; i < 5; ++i) b.on_failure(at(milliseconds(150 + 10 * i)));
  EXPECT_EQ(b.state(at(milliseconds(190))), BreakerState::kClosed);
  EXPECT_EQ(b.ejections(), 0u);
}

TEST(Breaker, ARunThatOutlastsTheSpanOpens) {
  // A target that is down keeps failing: the first failure past the span ejects it.
  BreakerConfig cfg = pinned();
  cfg.failure_rate = 1.0;
  cfg.consecutive_span = milliseconds(100);
  Breaker b{cfg};
  for (int i = 0; i < 5; ++i) b.on_failure(at(milliseconds(10 * i)));
  EXPECT_EQ(b.state(at(milliseconds(99))), BreakerState::kClosed);
  b.on_failure(at(milliseconds(100)));
  EXPECT_EQ(b.state(at(milliseconds(100))), BreakerState::kOpen);
  EXPECT_NE(b.reason().find("6 consecutive failures"), std::string::npos) << b.reason();
  // Long enough but too few: the count still applies.
  Breaker c{cfg};
  c.on_failure(at(milliseconds(0)));
  c.on_failure(at(milliseconds(500)));
  EXPECT_EQ(c.state(at(milliseconds(500))), BreakerState::kClosed);
}

TEST(Breaker, SuccessResetsTheConsecutiveCount) {
  BreakerConfig cfg = pinned();
  cfg.failure_rate = 1.0;  // only the consecutive detector
  Breaker b{cfg};
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 4; ++i) b.on_failure(at(milliseconds(round * 10 + i)));
    b.on_success(at(milliseconds(round * 10 + 5)));
  }
  EXPECT_EQ(b.state(at(seconds(1))), BreakerState::kClosed);
  EXPECT_EQ(b.reason(), "");
}

TEST(Breaker, OpensOnFailureRateOnlyWithMinRequests) {
  Breaker b{pinned()};  // rate 0.5, min 20, window 10 s
  // Pattern F F S: two thirds fail, never 5 in a row.
  int n = 0;
  auto step = [&] {
    const TimePoint t = at(milliseconds(10 * n));
    (n % 3 == 2) ? b.on_success(t) : b.on_failure(t);
    ++n;
  };
  while (n < 19) step();
  EXPECT_EQ(b.state(at(milliseconds(10 * n))), BreakerState::kClosed) << "19 requests < 20";
  step();  // the 20th request is a failure: 14 of 20 failed
  EXPECT_EQ(b.state(at(milliseconds(10 * n))), BreakerState::kOpen);
  EXPECT_NE(b.reason().find("failure rate 70%"), std::string::npos) << b.reason();
  EXPECT_NE(b.reason().find("14 of 20"), std::string::npos) << b.reason();
}

TEST(Breaker, FailureRateAtThresholdDoesNotOpen) {
  BreakerConfig cfg = pinned();
  Breaker b{cfg};
  for (int i = 0; i < 40; ++i) {  // S F S F ...: exactly 50%, and the rule is "exceeds"
    const TimePoint t = at(milliseconds(i));
    (i % 2 == 0) ? b.on_success(t) : b.on_failure(t);
  }
  EXPECT_EQ(b.state(at(milliseconds(40))), BreakerState::kClosed);
}

TEST(Breaker, OldResultsLeaveTheWindow) {
  BreakerConfig cfg = pinned();
  cfg.consecutive_failures = 0;  // detector off: only the rate may open it
  Breaker b{cfg};
  for (int i = 0; i < 15; ++i) b.on_failure(at(milliseconds(i)));
  // 11 s later the first 15 have rolled out; 10 more make 10 in the window, below min_requests.
  for (int i = 0; i < 10; ++i) b.on_failure(at(seconds(11) + milliseconds(i)));
  EXPECT_EQ(b.state(at(seconds(12))), BreakerState::kClosed);
  for (int i = 0; i < 10; ++i) b.on_failure(at(seconds(12) + milliseconds(i)));
  EXPECT_EQ(b.state(at(seconds(13))), BreakerState::kOpen);
}

Breaker opened_at(TimePoint t, BreakerConfig cfg = pinned()) {
  Breaker b{cfg};
  for (uint32_t i = 0; i < cfg.consecutive_failures; ++i) b.on_failure(t);
  return b;
}

TEST(Breaker, StaysOpenForItsEjectionTimeThenHalfOpen) {
  Breaker b = opened_at(kT0);
  EXPECT_EQ(b.state(at(seconds(2) - Duration(1))), BreakerState::kOpen);
  EXPECT_FALSE(b.allow(at(seconds(2) - Duration(1))));
  EXPECT_EQ(b.state(at(seconds(2))), BreakerState::kHalfOpen);
  EXPECT_NE(b.reason(), "") << "half-open still says why it was ejected";
}

TEST(Breaker, HalfOpenLetsExactlyTheProbesThrough) {
  BreakerConfig cfg = pinned();
  cfg.half_open_probes = 3;
  Breaker b = opened_at(kT0, cfg);
  const TimePoint t = at(seconds(2));
  EXPECT_TRUE(b.would_allow(t));
  EXPECT_TRUE(b.would_allow(t)) << "would_allow acquires nothing";
  int let_through = 0;
  for (int i = 0; i < 10; ++i) let_through += b.allow(t) ? 1 : 0;
  EXPECT_EQ(let_through, 3);
  EXPECT_FALSE(b.would_allow(t));
}

// A probe its caller gave up on for its own reasons (a hedge's loser, a request out of budget)
// proves nothing: the slot goes to the next request, and nothing is counted while closed.
TEST(Breaker, AnAbandonedProbeFreesItsSlotAndDecidesNothing) {
  Breaker b = opened_at(kT0);
  const TimePoint t = at(seconds(2));
  ASSERT_TRUE(b.allow(t));
  EXPECT_FALSE(b.would_allow(t));
  b.on_abandoned(t);
  EXPECT_EQ(b.state(t), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.allow(t));
  b.on_success(t);
  EXPECT_EQ(b.state(t), BreakerState::kClosed);
  for (int i = 0; i < 20; ++i) b.on_abandoned(t + milliseconds(i));
  b.on_failure(t + milliseconds(30));
  for (int i = 0; i < 3; ++i) b.on_abandoned(t + milliseconds(31 + i));
  for (int i = 0; i < 3; ++i) b.on_failure(t + milliseconds(40 + i));
  EXPECT_EQ(b.state(t + milliseconds(43)), BreakerState::kClosed) << "abandoned results are not failures";
  b.on_failure(t + milliseconds(44));
  EXPECT_EQ(b.state(t + milliseconds(44)), BreakerState::kOpen) << "nor do they break a run";
}

TEST(Breaker, HalfOpenSuccessCloses) {
  Breaker b = opened_at(kT0);
  ASSERT_TRUE(b.allow(at(seconds(2))));
  b.on_success(at(seconds(2) + milliseconds(5)));
  EXPECT_EQ(b.state(at(seconds(2) + milliseconds(5))), BreakerState::kClosed);
  EXPECT_TRUE(b.allow(at(seconds(2) + milliseconds(6))));
  EXPECT_EQ(b.reason(), "");
  EXPECT_EQ(b.ejections(), 1u) << "the count decays later, not at once";
}

TEST(Breaker, HalfOpenFailureReopensLongerExponentiallyAndCapped) {
  Breaker b = opened_at(kT0);
  TimePoint t = b.open_until();
  const int64_t expected_s[] = {4, 8, 16, 32, 60, 60, 60};  // base 2 s doubling, capped at 60 s
  for (int64_t len : expected_s) {
    ASSERT_EQ(b.state(t), BreakerState::kHalfOpen);
    ASSERT_TRUE(b.allow(t));
    b.on_failure(t);
    EXPECT_EQ(b.state(t), BreakerState::kOpen);
    EXPECT_EQ(b.open_until() - t, seconds(len));
    EXPECT_NE(b.reason().find("half-open probe failed"), std::string::npos);
    t = b.open_until();
  }
  EXPECT_EQ(b.ejections(), 8u);
}

TEST(Breaker, EjectionLengthNeverOverflows) {
  BreakerConfig cfg = pinned();
  EXPECT_EQ(Breaker::ejection_length(1, cfg), seconds(2));
  EXPECT_EQ(Breaker::ejection_length(3, cfg), seconds(8));
  EXPECT_EQ(Breaker::ejection_length(1000, cfg), seconds(60));
  EXPECT_EQ(Breaker::ejection_length(UINT32_MAX, cfg), seconds(60));
}

TEST(Breaker, ResultsWhileOpenAreIgnored) {
  Breaker b = opened_at(kT0);
  for (int i = 0; i < 50; ++i) b.on_failure(at(milliseconds(100 + i)));
  b.on_success(at(milliseconds(200)));
  EXPECT_EQ(b.state(at(milliseconds(300))), BreakerState::kOpen);
  EXPECT_EQ(b.ejections(), 1u);
  EXPECT_EQ(b.open_until(), at(seconds(2)));
}

TEST(Breaker, EjectionCountDecaysWhileClosed) {
  Breaker b = opened_at(kT0);
  TimePoint t = b.open_until();  // fail one probe: ejection 2
  ASSERT_TRUE(b.allow(t));
  b.on_failure(t);
  t = b.open_until();
  ASSERT_TRUE(b.allow(t));
  b.on_success(t);  // closed with 2 ejections on record
  ASSERT_EQ(b.ejections(), 2u);
  b.allow(t + seconds(10) - Duration(1));
  EXPECT_EQ(b.ejections(), 2u);
  b.allow(t + seconds(10));  // one window closed forgives one ejection
  EXPECT_EQ(b.ejections(), 1u);
  for (int i = 0; i < 5; ++i) b.on_failure(t + seconds(15));
  EXPECT_EQ(b.open_until() - (t + seconds(15)), seconds(4)) << "ejection 2, not 3";
}

TEST(Breaker, LostProbeIsFreedAfterAWindow) {
  Breaker b = opened_at(kT0);
  const TimePoint t = at(seconds(2));
  ASSERT_TRUE(b.allow(t));  // its result never comes back
  EXPECT_FALSE(b.allow(t + seconds(9)));
  EXPECT_TRUE(b.allow(t + seconds(10)));
}

TEST(Breaker, StateNames) {
  EXPECT_EQ(breaker_state_name(BreakerState::kClosed), "closed");
  EXPECT_EQ(breaker_state_name(BreakerState::kOpen), "open");
  EXPECT_EQ(breaker_state_name(BreakerState::kHalfOpen), "half-open");
}

TEST(Breaker, ValidateRejectsNonsense) {
  EXPECT_TRUE(validate(BreakerConfig{}).ok());
  EXPECT_EQ(BreakerConfig{}.base_ejection, milliseconds(500));  // docs/configuration.md
  auto bad = [](auto mutate) {
    BreakerConfig c;
    mutate(c);
    return !validate(c).ok();
  };
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.window = Duration::zero(); }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.base_ejection = Duration::zero(); }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.max_ejection = c.base_ejection / 2; }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.failure_rate = 1.5; }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.failure_rate = std::nan(""); }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.half_open_probes = 0; }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.consecutive_span = milliseconds(-1); }));
  EXPECT_TRUE(bad([](BreakerConfig& c) { c.stale_report_after = Duration::zero(); }));
}

TEST(Health, StalenessAndReadiness) {
  const BreakerConfig cfg;  // stale after 5 s
  EXPECT_TRUE(healthy(true, seconds(1), true, cfg));
  EXPECT_TRUE(healthy(true, seconds(5), true, cfg)) << "older than 5 s is stale, 5 s is not";
  EXPECT_FALSE(healthy(true, seconds(5) + Duration(1), true, cfg));
  EXPECT_FALSE(healthy(true, seconds(1), false, cfg));
  EXPECT_TRUE(healthy(false, seconds(999), false, cfg)) << "never reported: judged passively";
}

}  // namespace
}  // namespace hir::routing
