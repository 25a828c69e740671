#include "telemetry/log.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iterator>
#include <mutex>

namespace hir::telemetry {

namespace {

struct SinkState {
  std::mutex mu;
  std::FILE* file = nullptr;  // nullptr: stderr, looked up at write time
  std::string service_json;   // `,"service":"..."` ready to splice in, or empty
};

// Never destroyed, so objects logging from their static destructors still find a sink.
SinkState& sink() {
  static auto* state = new SinkState;
  return *state;
}

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

// Length of the well-formed UTF-8 sequence at s[i], or 0 if it is not well formed (RFC 3629 §4:
// no overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned c = byte(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = c == 0xED ? 0x9F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

void append_timestamp(std::string& out) {
  using namespace std::chrono;
  const auto now = floor<milliseconds>(system_clock::now());
  const auto secs = floor<seconds>(now);
  const auto ms = (now - secs).count();
  const std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void append_value(std::string& out, const FieldValue& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) {
    append_json_string(out, *s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    fmt::format_to(std::back_inserter(out), "{}", *i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d)) {
      fmt::format_to(std::back_inserter(out), "{}", *d);  // shortest round-trip form
    } else {
      out += "null";  // JSON has no NaN or Infinity
    }
  } else {
    out += std::get<bool>(v) ? "true" : "false";
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD: keep the line valid JSON whatever bytes the caller had
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void init_logging(Level min_level, std::string_view service) { init_logging(min_level, service, nullptr); }

void init_logging(Level min_level, std::string_view service, std::FILE* file) {
  std::string service_json;
  if (!service.empty()) {
    service_json = ",\"service\":";
    append_json_string(service_json, service);
  }
  SinkState& s = sink();
  std::lock_guard lock(s.mu);
  s.file = file;
  s.service_json = std::move(service_json);
  g_min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
}

std::optional<Level> parse_level(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "unknown";
}

bool log_enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void log(Level level, std::string_view event, std::initializer_list<Field> fields) noexcept {
  if (!log_enabled(level)) return;
  try {
    // Formatting happens outside the lock; only the service splice and the write are serialised.
    thread_local std::string line;
    line.clear();
    line += "{\"ts\":\"";
    append_timestamp(line);
    line += "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"event\":";
    append_json_string(line, event);
    const size_t service_at = line.size();
    for (const Field& f : fields) {
      line += ',';
      append_json_string(line, f.key);
      line += ':';
      append_value(line, f.value);
    }
    line += "}\n";

    SinkState& s = sink();
    {
      std::lock_guard lock(s.mu);
      line.insert(service_at, s.service_json);
      std::FILE* out = s.file != nullptr ? s.file : stderr;
      std::fwrite(line.data(), 1, line.size(), out);
      std::fflush(out);  // a crash right after must not lose the line that explains it
    }
    // One huge line should not pin its buffer in every thread forever.
    if (line.capacity() > (64u << 10)) std::string().swap(line);
  } catch (...) {
    // Out of memory while formatting: dropping one line beats taking the process down.
  }
}

}  // namespace hir::telemetry
