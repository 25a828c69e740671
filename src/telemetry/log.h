// Structured logs as JSON lines: one object per line, keys in this order:
//   ts (RFC 3339 UTC with milliseconds), level, event, service (when init_logging set one), then the
//   caller's fields in the order given.
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","event":"request_done","service":"hir","request_id":"..."}
//
// Privacy: a line holds exactly the fields the caller passes and nothing else. Never pass tensor
// contents, request bodies or credentials; log shapes, sizes, ids and outcomes instead.
//
// Thread-safety: every function may be called from any thread. Each line is written with a single
// fwrite under a mutex, so lines from different threads never interleave. Logging never throws: a line
// that cannot be formatted (out of memory) is dropped.
//
// Strings are escaped per RFC 8259 (core/json_string.h); invalid UTF-8 is replaced by the escape \ufffd
// so every line parses. Doubles that JSON cannot hold (NaN, infinities) are written as null.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace hir::telemetry {

enum class Level { kDebug, kInfo, kWarn, kError };

using FieldValue = std::variant<std::string_view, int64_t, double, bool>;

// One key/value pair. Field views its key and string value without copying: build Fields inside the
// log call's argument list (temporaries live until the call returns), never store them.
struct Field {
  std::string_view key;
  FieldValue value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? std::string_view(v) : std::string_view()) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  // Any integer type. Unsigned values above INT64_MAX become (rounded) doubles rather than wrapping.
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Field(std::string_view k, T v) : key(k), value(to_value(v)) {}
  template <std::floating_point T>
  Field(std::string_view k, T v) : key(k), value(static_cast<double>(v)) {}

 private:
  template <std::integral T>
  static FieldValue to_value(T v) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (v > static_cast<T>(INT64_MAX)) return static_cast<double>(v);
    }
    return static_cast<int64_t>(v);
  }
};

// Sets the minimum level and the service name ("hir", "hir-worker"; empty omits the key). Lines go to
// stderr, or to `sink` in the second form. The caller owns `sink`: it must stay open until logging is
// re-initialised to another sink. Safe to call again at any time (e.g. to change the level).
void init_logging(Level min_level, std::string_view service);
void init_logging(Level min_level, std::string_view service, std::FILE* sink);

// "debug", "info", "warn" (or "warning"), "error", in any case.
std::optional<Level> parse_level(std::string_view s);
std::string_view level_name(Level level);

// True when a line at `level` would be written; lets callers skip building costly fields.
bool log_enabled(Level level);

void log(Level level, std::string_view event, std::initializer_list<Field> fields = {}) noexcept;

inline void log_debug(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kDebug, e, f); }
inline void log_info(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kInfo, e, f); }
inline void log_warn(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kWarn, e, f); }
inline void log_error(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kError, e, f); }

}  // namespace hir::telemetry
