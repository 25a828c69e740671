#include "backends/mcu_address.h"

#include <arpa/inet.h>
#include <termios.h>

#include <charconv>

namespace hir::backends {

namespace {

Status bad(std::string_view url, const std::string& why) {
  return InvalidArgument("MCU address '" + std::string(url) + "': " + why);
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

Result<McuAddress> parse_serial(std::string_view url, std::string_view rest) {
  McuAddress a;
  a.kind = McuAddress::Kind::kSerial;
  a.url = std::string(url);
  const size_t q = rest.find('?');
  a.path = std::string(rest.substr(0, q));
  if (a.path.empty() || a.path[0] != '/')
    return bad(url, "the device path must be absolute, as in serial:///dev/ttyUSB0");
  if (q == std::string_view::npos) return a;
  std::string_view query = rest.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = kv.find('=');
    const std::string_view key = kv.substr(0, eq);
    const std::string_view val = eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
    if (key != "baud") return bad(url, "unknown option '" + std::string(key) + "' (only baud is known)");
    if (!parse_uint(val, a.baud) || termios_speed(a.baud) == 0)
      return bad(url, "baud '" + std::string(val) + "' is not a rate termios can set (e.g. 115200, 921600)");
  }
  return a;
}

Result<McuAddress> parse_tcp(std::string_view url, std::string_view rest) {
  McuAddress a;
  a.kind = McuAddress::Kind::kTcp;
  a.url = std::string(url);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad(url, "expected tcp://[ipv6]:port");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad(url, "expected tcp://host:port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (port.find_first_of("/?") != std::string_view::npos)
    return bad(url, "a TCP address takes no path or query");
  uint32_t p = 0;
  if (!parse_uint(port, p) || p == 0 || p > 65535) return bad(url, "port must be 1..65535");
  a.port = static_cast<uint16_t>(p);
  a.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  in_addr v4;
  in6_addr v6;
  if (::inet_pton(AF_INET, a.host.c_str(), &v4) != 1 && ::inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
    return bad(url, "host '" + std::string(host) +
                        "' must be a numeric address or localhost (name lookups would block)");
  return a;
}

}  // namespace

Result<McuAddress> parse_mcu_address(std::string_view url) {
  constexpr std::string_view kSerial = "serial://", kTcp = "tcp://";
  if (url.starts_with(kSerial)) return parse_serial(url, url.substr(kSerial.size()));
  if (url.starts_with(kTcp)) return parse_tcp(url, url.substr(kTcp.size()));
  return bad(url, "expected serial:///dev/PATH[?baud=N] or tcp://HOST:PORT");
}

unsigned termios_speed(uint32_t baud) {
  switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 500000: return B500000;
    case 576000: return B576000;
    case 921600: return B921600;
    case 1000000: return B1000000;
    case 1152000: return B1152000;
    case 1500000: return B1500000;
    case 2000000: return B2000000;
    case 3000000: return B3000000;
    case 4000000: return B4000000;
    default: return 0;
  }
}

}  // namespace hir::backends
