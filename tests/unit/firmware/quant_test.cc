// Requantization against an independent int64 statement of the TFLite/gemmlowp formulas:
// SaturatingRoundingDoublingHighMul(a, b) = floor(a*b / 2^31 + 1/2) (ties toward +inf, saturating
// at INT32_MIN * INT32_MIN), RoundingDivideByPOT(x, e) = x / 2^e rounded half away from zero.
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <random>

#include "hirfw/quant.h"

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t ref_srdhm(int64_t a, int64_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  return floor_div(a * b + (int64_t{1} << 30), int64_t{1} << 31);
}

int64_t ref_rdbpot(int64_t x, int e) {
  if (e == 0) return x;
  const int64_t mag = ((x < 0 ? -x : x) + (int64_t{1} << (e - 1))) >> e;
  return x < 0 ? -mag : mag;
}

int64_t ref_mbqm(int64_t x, int64_t m, int shift) {
  int64_t v = shift > 0 ? x * (int64_t{1} << shift) : x;
  v = std::min<int64_t>(std::max<int64_t>(v, INT32_MIN), INT32_MAX);
  return ref_rdbpot(ref_srdhm(v, m), shift > 0 ? 0 : -shift);
}

TEST(Quant, SrdhmEdgeCases) {
  EXPECT_EQ(hirfw_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);  // the one overflow saturates
  EXPECT_EQ(hirfw_srdhm(INT32_MAX, INT32_MAX), INT32_MAX - 1);
  EXPECT_EQ(hirfw_srdhm(INT32_MIN, INT32_MAX), INT32_MIN + 1);
  EXPECT_EQ(hirfw_srdhm(0, INT32_MIN), 0);
  // 2 * a * b / 2^32 with a*b = +-2^30 is exactly +-1/2: gemmlowp's nudge rounds up for +1/2 and
  // toward zero for -1/2.
  EXPECT_EQ(hirfw_srdhm(1 << 15, 1 << 15), 1);
  EXPECT_EQ(hirfw_srdhm(-(1 << 15), 1 << 15), 0);
  EXPECT_EQ(hirfw_srdhm(-3 * (1 << 15), 1 << 15), -1);
}

TEST(Quant, RoundingDivideByPotTiesAwayFromZero) {
  EXPECT_EQ(hirfw_rounding_divide_by_pot(5, 1), 3);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(-5, 1), -3);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(-7, 2), -2);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(6, 2), 2);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(-6, 2), -2);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(INT32_MIN, 31), -1);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(INT32_MAX, 31), 1);
  EXPECT_EQ(hirfw_rounding_divide_by_pot(123, 0), 123);
}

TEST(Quant, MultiplyByQuantizedMultiplierMatchesReference) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  std::uniform_int_distribution<int32_t> mult(1 << 30, INT32_MAX);
  std::uniform_int_distribution<int> shift(HIRFW_SHIFT_MIN, HIRFW_SHIFT_MAX);
  for (int i = 0; i < 200000; ++i) {
    const int32_t x = i % 3 == 0 ? any(rng) : static_cast<int32_t>(any(rng) >> (i % 24));
    const int32_t m = i % 50 == 0 ? any(rng) : mult(rng);
    const int s = shift(rng);
    ASSERT_EQ(hirfw_multiply_by_quantized_multiplier(x, m, s), ref_mbqm(x, m, s))
        << "x=" << x << " m=" << m << " shift=" << s;
  }
}

TEST(Quant, MultiplyByQuantizedMultiplierExtremes) {
  for (int s : {HIRFW_SHIFT_MIN, -1, 0, 1, HIRFW_SHIFT_MAX})
    for (int32_t x : {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX})
      for (int32_t m : {0, 1 << 30, INT32_MAX, INT32_MIN})
        EXPECT_EQ(hirfw_multiply_by_quantized_multiplier(x, m, s), ref_mbqm(x, m, s))
            << x << " " << m << " " << s;
  // A multiplier of exactly 1/2 (2^30, shift 0) halves with ties away from zero via SRDHM's
  // rounding: 3 * 0.5 = 1.5 -> 2.
  EXPECT_EQ(hirfw_multiply_by_quantized_multiplier(3, 1 << 30, 0), 2);
}

}  // namespace
