#include "router/server_timing.h"

#include <charconv>
#include <cmath>

namespace hir::router {
namespace {

constexpr double kMaxMs = 3.6e6;  // an hour: beyond any answer a router waits for

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The next piece of `s` up to `sep` (which is consumed); a quoted string may hold the separator.
std::string_view next_piece(std::string_view& s, char sep) {
  bool quoted = false;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    else if (s[i] == '\\' && quoted && i + 1 < s.size()) ++i;
    else if (s[i] == sep && !quoted) break;
  }
  std::string_view piece = s.substr(0, i);
  s.remove_prefix(i < s.size() ? i + 1 : i);
  return piece;
}

// One metric's `dur`: nullopt when absent; false in *ok when present but unusable.
std::optional<double> metric_dur(std::string_view params, bool* ok) {
  std::optional<double> dur;
  while (!params.empty()) {
    std::string_view p = trim(next_piece(params, ';'));
    auto eq = p.find('=');
    if (eq == std::string_view::npos || !iequals(trim(p.substr(0, eq)), "dur")) continue;
    if (dur) continue;  // the first dur wins, as the spec says for repeated parameters
    std::string_view v = trim(p.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    double d = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(d) || d < 0 || d > kMaxMs) {
      *ok = false;
      return std::nullopt;
    }
    dur = d;
  }
  return dur;
}

}  // namespace

std::optional<ServerTiming> parse_server_timing(std::string_view header) {
  std::optional<double> queue, infer;
  while (!header.empty()) {
    std::string_view metric = trim(next_piece(header, ','));
    if (metric.empty()) continue;
    std::string_view params = metric;
    std::string_view name = trim(next_piece(params, ';'));
    if (name.empty()) return std::nullopt;
    for (char c : name)
      if (c == ' ' || c == '"' || c == '=') return std::nullopt;  // not a token
    bool ok = true;
    std::optional<double> dur = metric_dur(params, &ok);
    if (!ok) return std::nullopt;
    if (iequals(name, "infer") && !infer) infer = dur;
    else if (iequals(name, "queue") && !queue) queue = dur;
  }
  if (!infer) return std::nullopt;
  return ServerTiming{from_ms(queue.value_or(0)), from_ms(*infer)};
}

}  // namespace hir::router
