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
