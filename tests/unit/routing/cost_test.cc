#include "routing/cost.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace hir::routing {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TargetInfo priced(int64_t per_request_nano, int64_t per_second_nano) {
  TargetInfo t;
  t.name = "cloud";
  t.hw = HardwareClass::kCloud;
  t.cost_per_request = Money::from_nano(per_request_nano);
  t.cost_per_second = Money::from_nano(per_second_nano);
  return t;
}

TEST(Cost, PerRequestPlusPerSecondOfService) {
  // $0.000001 per request + $0.003 per second, 250 ms of service: 1,000 + 750,000 nano-USD.
  const auto t = priced(1'000, 3'000'000);
  EXPECT_EQ(predict_cost(t, milliseconds(250)).nano(), 751'000);
  EXPECT_EQ(predict_cost(t, seconds(2)).nano(), 6'001'000);
}

TEST(Cost, FreeTargetsCostNothing) {
  EXPECT_EQ(predict_cost(priced(0, 0), seconds(10)).nano(), 0);
}

TEST(Cost, ZeroOrNegativeServiceLeavesThePerRequestPrice) {
  const auto t = priced(500, 1'000'000'000);
  EXPECT_EQ(predict_cost(t, Duration::zero()).nano(), 500);
  EXPECT_EQ(predict_cost(t, -seconds(1)).nano(), 500);
}

TEST(Cost, RoundsToTheNearestNanoDollarHalvesUp) {
  const auto t = priced(0, 1);  // one nano-USD per second
  EXPECT_EQ(predict_cost(t, nanoseconds(499'999'999)).nano(), 0);
  EXPECT_EQ(predict_cost(t, nanoseconds(500'000'000)).nano(), 1);
  EXPECT_EQ(predict_cost(t, nanoseconds(1'499'999'999)).nano(), 1);
  EXPECT_EQ(predict_cost(t, nanoseconds(1'500'000'000)).nano(), 2);
  // $0.0036/s (a $12.96/h instance): 1 ns of it is 0.0036 nano-USD, 1 µs is 3.6.
  EXPECT_EQ(cost_of_time(Money::from_nano(3'600'000), nanoseconds(1)).nano(), 0);  // 0.0036
  EXPECT_EQ(cost_of_time(Money::from_nano(3'600'000), microseconds(1)).nano(), 4);  // 3.6
}

TEST(Cost, ExactWhereTheProductOverflows64Bits) {
  // $100/s for an hour: 1e11 nano-USD/s × 3.6e12 ns = 3.6e23 before dividing, far beyond int64.
  const auto t = priced(7, 100'000'000'000);
  EXPECT_EQ(predict_cost(t, hours(1)).nano(), 360'000'000'000'000 + 7);
}

TEST(Cost, SaturatesInsteadOfWrapping) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  const auto t = priced(max, max);
  EXPECT_EQ(predict_cost(t, seconds(10)).nano(), max);
}

TEST(Cost, SumsOverManyRequestsDoNotDrift) {
  const auto t = priced(123, 456'789);
  const Money one = predict_cost(t, milliseconds(37));  // 123 + 16,901.193 -> 17,024
  EXPECT_EQ(one.nano(), 17'024);
  Money total;
  for (int i = 0; i < 1'000'000; ++i) total += predict_cost(t, milliseconds(37));
  EXPECT_EQ(total.nano(), 17'024LL * 1'000'000);
}

// cost_of_time takes a 64-bit path when the product fits and a 128-bit one otherwise; both
// round half away from zero. Checked against the rule itself, in 128 bits, on both sides of the
// boundary and for negative prices (a credit).
TEST(Cost, SixtyFourAndOneHundredTwentyEightBitPathsAgree) {
  __extension__ typedef __int128 i128;
  auto expected = [](int64_t per_s, int64_t ns) {
    const i128 num = static_cast<i128>(per_s) * ns;
    const i128 q = num >= 0 ? (num + 500'000'000) / 1'000'000'000 : (num - 500'000'000) / 1'000'000'000;
    const i128 hi = std::numeric_limits<int64_t>::max(), lo = std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(q > hi ? hi : q < lo ? lo : q);
  };
  uint64_t x = 88172645463325252ULL;
  auto next = [&] {  // xorshift64: varied magnitudes without a dependency
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 200'000; ++i) {
    const int shift_p = static_cast<int>(next() % 63), shift_d = static_cast<int>(next() % 63);
    int64_t per_s = static_cast<int64_t>(next() >> (1 + shift_p));
    if (next() % 4 == 0) per_s = -per_s;
    const int64_t ns = 1 + static_cast<int64_t>(next() >> (1 + shift_d));
    ASSERT_EQ(cost_of_time(Money::from_nano(per_s), nanoseconds(ns)).nano(), expected(per_s, ns))
        << per_s << " nano-USD/s for " << ns << " ns";
  }
}

}  // namespace
}  // namespace hir::routing
