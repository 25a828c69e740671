// Where an MCU is: a serial port (a USB adapter, a UART, or the pseudo-terminal hir-mcu-emu
// opens) or a TCP serial bridge (ser2net, an ESP32 bridge, `hir-mcu-emu --tcp`).
//
//   serial:///dev/ttyUSB0                 921600 baud, 8N1, raw (the frame protocol's default)
//   serial:///dev/pts/7?baud=115200       any standard termios rate
//   tcp://127.0.0.1:5555                  numeric IPv4, [IPv6] or localhost; no name lookups,
//                                         since resolving would block the pool's I/O thread
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hir::backends {

inline constexpr uint32_t kDefaultMcuBaud = 921600;

struct McuAddress {
  enum class Kind : uint8_t { kSerial, kTcp };
  Kind kind = Kind::kSerial;
  std::string path;               // serial: absolute device path
  uint32_t baud = kDefaultMcuBaud;  // serial: bits per second
  std::string host;               // tcp: numeric address ("localhost" becomes 127.0.0.1)
  uint16_t port = 0;              // tcp
  std::string url;                // as given, for logs, /v1/targets and metrics
};

// Parses and validates an address. Errors (kInvalidArgument) name what is wrong: an unknown
// scheme, a relative path, an unknown query key, a baud rate termios cannot set, a host name
// that is not numeric, a port outside 1..65535.
Result<McuAddress> parse_mcu_address(std::string_view url);

// The termios speed constant for a rate (B921600 for 921600), or 0 if there is none.
unsigned termios_speed(uint32_t baud);

}  // namespace hir::backends
