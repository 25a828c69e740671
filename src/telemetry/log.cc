#include "telemetry/log.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iterator>
#include <mutex>

#include "core/json_string.h"

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
