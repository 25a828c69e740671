// The capacity-consistent figure's idle-window check ("no idle cheaper slot", docs/simulator.md):
// Schedule::idle_thread (service spans), Unreachable (down devices, partitions, outages) and
// cheaper_idle_option, which puts them together for one request.
#include "sim/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "core/rng.h"
#include "sim/faults.h"
#include "sim/fleet.h"
#include "sim/oracle.h"
#include "sim/trace.h"
#include "two_tier_scenario.h"

namespace hir::sim {
namespace {

constexpr uint64_t kNobody = std::numeric_limits<uint64_t>::max();

TEST(Schedule, ConcurrencyOneIdleOnlyBetweenSpans) {
  Schedule s(1);
  s.add(0, 10, 20, 1);
  s.add(0, 20, 30, 2);  // back to back: the queue's next request starts as the first ends
  s.add(0, 40, 50, 3);
  EXPECT_TRUE(s.idle_thread(0, 0, 10, 1, kNobody));    // ends exactly where the first span starts
  EXPECT_TRUE(s.idle_thread(0, 30, 40, 1, kNobody));   // touches both neighbours' edges
  EXPECT_TRUE(s.idle_thread(0, 50, 60, 1, kNobody));   // starts exactly where the last span ends
  EXPECT_FALSE(s.idle_thread(0, 29, 31, 1, kNobody));  // one nanosecond into a span
  EXPECT_FALSE(s.idle_thread(0, 39, 41, 1, kNobody));
  EXPECT_FALSE(s.idle_thread(0, 35, 45, 1, kNobody));
  EXPECT_FALSE(s.idle_thread(0, 12, 18, 1, kNobody));  // inside a span
  EXPECT_FALSE(s.idle_thread(0, 0, 100, 1, kNobody));  // covering them all
  EXPECT_TRUE(s.idle_thread(0, 30, 30, 1, kNobody));   // zero length: the instant 30
  EXPECT_FALSE(s.idle_thread(0, 20, 20, 1, kNobody));
  // The request's own attempt does not make the device busy for it.
  EXPECT_TRUE(s.idle_thread(0, 12, 18, 1, 1));
  EXPECT_FALSE(s.idle_thread(0, 12, 25, 1, 1));
  EXPECT_FALSE(s.idle_thread(0, 0, 100, 0, kNobody));  // no thread at all
}

TEST(Schedule, ConcurrencyAboveOneCountsSpansRunningAtOnce) {
  Schedule s(1);
  s.add(0, 0, 100, 1);
  s.add(0, 10, 20, 2);
  s.add(0, 20, 30, 3);
  s.add(0, 30, 40, 4);
  s.add(0, 35, 45, 5);
  // Two threads: [0,100) and one of the short spans run at once over [10,45).
  EXPECT_FALSE(s.idle_thread(0, 5, 15, 2, kNobody));
  EXPECT_FALSE(s.idle_thread(0, 15, 25, 2, kNobody));  // 2 throughout, 3 spans in the window
  EXPECT_TRUE(s.idle_thread(0, 0, 10, 2, kNobody));    // only the long one: a thread idle
  EXPECT_TRUE(s.idle_thread(0, 45, 60, 2, kNobody));
  EXPECT_TRUE(s.idle_thread(0, 5, 15, 3, kNobody));    // a third thread is idle throughout...
  EXPECT_FALSE(s.idle_thread(0, 34, 36, 3, kNobody));  // ...but for [35,40), where 3 run
  EXPECT_TRUE(s.idle_thread(0, 40, 41, 3, kNobody));   // 30-40 has ended at 40: 2 run
  EXPECT_TRUE(s.idle_thread(0, 15, 25, 2, 1));         // without the request's own long span
}

TEST(Schedule, LongSpanStartedFarEarlierStillCounts) {
  Schedule s(1);
  s.add(0, 0, 1'000'000, 1);
  for (int64_t t = 10; t < 500'000; t += 100) s.add(0, t, t + 50, 2);  // many short ones after it
  EXPECT_FALSE(s.idle_thread(0, 900'000, 900'010, 1, kNobody));
  EXPECT_TRUE(s.idle_thread(0, 900'000, 900'010, 2, kNobody));
  EXPECT_TRUE(s.idle_thread(0, 1'000'000, 1'000'010, 1, kNobody));
}

TEST(Schedule, WorkCutShortByAFailureFreesTheThread) {
  Schedule s(2);
  uint32_t i = s.add(1, 0, 100, 1);
  EXPECT_FALSE(s.idle_thread(1, 60, 70, 1, kNobody));
  s.cut(1, i, 50);
  EXPECT_TRUE(s.idle_thread(1, 60, 70, 1, kNobody));
  EXPECT_TRUE(s.idle_thread(1, 50, 70, 1, kNobody));
  EXPECT_FALSE(s.idle_thread(1, 49, 70, 1, kNobody));
  EXPECT_TRUE(s.idle_thread(0, 0, 100, 1, kNobody));  // the other device never served
}

TEST(Schedule, MatchesABruteForceCount) {
  Rng rng(17);
  for (uint32_t c = 1; c <= 3; ++c) {
    Schedule s(1);
    struct Span { int64_t from, to; uint64_t owner; };
    std::vector<Span> spans;
    int64_t t = 0;
    for (int i = 0; i < 400; ++i) {
      t += static_cast<int64_t>(rng.uniform() * 20);
      int64_t len = 1 + static_cast<int64_t>(rng.uniform() * (rng.uniform() < 0.1 ? 400 : 40));
      spans.push_back({t, t + len, static_cast<uint64_t>(i % 50)});
      s.add(0, t, t + len, spans.back().owner);
    }
    for (int q = 0; q < 2000; ++q) {
      int64_t from = static_cast<int64_t>(rng.uniform() * static_cast<double>(t + 100));
      int64_t to = from + 1 + static_cast<int64_t>(rng.uniform() * 60);
      uint64_t except = rng.uniform() < 0.5 ? kNobody : static_cast<uint64_t>(rng.uniform() * 50);
      int most = 0;
      for (int64_t x = from; x < to; ++x) {
        int n = 0;
        for (const auto& sp : spans) n += sp.owner != except && sp.from <= x && x < sp.to;
        most = std::max(most, n);
      }
      ASSERT_EQ(s.idle_thread(0, from, to, c, except), most < static_cast<int>(c))
          << "c " << c << " window [" << from << ", " << to << ")";
    }
  }
}

using testing::kTwoTier;

int64_t ms(double v) { return from_ms(v).count(); }

TEST(Unreachable, DownDevicePartitionedSiteAndOutage) {
  auto s = parse_scenario(kTwoTier, "x");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto f = build_fleet(*s, 1);
  ASSERT_TRUE(f.ok());
  using K = FaultEvent::Kind;
  const uint32_t site1 = f->devices[1].site, cloud = f->devices[3].group;
  std::vector<FaultEvent> tl = {
      {Duration{0}, K::kDeviceDown, 2},  // down from the start, never back
      {from_ms(100), K::kDeviceDown, 0},
      {from_ms(100), K::kBrownoutStart, cloud, 2, 0.1},  // slower, not away
      {from_ms(150), K::kPartitionStart, site1},
      {from_ms(200), K::kDeviceUp, 0},
      {from_ms(250), K::kPartitionEnd, site1},
      {from_ms(300), K::kOutageStart, cloud},
      {from_ms(400), K::kOutageEnd, cloud},
  };
  Unreachable u(*f, tl);
  EXPECT_TRUE(u.reachable_throughout(0, ms(50), ms(100)));   // ends as it goes down
  EXPECT_FALSE(u.reachable_throughout(0, ms(50), ms(100) + 1));
  EXPECT_FALSE(u.reachable_throughout(0, ms(150), ms(160)));
  EXPECT_FALSE(u.reachable_throughout(0, ms(199), ms(300)));
  EXPECT_TRUE(u.reachable_throughout(0, ms(200), ms(300)));  // back up at 200
  EXPECT_FALSE(u.reachable_throughout(2, ms(0), ms(1)));
  EXPECT_FALSE(u.reachable_throughout(2, ms(5000), ms(5001)));
  EXPECT_TRUE(u.reachable_throughout(1, ms(0), ms(150)));
  EXPECT_FALSE(u.reachable_throughout(1, ms(240), ms(260)));  // its site partitioned
  EXPECT_TRUE(u.reachable_throughout(1, ms(250), ms(260)));
  EXPECT_TRUE(u.reachable_throughout(3, ms(100), ms(300)));   // a brownout is no outage
  EXPECT_FALSE(u.reachable_throughout(3, ms(350), ms(350)));
  EXPECT_TRUE(u.reachable_throughout(3, ms(400), ms(401)));
}

TEST(CheaperIdleOption, OnlyACheaperDeviceIdleForTheWholeWindowCounts) {
  auto s = parse_scenario(kTwoTier, "x");
  ASSERT_TRUE(s.ok());
  auto f = build_fleet(*s, 1);
  ASSERT_TRUE(f.ok());
  for (const auto& d : f->devices) ASSERT_EQ(d.slowdown, 1.0);
  FaultState fs(*f);
  Trace t(*s, *f, 3, 0);
  auto r = *t.next();
  r.z_service.assign(r.z_service.size(), 0.f);  // medians: the edge serves `a` in 5 ms
  r.z_rtt.assign(r.z_rtt.size(), 0.f);          // RTT 2 ms: the edge holds it over [+1, +6) ms
  r.u_error.assign(r.u_error.size(), 1.f);
  r.arrival = from_ms(1000);
  const int64_t reach = ms(1001), ends = ms(1006);
  const Money cloud = Money::from_usd(0.0001), edge = Money::from_usd(0.000001);
  Unreachable none(*f, {});
  Schedule sched(f->devices.size());
  EXPECT_TRUE(cheaper_idle_option(*s, *f, fs, r, cloud, sched, none));  // every edge device idle
  EXPECT_FALSE(cheaper_idle_option(*s, *f, fs, r, edge, sched, none));  // nothing strictly cheaper
  // Devices 0 and 1 busy across the window, device 2 free but for one nanosecond at its end.
  sched.add(0, ms(990), ms(1010), 7);
  sched.add(1, ms(1003), ms(1004), 8);
  sched.add(2, ends - 1, ends + 5, 9);
  EXPECT_FALSE(cheaper_idle_option(*s, *f, fs, r, cloud, sched, none));
  // The request's own attempt on device 0 leaves it idle for the request.
  Schedule own(f->devices.size());
  own.add(0, ms(990), ms(1010), r.id);
  own.add(1, ms(990), ms(1010), 7);
  own.add(2, ms(990), ms(1010), 7);
  EXPECT_TRUE(cheaper_idle_option(*s, *f, fs, r, cloud, own, none));
  // Device 2 idle from `ends` on: a window touching a span's edge is idle...
  Schedule edge_touch(f->devices.size());
  edge_touch.add(0, ms(990), ms(1010), 7);
  edge_touch.add(1, ms(990), ms(1010), 7);
  edge_touch.add(2, ms(990), reach, 7);
  edge_touch.add(2, ends, ms(1010), 7);
  EXPECT_TRUE(cheaper_idle_option(*s, *f, fs, r, cloud, edge_touch, none));
  // ...unless the device was down during it.
  using K = FaultEvent::Kind;
  Unreachable down(*f, {{from_ms(1003), K::kDeviceDown, 2}, {from_ms(1100), K::kDeviceUp, 2}});
  EXPECT_FALSE(cheaper_idle_option(*s, *f, fs, r, cloud, edge_touch, down));
  // Accuracy, 5xx and budget rule the idle edge out as they do for the oracle.
  auto strict = r;
  strict.route.min_accuracy = 0.9;  // only the cloud's b
  EXPECT_FALSE(cheaper_idle_option(*s, *f, fs, strict, cloud, Schedule(f->devices.size()), none));
  auto erring = r;
  erring.u_error.assign(erring.u_error.size(), -1.f);  // below any error rate: a 5xx everywhere
  EXPECT_FALSE(cheaper_idle_option(*s, *f, fs, erring, cloud, Schedule(f->devices.size()), none));
  auto hurried = r;
  hurried.budget = from_ms(6.5);  // RTT 2 + 5 ms of service does not fit
  EXPECT_FALSE(cheaper_idle_option(*s, *f, fs, hurried, cloud, Schedule(f->devices.size()), none));
  hurried.budget = from_ms(7);
  EXPECT_TRUE(cheaper_idle_option(*s, *f, fs, hurried, cloud, Schedule(f->devices.size()), none));
}

}  // namespace
}  // namespace hir::sim
