#include "telemetry/log.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hir::telemetry {
namespace {

// A strict reader for the flat objects the logger writes: an object of string keys whose values are
// strings, numbers, true, false or null. Returns the pairs in order (strings decoded, others raw), or
// nothing if the text is not valid JSON of that shape.
class FlatJson {
 public:
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  static std::optional<Pairs> parse(std::string_view text) {
    FlatJson p{text};
    Pairs out;
    if (!p.eat('{')) return std::nullopt;
    if (p.eat('}')) return p.at_end() ? std::optional(out) : std::nullopt;
    do {
      std::string key, value;
      if (!p.string(key) || !p.eat(':') || !p.value(value)) return std::nullopt;
      out.emplace_back(std::move(key), std::move(value));
    } while (p.eat(','));
    if (!p.eat('}') || !p.at_end()) return std::nullopt;
    return out;
  }

 private:
  explicit FlatJson(std::string_view t) : t_(t) {}
  bool at_end() const { return i_ == t_.size(); }
  bool eat(char c) {
    if (i_ < t_.size() && t_[i_] == c) return ++i_, true;
    return false;
  }
  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (i_ < t_.size()) {
      const auto c = static_cast<unsigned char>(t_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;  // raw control characters are not allowed in JSON strings
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (i_ >= t_.size()) return false;
      const char e = t_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (i_ + 4 > t_.size()) return false;
          const unsigned cp = std::stoul(std::string(t_.substr(i_, 4)), nullptr, 16);
          i_ += 4;
          // The logger escapes control characters, and U+FFFD for bytes that are not UTF-8.
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp == 0xFFFD) {
            out += "\xEF\xBF\xBD";
          } else {
            return false;
          }
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool value(std::string& out) {
    if (i_ < t_.size() && t_[i_] == '"') return string(out);
    static const std::regex kScalar(R"(^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null))");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_search(t_.begin() + static_cast<long>(i_), t_.end(), m, kScalar)) return false;
    out = m.str();
    i_ += out.size();
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

// Captures log lines in a tmpfile for the duration of a test.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = std::tmpfile();
    ASSERT_NE(file_, nullptr);
    init_logging(Level::kDebug, "hir", file_);
  }
  void TearDown() override {
    init_logging(Level::kInfo, "");  // back to stderr before the file goes away
    if (file_ != nullptr) std::fclose(file_);
  }
  std::vector<std::string> lines() {
    flush_logging();  // lines are written by a background thread
    std::fflush(file_);
    std::rewind(file_);
    std::vector<std::string> out;
    std::string cur;
    for (int c; (c = std::fgetc(file_)) != EOF;) {
      if (c == '\n') {
        out.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += static_cast<char>(c);
      }
    }
    EXPECT_TRUE(cur.empty()) << "last line lacks its newline";
    return out;
  }
  std::FILE* file_ = nullptr;
};

TEST_F(LogTest, LineIsJsonWithKeysInOrder) {
  const std::string model = "kws";
  log_info("request_done", {{"request_id", "00f067aa0ba902b7"}, {"model", model}, {"status", 200},
                            {"bytes", 18446744073709551615ull}, {"latency_ms", 1.5}, {"cached", false},
                            {"nan", std::numeric_limits<double>::quiet_NaN()}, {"n", -3L}});
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  auto obj = FlatJson::parse(ls[0]);
  ASSERT_TRUE(obj) << ls[0];
  std::vector<std::string> keys;
  for (const auto& [k, v] : *obj) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "event", "service", "request_id", "model", "status",
                                            "bytes", "latency_ms", "cached", "nan", "n"}));
  const auto& o = *obj;
  EXPECT_TRUE(std::regex_match(o[0].second, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << o[0].second;
  EXPECT_EQ(o[1].second, "info");
  EXPECT_EQ(o[2].second, "request_done");
  EXPECT_EQ(o[3].second, "hir");
  EXPECT_EQ(o[4].second, "00f067aa0ba902b7");
  EXPECT_EQ(o[5].second, "kws");
  EXPECT_EQ(o[6].second, "200");
  EXPECT_EQ(o[7].second, "1.8446744073709552e+19");  // above INT64_MAX: a double, not a wrapped negative
  EXPECT_EQ(o[8].second, "1.5");
  EXPECT_EQ(o[9].second, "false");
  EXPECT_EQ(o[10].second, "null");
  EXPECT_EQ(o[11].second, "-3");
}

TEST_F(LogTest, EscapesStrings) {
  const std::string nasty = std::string("quote\" back\\ nl\n tab\t cr\r nul") + '\0' + " bell\x07 end";
  log_warn("odd \"event\"", {{"value", nasty}, {"k\"ey", "v"}});
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_NE(ls[0].find(R"(quote\" back\\ nl\n tab\t cr\r nul\u0000 bell\u0007 end)"), std::string::npos) << ls[0];
  auto obj = FlatJson::parse(ls[0]);
  ASSERT_TRUE(obj) << ls[0];
  EXPECT_EQ((*obj)[2].second, "odd \"event\"");
  EXPECT_EQ((*obj)[4].second, nasty);
  EXPECT_EQ((*obj)[5].first, "k\"ey");
}

TEST_F(LogTest, KeepsValidUtf8AndReplacesInvalid) {
  // Escaping itself is core/json_string's (tests/unit/core); here: a line stays parseable.
  log_info("utf8", {{"ok", "caf\xC3\xA9 \xF0\x9F\x98\x80"}, {"bad", "a\x80" "b\xC0\xAF" "d\xE2\x82"}});
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  auto obj = FlatJson::parse(ls[0]);
  ASSERT_TRUE(obj) << ls[0];
  EXPECT_EQ((*obj)[4].second, "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ((*obj)[5].second, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "d\xEF\xBF\xBD\xEF\xBF\xBD");
}

// A line is written into a buffer sized once from its pieces at their largest: an event and
// keys and values whose every byte takes six, the longest numbers there are. Each must come out
// whole, in a line that parses.
TEST_F(LogTest, ALineOfTheLargestPiecesComesOutWhole) {
  const std::string six(40, '\x01');  // \u0001 each
  const std::string bad(40, '\xFF');  // \ufffd each
  auto key = [](size_t n) { return std::string(n, '\x02'); };  // keys at their largest too
  log_error(bad, {{six, bad}, {bad, six}, {key(1), std::numeric_limits<int64_t>::min()},
                  {key(2), std::numeric_limits<uint64_t>::max()}, {key(3), -2.2250738585072014e-308},
                  {key(4), -1.7976931348623157e+308}, {key(5), false}});
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  auto obj = FlatJson::parse(ls[0]);
  ASSERT_TRUE(obj) << ls[0];
  const auto& o = *obj;
  ASSERT_EQ(o.size(), 11u) << ls[0];
  std::string replaced;
  for (int i = 0; i < 40; ++i) replaced += "\xEF\xBF\xBD";
  EXPECT_EQ(o[2].second, replaced);
  EXPECT_EQ(o[4].first, six);
  EXPECT_EQ(o[4].second, replaced);
  EXPECT_EQ(o[5].first, replaced);
  EXPECT_EQ(o[5].second, six);
  const std::vector<std::string> numbers = {"-9223372036854775808", "1.8446744073709552e+19",
                                            "-2.2250738585072014e-308", "-1.7976931348623157e+308", "false"};
  for (size_t i = 0; i < numbers.size(); ++i) {
    EXPECT_EQ(o[6 + i].first, key(i + 1));
    EXPECT_EQ(o[6 + i].second, numbers[i]);
  }
}

TEST_F(LogTest, FiltersBelowMinLevel) {
  init_logging(Level::kWarn, "hir-worker", file_);
  EXPECT_FALSE(log_enabled(Level::kInfo));
  log_debug("dropped");
  log_info("dropped");
  log_warn("kept");
  log_error("kept too");
  auto ls = lines();
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_NE(ls[0].find(R"("level":"warn","event":"kept","service":"hir-worker")"), std::string::npos);
  EXPECT_NE(ls[1].find(R"("level":"error")"), std::string::npos);
}

TEST_F(LogTest, EmptyServiceIsOmitted) {
  init_logging(Level::kInfo, "", file_);
  log_info("e");
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_EQ(ls[0].find("service"), std::string::npos);
  EXPECT_TRUE(ls[0].ends_with(R"("level":"info","event":"e"})")) << ls[0];
}

TEST_F(LogTest, ConcurrentLinesDoNotInterleave) {
  // 4 MB logged at once, faster than any sink: a queue that holds it all, so none is dropped.
  set_log_queue_limit(64u << 20);
  constexpr int kThreads = 8;
  constexpr int kLines = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      const std::string payload(200, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) log_info("tick", {{"thread", t}, {"i", i}, {"payload", payload}});
    });
  }
  for (auto& th : threads) th.join();
  auto ls = lines();
  ASSERT_EQ(ls.size(), size_t{kThreads * kLines});
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& l : ls) {
    auto obj = FlatJson::parse(l);
    ASSERT_TRUE(obj) << l;
    const std::string& thread = (*obj)[4].second;
    EXPECT_EQ((*obj)[6].second, std::string(200, static_cast<char>('a' + std::stoi(thread))));
    seen.emplace(thread, (*obj)[5].second);
  }
  EXPECT_EQ(seen.size(), size_t{kThreads * kLines});
  set_log_queue_limit(0);
}

