// The emulated device's clocks: how long bytes take on the serial line and how long an
// inference takes on the MCU. Pure functions; docs/mcu-emulator.md gives the figures' sources.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/time.h"

namespace hir::mcu_emu {

// UART 8N1: a start bit, 8 data bits and a stop bit, so 10 bit times per byte.
inline constexpr double kBitsPerByte = 10.0;
inline constexpr double kDefaultBaud = 921600.0;
// Cortex-M4 at 80 MHz running CMSIS-NN's s8 fully connected kernel at ~0.5 MAC per cycle
// (docs/mcu-emulator.md, "Compute rate").
inline constexpr double kDefaultMacsPerSecond = 40e6;

inline Duration byte_time(double baud) { return from_ms(1000.0 * kBitsPerByte / baud); }

inline Duration transfer_time(size_t bytes, double baud) {
  return from_ms(1000.0 * kBitsPerByte * static_cast<double>(bytes) / baud);
}

// Whole microseconds, rounded up: the figure the device reports in RESULT and STATUS.
inline uint32_t compute_us(uint32_t macs, double macs_per_second) {
  return static_cast<uint32_t>(std::ceil(1e6 * static_cast<double>(macs) / macs_per_second));
}

}  // namespace hir::mcu_emu
