#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace hir::telemetry {
namespace {

TEST(Metrics, RendersSmallRegistryExactly) {
  Registry r;
  r.counter("hir_requests_total", "Requests served.", {{"target", "edge-1"}, {"code", "200"}}).inc(3);
  r.counter("hir_requests_total", "ignored: first help wins", {{"target", "cloud"}, {"code", "200"}}).inc();
  r.gauge("hir_inflight", "In-flight requests.").set(2.5);
  Histogram& h = r.histogram("hir_latency_seconds", "Request latency.", {{"model", "kws"}}, {0.25, 1});
  h.observe(0.125);
  h.observe(0.25);  // a bound is inclusive (le)
  h.observe(0.5);
  h.observe(3);
  r.gauge_fn("hir_queue_depth", "Queued requests.", {}, [] { return 7.0; });

  const std::string expected =
      "# HELP hir_inflight In-flight requests.\n"
      "# TYPE hir_inflight gauge\n"
      "hir_inflight 2.5\n"
      "# HELP hir_latency_seconds Request latency.\n"
      "# TYPE hir_latency_seconds histogram\n"
      "hir_latency_seconds_bucket{model=\"kws\",le=\"0.25\"} 2\n"
      "hir_latency_seconds_bucket{model=\"kws\",le=\"1\"} 3\n"
      "hir_latency_seconds_bucket{model=\"kws\",le=\"+Inf\"} 4\n"
      "hir_latency_seconds_sum{model=\"kws\"} 3.875\n"
      "hir_latency_seconds_count{model=\"kws\"} 4\n"
      "# HELP hir_queue_depth Queued requests.\n"
      "# TYPE hir_queue_depth gauge\n"
      "hir_queue_depth 7\n"
      "# HELP hir_requests_total Requests served.\n"
      "# TYPE hir_requests_total counter\n"
      "hir_requests_total{code=\"200\",target=\"cloud\"} 1\n"
      "hir_requests_total{code=\"200\",target=\"edge-1\"} 3\n";
  EXPECT_EQ(r.render(), expected);
  EXPECT_TRUE(r.registration_errors().empty());
}

TEST(Metrics, RenderIsStableAcrossCalls) {
  Registry r;
  r.counter("b", "b").inc();
  r.counter("a", "a").inc();
  EXPECT_EQ(r.render(), r.render());
  EXPECT_LT(r.render().find("# HELP a "), r.render().find("# HELP b "));
}

TEST(Metrics, SameSeriesReturnsSameObjectWhateverLabelOrder) {
  Registry r;
  Counter& a = r.counter("c", "h", {{"x", "1"}, {"y", "2"}});
  Counter& b = r.counter("c", "h", {{"y", "2"}, {"x", "1"}});
  EXPECT_EQ(&a, &b);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  // Well-formed UTF-8 stays; a byte that begins no well-formed sequence becomes U+FFFD, so that
  // one odd name cannot make a scraper refuse the whole page.
  EXPECT_EQ(escape_label_value("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(escape_label_value("bad\xff\xfename"), "bad\xef\xbf\xbd\xef\xbf\xbdname");
  EXPECT_EQ(escape_label_value("cut\xc3"), "cut\xef\xbf\xbd");
  Registry r;
  r.gauge("g", "line1\nback\\slash \"quoted\"", {{"path", "C:\\tmp\n\"x\""}}).set(1);
  EXPECT_EQ(r.render(),
            "# HELP g line1\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\tmp\\n\\\"x\\\"\"} 1\n");
}

TEST(Metrics, FormatsSpecialValues) {
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(42), "42");
}

TEST(Metrics, HistogramBucketMaths) {
  Histogram h({1, 0.5, 1, std::numeric_limits<double>::infinity(), 2});  // unsorted, dup, +Inf
  EXPECT_EQ(h.bounds(), (std::vector<double>{0.5, 1, 2}));
  for (double v : {0.0, 0.5, 0.6, 1.0, 1.5, 2.0, 2.01, 100.0, -1.0}) h.observe(v);
  h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  // <=0.5: 0, 0.5, -1 | <=1: +0.6, 1 | <=2: +1.5, 2 | +Inf: +2.01, 100
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{3, 5, 7, 9}));
  EXPECT_EQ(h.count(), 9u);
  EXPECT_DOUBLE_EQ(h.sum(), 0 + 0.5 + 0.6 + 1 + 1.5 + 2 + 2.01 + 100 - 1);
}

