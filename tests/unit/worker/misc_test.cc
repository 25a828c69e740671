#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "worker/emulated_speed.h"
#include "worker/fp32_wire.h"
#include "worker/rtt_emulator.h"
#include "fake_model.h"

namespace hir::worker {
namespace {

TEST(Fp32Wire, AlignedBuffersAreUsedInPlace) {
  const float values[] = {1.5f, -2.0f, 3.25f};
  std::string wire(sizeof values, '\0');
  std::memcpy(wire.data(), values, sizeof values);
  std::vector<float> scratch;
  const float* f = fp32_view(wire, scratch);
  EXPECT_EQ(static_cast<const void*>(f), static_cast<const void*>(wire.data()));
  EXPECT_TRUE(scratch.empty());
  EXPECT_EQ(f[2], 3.25f);
}

TEST(Fp32Wire, MisalignedBuffersAreCopied) {
  const float values[] = {1.5f, -2.0f};
  std::string buf(sizeof values + 1, '\0');
  std::memcpy(buf.data() + 1, values, sizeof values);
  std::vector<float> scratch;
  const float* f = fp32_view(std::string_view(buf).substr(1), scratch);
  EXPECT_EQ(f, scratch.data());
  EXPECT_EQ(f[0], 1.5f);
  EXPECT_EQ(f[1], -2.0f);
}

TEST(Fp32Wire, RoundTrip) {
  std::vector<float> v = {0.1f, 1e-30f, -7.0f};
  std::string w = fp32_to_wire(v);
  ASSERT_EQ(w.size(), 12u);
  EXPECT_EQ(w.substr(8), std::string("\x00\x00\xe0\xc0", 4));  // -7.0f little-endian
  std::vector<float> scratch;
  const float* f = fp32_view(w, scratch);
  EXPECT_EQ(std::vector<float>(f, f + 3), v);
}

TEST(RttEmulator, OffByDefault) {
  RttEmulator e(0, 0, 1);
  EXPECT_FALSE(e.enabled());
  EXPECT_EQ(e.next_delay(), Duration::zero());
}

TEST(RttEmulator, DelaysStayWithinJitterAndSpreadAcrossIt) {
  RttEmulator e(40, 10, 7);
  ASSERT_TRUE(e.enabled());
  double lo = 1e9, hi = 0, sum = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    const double ms = to_ms(e.next_delay());
    lo = std::min(lo, ms);
    hi = std::max(hi, ms);
    sum += ms;
  }
  EXPECT_GE(lo, 30.0);
  EXPECT_LE(hi, 50.0);
  EXPECT_LT(lo, 31.0);
  EXPECT_GT(hi, 49.0);
  EXPECT_NEAR(sum / n, 40.0, 0.5);
}

TEST(RttEmulator, NeverNegative) {
  RttEmulator e(1, 5, 3);
  for (int i = 0; i < 1000; ++i) EXPECT_GE(e.next_delay(), Duration::zero());
}

TEST(RttEmulator, SameSeedSameDelays) {
  RttEmulator a(20, 5, 42), b(20, 5, 42);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_delay(), b.next_delay());
}

// A slowed model answers what its inner model answers, and holds the thread for at least
// per_row × rows: a lower bound that sleep_until guarantees (behaviour, not a speed).
TEST(EmulatedService, SameAnswersAndAtLeastPerRowTimesRows) {
  Slot slot{"m", "m.onnx", 2, 3};
  auto plain = testing::fake_loader()(slot);
  auto slowed = with_emulated_service(testing::fake_loader(), std::chrono::milliseconds(15))(slot);
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(slowed.ok());
  const float in[] = {1, 2, 3, 4};
  const auto begin = std::chrono::steady_clock::now();
  auto a = (*slowed)->run(in, 2, 2);
  const auto took = std::chrono::steady_clock::now() - begin;
  auto b = (*plain)->run(in, 2, 2);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*slowed)->output_size(), 3);
  EXPECT_GE(took, std::chrono::milliseconds(30));
}

TEST(EmulatedService, LoadErrorsPassThrough) {
  Slot slot{"m", "fail.onnx", 2, 3};
  // With the emulation off (zero) or on, a model that cannot load is reported, not wrapped.
  EXPECT_FALSE(with_emulated_service(testing::fake_loader(), Duration::zero())(slot).ok());
  EXPECT_FALSE(with_emulated_service(testing::fake_loader(), std::chrono::milliseconds(1))(slot).ok());
}

}  // namespace
}  // namespace hir::worker