TEST_F(LogTest, FlushWritesEverythingLoggedBefore) {
  for (int i = 0; i < 500; ++i) log_info("tick", {{"i", i}});
  auto ls = lines();
  ASSERT_EQ(ls.size(), 500u);
  EXPECT_NE(ls[499].find(R"("i":499)"), std::string::npos) << ls[499];
}

TEST_F(LogTest, ReinitWritesQueuedLinesToTheOldSink) {
  log_info("for_the_old_sink");
  std::FILE* other = std::tmpfile();
  ASSERT_NE(other, nullptr);
  init_logging(Level::kDebug, "hir", other);  // the queued line must land in file_, not in other
  log_info("for_the_new_sink");
  flush_logging();
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_NE(ls[0].find("for_the_old_sink"), std::string::npos);
  std::rewind(other);
  char buf[512] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, other), nullptr);
  EXPECT_NE(std::string(buf).find("for_the_new_sink"), std::string::npos);
  init_logging(Level::kDebug, "hir", file_);
  std::fclose(other);
}

// A sink that stops reading (a stalled pipe) must not block the logger: lines beyond the queue are
// dropped, counted, and reported once the sink drains.
TEST(LogQueue, DropsAndCountsWhenTheSinkStalls) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::FILE* w = ::fdopen(p[1], "w");
  ASSERT_NE(w, nullptr);
  set_log_queue_limit(16u << 10);
  init_logging(Level::kInfo, "hir", w);
  const uint64_t dropped_before = log_dropped();
  const std::string payload(1000, 'x');
  // Nobody reads the pipe yet: at most its buffer (64 KiB), stdio's buffer and the queue's 16 KiB
  // get through, out of about 1 MB.
  constexpr int kLines = 1000;
  for (int i = 0; i < kLines; ++i) log_info("big", {{"i", i}, {"payload", payload}});
  const uint64_t dropped = log_dropped() - dropped_before;
  EXPECT_GE(dropped, 800u);
  EXPECT_LT(dropped, uint64_t{kLines});

  std::string text;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  });
  flush_logging();
  init_logging(Level::kInfo, "");  // back to stderr: writes what is queued for the pipe first
  set_log_queue_limit(0);
  std::fclose(w);
  reader.join();
  ::close(p[0]);
  // The writer may report a run of drops in several lines (it reports at each round it writes).
  size_t lines = 0, reports = 0;
  uint64_t reported = 0;
  static const std::regex kReport(R"("event":"log_lines_dropped","service":"hir","count":(\d+))");
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    ++lines;
    std::smatch m;
    const std::string line = text.substr(at, nl - at);
    if (std::regex_search(line, m, kReport)) {
      ++reports;
      reported += std::stoull(m[1].str());
    }
  }
  EXPECT_GE(reports, 1u);
  EXPECT_EQ(reported, dropped);
  EXPECT_EQ(lines, kLines - dropped + reports);  // every line kept, plus the reports
}

