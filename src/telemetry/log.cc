#include "telemetry/log.h"

#include <fmt/compile.h>
#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <mutex>
#include <thread>

#include "core/json_string.h"
#include "core/text_writer.h"

namespace hir::telemetry {

namespace {

constexpr size_t kDefaultQueueBytes = 4u << 20;  // ~20k request lines: seconds of a stalled sink
// While lines keep coming, the writer collects them for this long before writing, so a busy
// service makes ~100 writes a second and the loggers never wake the writer themselves.
constexpr auto kBatchWindow = std::chrono::milliseconds(10);
// A batch buffer that grew past this in a burst is given back afterwards.
constexpr size_t kKeepBufferBytes = 256u << 10;

struct SinkState {
  std::mutex mu;  // guards everything below
  std::condition_variable wake;     // the writer waits on it for lines, a flush or stop
  std::condition_variable written;  // flush_logging() and init_logging() wait on it
  std::FILE* file = nullptr;        // nullptr: stderr, looked up at write time
  std::string service_json;         // `,"service":"..."` ready to splice in, or empty
  std::string pending;              // formatted lines waiting for the writer
  size_t limit = kDefaultQueueBytes;
  uint64_t enqueued = 0;            // lines appended to `pending`, ever
  uint64_t done = 0;                // lines written, ever
  uint64_t dropped_reported = 0;    // drops the writer has reported in a line
  bool writing = false;             // the writer holds a batch outside the lock
  bool asleep = false;              // the writer waits without a timeout: a new line wakes it
  bool flush_wanted = false;
  bool urgent = false;              // a warn or error line waits: write it without the window
  bool started = false;             // the writer thread was started (in this process)
  bool running = false;             // ... and is still there: false after exit or in a fork child
  bool stop = false;
  std::thread writer;
};

// Never destroyed, so objects logging from their static destructors still find a sink (they write
// synchronously once the exit handler has stopped the writer).
SinkState& sink() {
  static auto* state = new SinkState;
  return *state;
}

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<uint64_t> g_dropped{0};

// The "YYYY-MM-DDTHH:MM:SS" part changes once a second: each thread formats it only then.
// Writes kTimestamp bytes ("...T12:00:00.123Z").
constexpr size_t kTimestamp = 24;
void write_timestamp(TextWriter& w) {
  using namespace std::chrono;
  thread_local int64_t cached_sec = INT64_MIN;
  thread_local char cached[24];
  const auto now = floor<milliseconds>(system_clock::now());
  const auto secs = floor<seconds>(now);
  const auto ms = static_cast<int>((now - secs).count());
  if (secs.time_since_epoch().count() != cached_sec) {
    const std::time_t t = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    auto end = fmt::format_to_n(cached, 19, FMT_COMPILE("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}"),
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::fill(end.out, cached + 19, '0');  // a year past 9999 is cut, never longer
    cached_sec = secs.time_since_epoch().count();
  }
  w.put(std::string_view(cached, 19));
  const char frac[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10), 'Z'};
  w.put(std::string_view(frac, sizeof frac));
}

// The most write_value writes for v: a double in its shortest round-trip form takes at most
// 24 bytes ("-2.2250738585072014e-308").
size_t value_bound(const FieldValue& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) return json_string_bound(s->size());
  return 32;
}

void write_value(TextWriter& w, const FieldValue& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) {
    w.json_string(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    w.number(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d)) {
      w.cursor() = fmt::format_to(w.cursor(), FMT_COMPILE("{}"), *d);  // shortest round-trip form
    } else {
      w.put("null");  // JSON has no NaN or Infinity
    }
  } else {
    w.put(std::get<bool>(v) ? "true" : "false");
  }
}

