// Money as an integer count of nano-dollars, so sums over millions of requests do not drift and
// no bare double stands for USD.
#pragma once

#include <algorithm>
#include <cmath>
#include <compare>
#include <cstdint>
#include <string>

namespace hir {

class Money {
 public:
  constexpr Money() = default;
  static constexpr Money from_nano(int64_t n) { return Money(n); }
  // Saturates at ±$9e9 (int64 nano-USD ends at 9.2e9), and NaN is 0: llround of a value out of
  // range is undefined, and inputs are checked where they come in, so this only keeps a slip
  // from turning a huge price into a negative one.
  static Money from_usd(double usd) {
    const double nano = usd == usd ? std::clamp(usd, -9e9, 9e9) * 1e9 : 0.0;
    return Money(static_cast<int64_t>(std::llround(nano)));
  }

  constexpr int64_t nano() const { return nano_; }
  double usd() const { return static_cast<double>(nano_) / 1e9; }

  constexpr Money operator+(Money o) const { return Money(nano_ + o.nano_); }
  constexpr Money& operator+=(Money o) { nano_ += o.nano_; return *this; }
  constexpr Money operator-(Money o) const { return Money(nano_ - o.nano_); }
  constexpr auto operator<=>(const Money&) const = default;

 private:
  constexpr explicit Money(int64_t n) : nano_(n) {}
  int64_t nano_ = 0;
};

}  // namespace hir
