// Structured logs as JSON lines: one object per line, keys in this order:
//   ts (RFC 3339 UTC with milliseconds), level, event, service (when init_logging set one), then the
//   caller's fields in the order given.
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","event":"request_done","service":"hir","request_id":"..."}
//
// Privacy: a line holds exactly the fields the caller passes and nothing else. Never pass tensor
// contents, request bodies or credentials; log shapes, sizes, ids and outcomes instead.
//
// Thread-safety: every function may be called from any thread; lines from different threads never
// interleave. Logging never throws: a line that cannot be formatted (out of memory) is dropped.
//
// Non-blocking: a line is formatted on the calling thread (an I/O thread, usually) and appended to a
// bounded in-memory queue; a background writer thread writes the queue in batches, one fwrite and
// fflush per batch rather than a write system call per line (info and debug lines wait up to 10 ms to
// join a batch; warnings and errors wake the writer at once). When the sink cannot keep up and the
// queue is full (4 MiB by default), new lines are dropped rather than waited for: log_dropped()
// counts them, and the writer reports each run of drops in a "log_lines_dropped" warn line once it
// catches up. flush_logging() waits until every line logged before it is written; the process's exit
// path (exit(), return from main) flushes too, through an atexit handler. A crash or SIGKILL loses the
// lines still queued (at most about the last 10 ms at a steady rate). After fork() the child writes
// synchronously.
//
// Strings are escaped per RFC 8259 (core/json_string.h); invalid UTF-8 is replaced by the escape \ufffd
// so every line parses. Doubles that JSON cannot hold (NaN, infinities) are written as null.
#pragma once

#include <concepts>
#include <cstddef>
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
// re-initialised to another sink (which first writes what is queued for the old one, so the old sink
// may be closed once this returns). Safe to call again at any time (e.g. to change the level).
void init_logging(Level min_level, std::string_view service);
void init_logging(Level min_level, std::string_view service, std::FILE* sink);

// "debug", "info", "warn" (or "warning"), "error", in any case.
std::optional<Level> parse_level(std::string_view s);
std::string_view level_name(Level level);

// True when a line at `level` would be written; lets callers skip building costly fields.
bool log_enabled(Level level);

void log(Level level, std::string_view event, std::initializer_list<Field> fields = {}) noexcept;

// Blocks until every line logged before the call is written to the sink and fflush'd.
void flush_logging() noexcept;
// Lines dropped since the process started because the queue was full (a counter for /metrics).
uint64_t log_dropped() noexcept;
// Bytes the queue may hold before lines are dropped (default 4 MiB; 0 restores it). For tests and
// memory-tight deployments; a line longer than the limit is always dropped.
void set_log_queue_limit(size_t bytes) noexcept;

inline void log_debug(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kDebug, e, f); }
inline void log_info(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kInfo, e, f); }
inline void log_warn(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kWarn, e, f); }
inline void log_error(std::string_view e, std::initializer_list<Field> f = {}) { log(Level::kError, e, f); }

}  // namespace hir::telemetry
