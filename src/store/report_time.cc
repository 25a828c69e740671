// --since parsing and UTC formatting for the report, on C++20's civil calendar (no time zone
// database needed: the report speaks UTC, and offsets in a timestamp are applied by hand).
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "store/report.h"

namespace hir::store {
namespace {

using namespace std::chrono;

// Reads exactly `n` digits at s[pos]; advances pos.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

Result<int64_t> parse_timestamp(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("--since '" + std::string(s) +
                           "': expected a duration (30m, 1h, 7d) or a UTC time "
                           "(2026-11-26 or 2026-11-26T00:00:00Z)");
  };
  size_t p = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) ||
      p >= s.size() || s[p++] != '-' || !digits(s, p, 2, d)) {
    return bad();
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return bad();
  int64_t frac_ms = 0, offset_min = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return bad();
    ++p;
    if (!digits(s, p, 2, h) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mi)) return bad();
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!digits(s, p, 2, sec)) return bad();
      if (p < s.size() && s[p] == '.') {
        ++p;
        int64_t scale = 100;
        size_t start = p;
        while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
          frac_ms += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
        if (p == start) return bad();
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return bad();
    if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
      ++p;
    } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
      int sign = s[p++] == '-' ? -1 : 1, oh, om;
      if (!digits(s, p, 2, oh) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, om)) return bad();
      offset_min = sign * (oh * 60 + om);
    }
    if (p != s.size()) return bad();
  }
  auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} - minutes{offset_min};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count() + frac_ms;
}

Result<int64_t> parse_duration_ms(std::string_view s) {
  double total = 0;
  size_t p = 0;
  while (p < s.size()) {
    double v = 0;
    auto r = std::from_chars(s.data() + p, s.data() + s.size(), v);
    if (r.ec != std::errc() || v < 0) break;
    p = static_cast<size_t>(r.ptr - s.data());
    size_t u = p;
    while (p < s.size() && std::isalpha(static_cast<unsigned char>(s[p]))) ++p;
    std::string_view unit = s.substr(u, p - u);
    double scale = unit == "ms" ? 1 : unit == "s" ? 1e3 : unit == "m" ? 6e4 : unit == "h" ? 3.6e6
                 : unit == "d" ? 8.64e7 : unit == "w" ? 6.048e8 : 0;
    if (scale == 0) return InvalidArgument("unknown unit '" + std::string(unit) + "'");
    total += v * scale;
  }
  if (p != s.size() || s.empty()) return InvalidArgument("not a duration");
  // from_chars reads "inf" and "nan"; and a double beyond int64 is undefined as one. A century
  // is more than any ledger holds.
  constexpr double kCenturyMs = 100 * 366 * 8.64e7;
  if (!(total >= 0 && total <= kCenturyMs)) return InvalidArgument("out of range (at most 100 years)");
  return static_cast<int64_t>(total);
}

}  // namespace

Result<int64_t> parse_since(std::string_view s, int64_t now_ms) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return InvalidArgument("--since is empty");
  // A timestamp starts with a four-digit year and a dash; anything else is a duration.
  if (s.size() >= 5 && s[4] == '-') return parse_timestamp(s);
  auto d = parse_duration_ms(s);
  if (!d.ok()) {
    return InvalidArgument("--since '" + std::string(s) + "': " + d.status().message() +
                           "; use a duration such as 90s, 30m, 1h, 7d, 1h30m or a UTC time such "
                           "as 2026-11-26T00:00:00Z");
  }
  return now_ms - *d;
}

std::string format_utc(int64_t unix_ms) {
  sys_time<milliseconds> tp{milliseconds{unix_ms}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

}  // namespace hir::store