TEST(Metrics, DefaultLatencyBuckets) {
  const auto& b = default_latency_buckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  Registry r;
  r.histogram("lat", "h").observe(0.003);
  const std::string text = r.render();
  EXPECT_NE(text.find("lat_bucket{le=\"0.0025\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{le=\"10\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
}

TEST(Metrics, CounterIgnoresNegativeAndNaN) {
  Counter c;
  c.inc(2);
  c.inc(-1);
  c.inc(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(c.value(), 2);
  Gauge g;
  g.set(5);
  g.add(-7);
  EXPECT_EQ(g.value(), -2);
}

TEST(Metrics, ConcurrentUpdatesAreExact) {
  Registry r;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      // Looking the series up from every thread also exercises registration under contention.
      Counter& c = r.counter("hits_total", "h");
      Gauge& g = r.gauge("level", "h");
      Histogram& h = r.histogram("lat", "h", {{"t", t % 2 ? "odd" : "even"}}, {1});
      for (int i = 0; i < kPerThread; ++i) {
        c.inc();
        g.add(1);
        h.observe(i % 2 ? 0.5 : 2);
        if (i % 10000 == 0) (void)r.render();  // scrapes race with updates
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(r.counter("hits_total", "h").value(), kThreads * kPerThread);
  EXPECT_EQ(r.gauge("level", "h").value(), kThreads * kPerThread);
  const Histogram& even = r.histogram("lat", "h", {{"t", "even"}}, {1});
  EXPECT_EQ(even.count(), uint64_t{kThreads / 2 * kPerThread});
  EXPECT_EQ(even.cumulative_counts()[0], uint64_t{kThreads / 2 * kPerThread / 2});
  EXPECT_DOUBLE_EQ(even.sum(), kThreads / 2 * (kPerThread / 2 * 0.5 + kPerThread / 2 * 2.0));
}

TEST(Metrics, GaugeFnReadAtRenderAndReplaceable) {
  Registry r;
  double depth = 1;
  r.gauge_fn("depth", "h", {{"q", "a"}}, [&depth] { return depth; });
  depth = 4;
  EXPECT_NE(r.render().find("depth{q=\"a\"} 4\n"), std::string::npos);
  r.gauge_fn("depth", "h", {{"q", "a"}}, [] { return 9.0; });
  EXPECT_NE(r.render().find("depth{q=\"a\"} 9\n"), std::string::npos);
  r.gauge_fn("depth", "h", {{"q", "b"}}, []() -> double { throw 1; });
  EXPECT_NE(r.render().find("depth{q=\"b\"} NaN\n"), std::string::npos);
  r.remove_gauge_fn("depth", {{"q", "a"}});
  r.remove_gauge_fn("depth", {{"q", "b"}});
  EXPECT_EQ(r.render(), "");  // a family with no series is not rendered
  EXPECT_TRUE(r.registration_errors().empty());
}

TEST(Metrics, MisuseIsRecordedNotFatal) {
  Registry r;
  r.counter("x", "h").inc();
  Gauge& clash = r.gauge("x", "h");  // same name, other type
  clash.set(3);                      // usable, but never rendered
  r.counter("bad name", "h").inc();
  r.counter("ok", "h", {{"__reserved", "v"}}).inc();
  r.counter("ok", "h", {{"a", "1"}, {"a", "2"}}).inc();
  r.histogram("h", "h", {{"le", "1"}}).observe(1);
  r.gauge("g", "h");
  r.gauge_fn("g", "h", {}, [] { return 1.0; });  // a plain gauge already lives there
  r.counter_fn("c_total", "h", {}, [] { return 2.0; });
  r.counter("c_total", "h").inc();  // a function already gives this one: usable, never rendered
  r.counter_fn("x", "h", {}, [] { return 5.0; });  // a plain counter already lives there
  r.histogram("lat", "h", {}, {1, 2});
  r.histogram("lat", "h", {{"k", "v"}}, {5}).observe(1.5);  // keeps the family's buckets
  EXPECT_EQ(r.registration_errors().size(), 9u);
  const std::string text = r.render();
  EXPECT_NE(text.find("x 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE c_total counter\nc_total 2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("bad name"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{k=\"v\",le=\"2\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace hir::telemetry
