#include "router/server_timing.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "net/wire.h"

namespace hir::router {
namespace {

constexpr double kMaxMs = 3.6e6;  // an hour: beyond any answer a router waits for

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using net::wire::iequals;

// The next piece of `s` up to `sep` (which is consumed); a quoted string may hold the separator.
// `quotes`: whether the header holds any quote at all; without, the separator is found by memchr
// instead of byte by byte (workers quote nothing).
std::string_view next_piece(std::string_view& s, char sep, bool quotes) {
  bool quoted = false;
  size_t i = 0;
  if (!quotes) {
    i = std::min(s.find(sep), s.size());
  } else {
    for (; i < s.size(); ++i) {
      if (s[i] == '"') quoted = !quoted;
      else if (s[i] == '\\' && quoted && i + 1 < s.size()) ++i;
      else if (s[i] == sep && !quoted) break;
    }
  }
  std::string_view piece = s.substr(0, i);
  s.remove_prefix(i < s.size() ? i + 1 : i);
  return piece;
}

// One metric's `dur`: nullopt when absent; false in *ok when present but unusable.
std::optional<double> metric_dur(std::string_view params, bool quotes, bool* ok) {
  std::optional<double> dur;
  while (!params.empty()) {
    std::string_view p = trim(next_piece(params, ';', quotes));
    auto eq = p.find('=');
    if (eq == std::string_view::npos || !iequals(trim(p.substr(0, eq)), "dur")) continue;
    if (dur) continue;  // the first dur wins, as the spec says for repeated parameters
    std::string_view v = trim(p.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    double d = 0;
    if (!read_number(v, d) || !std::isfinite(d) || d < 0 || d > kMaxMs) {
      *ok = false;
      return std::nullopt;
    }
    dur = d;
  }
  return dur;
}

}  // namespace

// Plain decimals ("0.125", "12": what workers send) are read without std::from_chars, whose
// floating-point path in this libstdc++ makes and frees a "C" locale on every call (three lock
// pairs each, and ~2k instructions per proxied request for the two durations). A significand
// of at most 15 digits is exact as a double, and so is 10^k for k <= 22; one division of the
// two is correctly rounded (Clinger's fast path), so the result is the double from_chars gives.
// Anything else (exponents, signs, more digits, "1." or ".5") goes to from_chars.
bool read_number(std::string_view v, double& out) {
  static constexpr std::array<double, 16> kPow10 = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  uint64_t m = 0;
  int digits = 0, frac = -1;  // frac: digits after the point, -1 before one
  bool plain = !v.empty();
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      m = m * 10 + static_cast<uint64_t>(c - '0');
      if (frac >= 0) ++frac;
      if (++digits > 15) plain = false;
    } else if (c == '.' && frac < 0 && digits > 0) {
      frac = 0;
    } else {
      plain = false;
    }
    if (!plain) break;
  }
  if (plain && frac != 0) {
    out = frac > 0 ? static_cast<double>(m) / kPow10[static_cast<size_t>(frac)] : static_cast<double>(m);
    return true;
  }
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size();
}

namespace {

// A duration as the grammar's parser would accept it: a whole plain number within range.
bool usable_ms(std::string_view v, double& d) {
  return read_number(v, d) && std::isfinite(d) && d >= 0 && d <= kMaxMs;
}

// The form hir-worker sends, exactly: "queue;dur=<ms>, infer;dur=<ms>". Read without the
// grammar's splitting and trimming (about a fifth of the instructions); anything else —
// another order, spacing, metric or parameter, an unusable number — is left to the grammar,
// which reads this form to the same values.
bool worker_form(std::string_view h, ServerTiming& out) {
  constexpr std::string_view kQueue = "queue;dur=", kInfer = ", infer;dur=";
  if (h.substr(0, kQueue.size()) != kQueue) return false;
  h.remove_prefix(kQueue.size());
  const size_t comma = h.find(',');
  if (comma == std::string_view::npos || h.substr(comma, kInfer.size()) != kInfer) return false;
  double queue = 0, infer = 0;
  if (!usable_ms(h.substr(0, comma), queue) || !usable_ms(h.substr(comma + kInfer.size()), infer))
    return false;
  out = ServerTiming{from_ms(queue), from_ms(infer)};
  return true;
}

}  // namespace

std::optional<ServerTiming> parse_server_timing(std::string_view header) {
  if (ServerTiming t; worker_form(header, t)) return t;
  return parse_server_timing_grammar(header);
}

std::optional<ServerTiming> parse_server_timing_grammar(std::string_view header) {
  std::optional<double> queue, infer;
  const bool quotes = header.find('"') != std::string_view::npos;
  while (!header.empty()) {
    std::string_view metric = trim(next_piece(header, ',', quotes));
    if (metric.empty()) continue;
    std::string_view params = metric;
    std::string_view name = trim(next_piece(params, ';', quotes));
    if (name.empty()) return std::nullopt;
    for (char c : name)
      if (c == ' ' || c == '"' || c == '=') return std::nullopt;  // not a token
    bool ok = true;
    std::optional<double> dur = metric_dur(params, quotes, &ok);
    if (!ok) return std::nullopt;
    if (iequals(name, "infer") && !infer) infer = dur;
    else if (iequals(name, "queue") && !queue) queue = dur;
  }
  if (!infer) return std::nullopt;
  return ServerTiming{from_ms(queue.value_or(0)), from_ms(*infer)};
}

}  // namespace hir::router
