#include "routing/cost.h"

#include <cstdint>
#include <limits>

namespace hir::routing {
namespace {

__extension__ typedef __int128 i128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet

constexpr i128 kNanosPerSecond = 1'000'000'000;
constexpr i128 kMax = std::numeric_limits<int64_t>::max();
constexpr i128 kMin = std::numeric_limits<int64_t>::min();

Money saturate(i128 v) {
  if (v > kMax) v = kMax;
  if (v < kMin) v = kMin;
  return Money::from_nano(static_cast<int64_t>(v));
}

}  // namespace

Money cost_of_time(Money per_second, Duration d) {
  if (d <= Duration::zero()) return Money{};
  // The same arithmetic in 64 bits when the product fits (any realistic price and duration):
  // 128-bit division is a library call, and this runs for every prediction and oracle pick.
  constexpr int64_t kHalf = 500'000'000;
  int64_t prod = 0;
  if (!__builtin_mul_overflow(per_second.nano(), d.count(), &prod) &&
      prod < std::numeric_limits<int64_t>::max() - kHalf &&
      prod > std::numeric_limits<int64_t>::min() + kHalf)
    return Money::from_nano(prod >= 0 ? (prod + kHalf) / 1'000'000'000 : (prod - kHalf) / 1'000'000'000);
  const i128 num = static_cast<i128>(per_second.nano()) * static_cast<i128>(d.count());
  // Round half away from zero: C++ integer division truncates towards zero.
  const i128 half = kNanosPerSecond / 2;
  const i128 q = num >= 0 ? (num + half) / kNanosPerSecond : (num - half) / kNanosPerSecond;
  return saturate(q);
}

Money predict_cost(const TargetInfo& t, Duration service) {
  const i128 sum = static_cast<i128>(t.cost_per_request.nano()) +
                   static_cast<i128>(cost_of_time(t.cost_per_second, service).nano());
  return saturate(sum);
}

}  // namespace hir::routing