// Formats one line into `line` (cleared first) without the service key; returns where it goes.
// The line is written in one go (core/text_writer.h): its bound is the frame, the event, and each
// field's key and value at their largest.
size_t format_line(std::string& line, Level level, std::string_view event, std::initializer_list<Field> fields) {
  line.clear();
  // {"ts":"<timestamp>","level":"<level>","event":<event>}\n, the level at most 5 bytes
  size_t bound = 40 + kTimestamp + json_string_bound(event.size());
  for (const Field& f : fields) bound += 2 + json_string_bound(f.key.size()) + value_bound(f.value);
  size_t service_at = 0;
  {
    TextWriter w(line, bound);
    w.put("{\"ts\":\"");
    write_timestamp(w);
    w.put("\",\"level\":\"");
    w.put(level_name(level));
    w.put("\",\"event\":");
    w.json_string(event);
    service_at = static_cast<size_t>(w.cursor() - line.data());
    for (const Field& f : fields) {
      w.put(',');
      w.json_string(f.key);
      w.put(':');
      write_value(w, f.value);
    }
    w.put("}\n");
  }
  return service_at;
}

void splice(std::string& out, const std::string& line, size_t service_at, const std::string& service_json) {
  out.append(line, 0, service_at);
  out += service_json;
  out.append(line, service_at, std::string::npos);
}

std::FILE* out_file(const SinkState& s) { return s.file != nullptr ? s.file : stderr; }

// A sink that fails (a pipe whose reader went away: the servers ignore SIGPIPE, so the write
// returns EPIPE) loses the lines, counted as dropped; the next batch tries again.
void write_now(std::FILE* out, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);  // a crash right after must not lose the lines that explain it
  if (std::ferror(out)) {
    g_dropped.fetch_add(static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')), std::memory_order_relaxed);
    std::clearerr(out);
  }
}

// With s.mu held: adds the "log_lines_dropped" line for drops not yet reported.
void append_drop_report(SinkState& s, std::string& out) {
  const uint64_t total = g_dropped.load(std::memory_order_relaxed);
  if (total == s.dropped_reported) return;
  std::string line;
  const size_t at = format_line(line, Level::kWarn, "log_lines_dropped",
                                {{"count", total - s.dropped_reported}, {"total", total}});
  splice(out, line, at, s.service_json);
  s.dropped_reported = total;
}

// A burst filling the queue faster than one window's worth: write now rather than drop later.
bool half_full(const SinkState& s) { return s.pending.size() > s.limit / 2; }

void writer_loop(SinkState& s) {
  std::string batch;
  std::unique_lock lk(s.mu);
  bool busy = false;  // lines came in the last round: collect for a window before writing again
  for (;;) {
    if (!s.stop && !s.flush_wanted) {
      if (busy) {
        s.wake.wait_for(lk, kBatchWindow, [&] { return s.stop || s.flush_wanted || s.urgent || half_full(s); });
      } else if (s.pending.empty()) {
        s.asleep = true;
        s.wake.wait(lk, [&] { return !s.pending.empty() || s.stop || s.flush_wanted || s.urgent; });
        s.asleep = false;
      }
    }
    s.flush_wanted = false;
    s.urgent = false;
    busy = !s.pending.empty();
    append_drop_report(s, s.pending);
    if (!s.pending.empty()) {
      batch.swap(s.pending);
      const uint64_t upto = s.enqueued;
      std::FILE* out = out_file(s);
      s.writing = true;
      lk.unlock();
      write_now(out, batch);
      batch.clear();
      if (batch.capacity() > kKeepBufferBytes) std::string().swap(batch);
      lk.lock();
      s.writing = false;
      s.done = upto;
    }
    s.written.notify_all();
    if (s.stop && s.pending.empty()) return;
  }
}

// At exit: write what is queued, stop the writer, and log synchronously from then on.
void stop_writer() {
  SinkState& s = sink();
  {
    std::lock_guard lk(s.mu);
    if (!s.running) return;
    s.stop = true;
  }
  s.wake.notify_all();
  s.writer.join();
  std::lock_guard lk(s.mu);
  s.running = false;
}