// What the sink holds now, read beside the writer (no flush, which would wake it).
std::string sink_text(std::FILE* f) {
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::pread(::fileno(f), buf, sizeof buf, static_cast<off_t>(text.size()))) > 0;)
    text.append(buf, static_cast<size_t>(n));
  return text;
}

bool sink_gets(std::FILE* f, std::string_view needle) {
  for (int i = 0; i < 1000; ++i) {  // up to 10 s
    if (sink_text(f).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A dropped line is reported by itself, with nothing logged after it: a line too large for the
// queue may be the last one for a long time on a quiet router.
TEST(LogQueue, ADropIsReportedWithoutWaitingForAnotherLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  set_log_queue_limit(16u << 10);
  init_logging(Level::kInfo, "hir", f);
  log_info("before");
  ASSERT_TRUE(sink_gets(f, "\"event\":\"before\""));  // written: the writer sleeps again
  log_info("huge", {{"payload", std::string(64u << 10, 'x')}});  // more than the whole queue
  EXPECT_TRUE(sink_gets(f, "\"event\":\"log_lines_dropped\"")) << sink_text(f);
  EXPECT_EQ(sink_text(f).find("\"event\":\"huge\""), std::string::npos);
  init_logging(Level::kInfo, "");
  set_log_queue_limit(0);
  std::fclose(f);
}

// Returning from main or calling exit() writes what is still queued (an atexit handler). Run in a
// fresh process ("threadsafe" death tests re-execute the binary), so the writer thread is its own.
TEST(LogExit, ExitFlushesQueuedLines) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = ::testing::TempDir() + "hir_log_exit_flush.jsonl";
  std::remove(path.c_str());
  EXPECT_EXIT(
      {
        std::FILE* f = std::fopen(path.c_str(), "w");
        if (f == nullptr) std::_Exit(3);
        init_logging(Level::kInfo, "hir", f);
        for (int i = 0; i < 2000; ++i) log_info("before_exit", {{"i", i}});
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
  std::ifstream in(path);
  std::string line, last;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    last = line;
  }
  EXPECT_EQ(n, 2000);
  EXPECT_NE(last.find(R"("i":1999)"), std::string::npos) << last;
  std::remove(path.c_str());
}

TEST(LogLevel, Parses) {
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("INFO"), Level::kInfo);
  EXPECT_EQ(parse_level("warn"), Level::kWarn);
  EXPECT_EQ(parse_level("Warning"), Level::kWarn);
  EXPECT_EQ(parse_level("error"), Level::kError);
  EXPECT_EQ(parse_level(""), std::nullopt);
  EXPECT_EQ(parse_level("verbose"), std::nullopt);
  EXPECT_EQ(level_name(Level::kWarn), "warn");
}

}  // namespace
}  // namespace hir::telemetry
