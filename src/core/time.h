// Strong time types. Modules that must be testable take a Clock& instead of calling now().
#pragma once

#include <chrono>

namespace hir {

using Duration = std::chrono::nanoseconds;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override { return SteadyClock::now(); }
};

inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline Duration from_ms(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

}  // namespace hir