// fork() copies no threads: the child writes synchronously. The lock is held across fork so the
// child never inherits it locked by a thread that does not exist there.
void before_fork() { sink().mu.lock(); }
void after_fork_parent() { sink().mu.unlock(); }
void after_fork_child() {
  SinkState& s = sink();
  s.running = false;
  s.writing = false;
  s.pending.clear();  // the parent writes these; the child would repeat them
  s.mu.unlock();
}

// With s.mu held. False when the process is exiting or a fork child: the caller writes itself.
bool ensure_writer(SinkState& s) {
  if (s.started) return s.running;
  s.started = true;
  try {
    s.writer = std::thread([&s] { writer_loop(s); });
  } catch (...) {
    return false;  // no thread: log synchronously, as before
  }
  s.running = true;
  std::atexit(stop_writer);
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  return true;
}

// With the lock held: waits until the writer has written every line queued so far.
void drain_locked(SinkState& s, std::unique_lock<std::mutex>& lk) {
  if (!s.running) {
    if (!s.pending.empty()) write_now(out_file(s), s.pending);
    s.pending.clear();
    s.done = s.enqueued;
    return;
  }
  const uint64_t target = s.enqueued;
  s.flush_wanted = true;
  s.wake.notify_all();
  // Drops not yet reported count as queued: the report line is part of what a flush writes.
  s.written.wait(lk, [&] {
    return !s.running || (s.done >= target && !s.writing &&
                          s.dropped_reported == g_dropped.load(std::memory_order_relaxed));
  });
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
  std::unique_lock lock(s.mu);
  // Lines already queued were meant for the old sink (and its service name): write them first, so
  // the caller may close the old sink once this returns.
  if (s.file != file || s.service_json != service_json) drain_locked(s, lock);
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
    // Formatting happens outside the lock; only the append to the queue is serialised.
    thread_local std::string line;
    const size_t service_at = format_line(line, level, event, fields);
    SinkState& s = sink();
    bool wake_writer = false;
    {
      std::lock_guard lock(s.mu);
      if (!ensure_writer(s)) {
        std::string out;
        splice(out, line, service_at, s.service_json);
        write_now(out_file(s), out);
      } else if (s.pending.size() + line.size() + s.service_json.size() > s.limit) {
        g_dropped.fetch_add(1, std::memory_order_relaxed);  // the sink is behind: never wait for it
        // Its report is a warning: written at the writer's next round, as a warning line would
        // be, not whenever another line comes (a line too long for the queue may be the last).
        wake_writer = s.asleep || !s.urgent;
        s.urgent = true;
        s.asleep = false;
      } else {
        const bool was_half_full = half_full(s);
        splice(s.pending, line, service_at, s.service_json);
        ++s.enqueued;
        // A busy writer collects the line at its next round unasked; it is woken only from its
        // deep sleep, early when a burst crosses half the queue, or for a warning or error, which
        // operators (and a crash right after) must not wait for.
        const bool urgent = level >= Level::kWarn && !s.urgent;
        wake_writer = s.asleep || (!was_half_full && half_full(s)) || urgent;
        s.urgent = s.urgent || urgent;
        s.asleep = false;
      }
    }
    if (wake_writer) s.wake.notify_one();
    // One huge line should not pin its buffer in every thread forever.
    if (line.capacity() > (64u << 10)) std::string().swap(line);
  } catch (...) {
    // Out of memory while formatting: dropping one line beats taking the process down.
  }
}

void flush_logging() noexcept {
  SinkState& s = sink();
  std::unique_lock lock(s.mu);
  drain_locked(s, lock);
}

uint64_t log_dropped() noexcept { return g_dropped.load(std::memory_order_relaxed); }

void set_log_queue_limit(size_t bytes) noexcept {
  SinkState& s = sink();
  std::lock_guard lock(s.mu);
  s.limit = bytes == 0 ? kDefaultQueueBytes : bytes;
}

}  // namespace hir::telemetry
