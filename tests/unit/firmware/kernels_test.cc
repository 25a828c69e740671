// The fully connected kernels against a reference written here from the TFLite formulas with
// int64 arithmetic (reference_integer_ops::FullyConnected, per-channel), on random shapes,
// zero points, multipliers and shifts; and the optimized kernel bit-exact against the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "hirfw/kernels.h"

namespace {

void put_le32(std::vector<uint8_t>& v, size_t i, int32_t x) {
  const auto u = static_cast<uint32_t>(x);
  for (int b = 0; b < 4; ++b) v[4 * i + b] = static_cast<uint8_t>(u >> (8 * b));
}

// Independent statement of MultiplyByQuantizedMultiplier: saturate the left shift, then
// round(x*M / 2^31) half toward +inf, then divide by 2^right rounding half away from zero.
int64_t requant(int64_t acc, int64_t m, int shift) {
  int64_t v = shift > 0 ? acc * (int64_t{1} << shift) : acc;
  v = std::clamp<int64_t>(v, INT32_MIN, INT32_MAX);
  int64_t hi;
  if (v == INT32_MIN && m == INT32_MIN) {
    hi = INT32_MAX;
  } else {
    const int64_t num = v * m + (int64_t{1} << 30);
    hi = num >= 0 ? num >> 31 : -((-num + (int64_t{1} << 31) - 1) >> 31);  // floor
  }
  const int right = shift > 0 ? 0 : -shift;
  if (right == 0) return hi;
  const int64_t mag = ((hi < 0 ? -hi : hi) + (int64_t{1} << (right - 1))) >> right;
  return hi < 0 ? -mag : mag;
}

struct Case {
  int in_n, out_n, in_zp, out_zp, act_min, act_max;
  std::vector<int8_t> w, x;
  std::vector<int32_t> bias, mult, shift;
  std::vector<uint8_t> bias_b, mult_b, shift_b;
  hirfw_fc_params params() const {
    return {in_n, out_n, in_zp, out_zp, act_min, act_max, w.data(), bias_b.data(),
            mult_b.data(), shift_b.data()};
  }
};

Case random_case(std::mt19937& rng) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  c.in_n = uni(1, 300);
  c.out_n = uni(1, 40);
  c.in_zp = uni(-128, 127);
  c.out_zp = uni(-128, 127);
  const bool relu = uni(0, 1) == 1;
  c.act_min = relu ? std::max(-128, c.out_zp) : -128;
  c.act_max = 127;
  for (int i = 0; i < c.in_n * c.out_n; ++i) c.w.push_back(static_cast<int8_t>(uni(-128, 127)));
  for (int i = 0; i < c.in_n; ++i) c.x.push_back(static_cast<int8_t>(uni(-128, 127)));
  c.bias_b.resize(4 * c.out_n);
  c.mult_b.resize(4 * c.out_n);
  c.shift_b.resize(4 * c.out_n);
  for (int o = 0; o < c.out_n; ++o) {
    c.bias.push_back(uni(-(1 << 22), 1 << 22));
    c.mult.push_back(std::uniform_int_distribution<int32_t>(1 << 30, INT32_MAX)(rng));
    c.shift.push_back(uni(-24, 2));
    put_le32(c.bias_b, o, c.bias[o]);
    put_le32(c.mult_b, o, c.mult[o]);
    put_le32(c.shift_b, o, c.shift[o]);
  }
  return c;
}

std::vector<int8_t> reference(const Case& c) {
  std::vector<int8_t> out(c.out_n);
  for (int o = 0; o < c.out_n; ++o) {
    int64_t acc = c.bias[o];
    for (int i = 0; i < c.in_n; ++i)
      acc += (int64_t{c.x[i]} - c.in_zp) * int64_t{c.w[static_cast<size_t>(o) * c.in_n + i]};
    const int64_t v = requant(acc, c.mult[o], c.shift[o]) + c.out_zp;
    out[o] = static_cast<int8_t>(std::clamp<int64_t>(v, c.act_min, c.act_max));
  }
  return out;
}

TEST(FullyConnected, ReferenceKernelMatchesInt64Formula) {
  std::mt19937 rng(42);
  for (int t = 0; t < 500; ++t) {
    const Case c = random_case(rng);
    const auto p = c.params();
    std::vector<int8_t> out(c.out_n);
    hirfw_fc_ref(&p, c.x.data(), out.data());
    ASSERT_EQ(out, reference(c)) << "case " << t;
  }
}

TEST(FullyConnected, FastKernelBitExactWithReference) {
  std::mt19937 rng(43);
  for (int t = 0; t < 500; ++t) {
    const Case c = random_case(rng);
    const auto p = c.params();
    std::vector<int32_t> folded(c.out_n);
    hirfw_fc_fold_bias(&p, folded.data());
    std::vector<int8_t> fast(c.out_n), ref(c.out_n);
    hirfw_fc_fast(&p, folded.data(), c.x.data(), fast.data());
    hirfw_fc_ref(&p, c.x.data(), ref.data());
    ASSERT_EQ(fast, ref) << "case " << t;
  }
}

TEST(FullyConnected, FusedReluClampsAtOutputZeroPoint) {
  std::mt19937 rng(44);
  for (int t = 0; t < 100; ++t) {
    Case c = random_case(rng);
    c.act_min = std::max(-128, c.out_zp);
    const auto p = c.params();
    std::vector<int8_t> out(c.out_n);
    hirfw_fc_ref(&p, c.x.data(), out.data());
    for (int8_t v : out) EXPECT_GE(v, c.out_zp);  // real value >= 0
  }
}

TEST(Argmax, LowestIndexWinsTies) {
  const int8_t a[] = {-5, 7, 7, -128, 7};
  EXPECT_EQ(hirfw_argmax_s8(a, 5), 1);
  const int8_t b[] = {-128, -128};
  EXPECT_EQ(hirfw_argmax_s8(b, 2), 0);
  const int8_t c[] = {3};
  EXPECT_EQ(hirfw_argmax_s8(c, 1), 0);
}

TEST(Softmax, DequantizedProbabilitiesSumToOne) {
  const int8_t q[] = {10, -20, 35, 35, -128, 127};
  float p[6];
  hirfw_softmax_dequant(q, 6, 0.25f, 5, p);
  float sum = 0;
  for (float v : p) sum += v;
  EXPECT_NEAR(sum, 1.0f, 1e-5);
  EXPECT_GT(p[5], p[2]);
  EXPECT_FLOAT_EQ(p[2], p[3]);
  // Ratio of two probabilities is exp(scale * (q_i - q_j)).
  EXPECT_NEAR(p[0] / p[1], std::exp(0.25 * 30), 1e-2 * std::exp(0.25 * 30));
}

TEST(LoadLe32, SignedAndUnaligned) {
  const uint8_t b[] = {0xAA, 0xFF, 0xFF, 0xFF, 0x80, 0x01};
  EXPECT_EQ(hirfw_load_le32(b + 1), static_cast<int32_t>(0x80FFFFFF));
  EXPECT_EQ(hirfw_load_le32(b), -86);
}

}  // namespace
