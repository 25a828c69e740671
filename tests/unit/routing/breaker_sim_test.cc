// "Breakers open and recover on schedule" (issue 3): a target serves a request every 10 ms of
// simulated time with a seeded 1% background failure rate, and suffers two outages. The test
// replays the breaker's transitions against the schedule the configuration implies.
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <vector>

#include "core/rng.h"
#include "routing/breaker.h"

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Transition {
  int64_t ms;
  BreakerState to;
  bool operator==(const Transition&) const = default;
};
void PrintTo(const Transition& t, std::ostream* os) {
  *os << t.ms << "ms:" << breaker_state_name(t.to);
}

struct Outage {
  int64_t from_ms, to_ms;
};

struct SimResult {
  std::vector<Transition> transitions;
  int sent_during_outages = 0;
  uint32_t ejections_before_second_outage = 0;
};

SimResult simulate(uint64_t seed, const std::vector<Outage>& outages, int64_t end_ms) {
  const TimePoint t0{};
  Rng rng(seed);
  BreakerConfig cfg;
  cfg.base_ejection = std::chrono::seconds(2);  // the schedule the checks below expect
  cfg.consecutive_span = Duration::zero();       // (the count alone opens it)
  Breaker b{cfg};
  SimResult r;
  BreakerState last = BreakerState::kClosed;
  // Log a state change at the tick it is seen: before the tick's request (open turns half-open
  // by the clock alone) and after it (its result may close or re-open the breaker).
  auto observe = [&](int64_t ms, TimePoint now) {
    const BreakerState s = b.state(now);
    if (s != last) r.transitions.push_back({ms, s});
    last = s;
  };
  for (int64_t ms = 0; ms <= end_ms; ms += 10) {
    const TimePoint now = t0 + milliseconds(ms);
    if (ms == outages[1].from_ms) r.ejections_before_second_outage = b.ejections();
    bool down = false;
    for (const Outage& o : outages) down = down || (ms >= o.from_ms && ms < o.to_ms);
    const bool noise = rng.uniform() < 0.01;  // drawn every tick, so the sequence is fixed
    observe(ms, now);
    if (b.allow(now)) {
      if (down) ++r.sent_during_outages;
      (down || noise) ? b.on_failure(now) : b.on_success(now);
    }
    observe(ms, now);
  }
  return r;
}

TEST(BreakerSimulation, OpensAndRecoversOnSchedule) {
  const std::vector<Outage> outages = {{30'000, 75'000}, {150'000, 151'000}};
  const SimResult r = simulate(42, outages, 200'000);

  // Outage 1. Five failures in a row open it within 40 ms of the outage's start (a background
  // failure just before may make it sooner).
  ASSERT_FALSE(r.transitions.empty());
  const int64_t open1 = r.transitions[0].ms;
  EXPECT_EQ(r.transitions[0].to, BreakerState::kOpen);
  EXPECT_GE(open1, 30'000);
  EXPECT_LE(open1, 30'040);

  // Each ejection ends with a half-open probe. Inside the outage it fails and the next ejection
  // is twice as long: 2, 4, 8, 16, 32 s. The 32 s one ends after the outage; that probe succeeds.
  std::vector<Transition> expected = {{open1, BreakerState::kOpen}};
  int64_t t = open1;
  for (int64_t len_s = 2;; len_s *= 2) {
    t += len_s * 1000;
    expected.push_back({t, BreakerState::kHalfOpen});
    if (t >= outages[0].to_ms) break;
    expected.push_back({t, BreakerState::kOpen});
  }
  expected.push_back({t, BreakerState::kClosed});
  const int64_t closed1 = t;
  EXPECT_EQ(closed1, open1 + (2 + 4 + 8 + 16 + 32) * 1000);

  // Outage 2, long after: the five ejections were forgiven, one per 10 s window closed, so it
  // opens for the base 2 s again and closes at the first probe after the outage.
  EXPECT_EQ(r.ejections_before_second_outage, 0u);
  ASSERT_EQ(r.transitions.size(), expected.size() + 3) << "one more ejection, nothing else";
  const int64_t open2 = r.transitions[expected.size()].ms;
  EXPECT_GE(open2, 150'000);
  EXPECT_LE(open2, 150'040);
  expected.push_back({open2, BreakerState::kOpen});
  expected.push_back({open2 + 2'000, BreakerState::kHalfOpen});
  expected.push_back({open2 + 2'000, BreakerState::kClosed});
  EXPECT_EQ(r.transitions, expected);

  // While down, only the failures that opened it and one probe per ejection reached the target.
  EXPECT_LE(r.sent_during_outages, 5 + 4 + 5);
}

TEST(BreakerSimulation, DeterministicForASeed) {
  const std::vector<Outage> outages = {{5'000, 20'000}, {40'000, 41'000}};
  EXPECT_EQ(simulate(7, outages, 60'000).transitions, simulate(7, outages, 60'000).transitions);
}

}  // namespace
}  // namespace hir::routing
