// Metrics: counters, gauges and histograms in a Registry that renders the Prometheus text exposition
// format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Thread-safety: every method of Counter, Gauge, Histogram and Registry may be called from any thread.
// Updating a metric is lock-free (atomics); only registering a series and render() take the registry's
// mutex, so hot paths look a metric up once and keep the reference.
//
// Ownership: the Registry owns every metric it hands out. References stay valid for the registry's
// lifetime; the registry must outlive every user of those references.
//
// Misuse (an invalid metric or label name, one name registered as two types) is a programmer error, but
// the data plane must not crash on it: the call still returns a usable metric that is never rendered,
// and the problem is recorded in registration_errors() for tests and startup checks to assert on.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hir::telemetry {

// Label pairs (name, value). Order does not matter: a series is identified by its labels sorted by name,
// and it renders in that order.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing value (requests served, bytes sent).
class Counter {
 public:
  // Adds v. Negative and NaN increments are ignored: a counter that went down would read as a reset
  // to Prometheus' rate().
  void inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (in-flight requests, temperature).
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets by upper bound (a value lands in the first bucket with v <= bound;
// values above every bound land in the implicit +Inf bucket). NaN observations are ignored so that one
// bad measurement cannot turn _sum into NaN forever.
class Histogram {
 public:
  // Bounds are sorted and deduplicated; NaN and +Inf bounds are dropped (+Inf is always implicit).
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);
  // Sum over all buckets, so it always agrees with the rendered +Inf bucket.
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts, one per bound plus the +Inf bucket last (what `_bucket{le=...}` renders).
  std::vector<uint64_t> cumulative_counts() const;

 private:
  std::vector<double> bounds_;
  // Per-bucket (not cumulative) counts, bounds_.size() + 1 of them, so observe() touches one counter.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// Default latency buckets in seconds: 0.0005 .. 10, 1-2.5-5 per decade.
const std::vector<double>& default_latency_buckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the series (name, labels), creating it on first use. The help text of the first
  // registration of a name wins.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // Every series of a histogram family shares the first registration's buckets; asking for different
  // buckets later returns the existing series and records an error.
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       const std::vector<double>& buckets = default_latency_buckets());

  // A gauge whose value is read at render time (connections, queue depth). Registering the same
  // (name, labels) again replaces the function. fn runs under the registry's mutex: it must be cheap
  // and must not call back into this registry. Whatever fn captures must stay alive until the registry
  // is destroyed or remove_gauge_fn() is called.
  void gauge_fn(const std::string& name, const std::string& help, const Labels& labels,
                std::function<double()> fn);
  // The same for a counter kept elsewhere (fn must never go down).
  void counter_fn(const std::string& name, const std::string& help, const Labels& labels,
                  std::function<double()> fn);
  // Drops a gauge_fn or counter_fn series, for owners that die before the registry. Unknown series
  // are ignored.
  void remove_gauge_fn(const std::string& name, const Labels& labels);

  // Families sorted by name, series within a family sorted by labels: stable output for diffs and tests.
  std::string render() const;

  // Human-readable descriptions of every misuse seen so far (empty when all is well).
  std::vector<std::string> registration_errors() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> fn;  // set for gauge_fn and counter_fn series
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;  // histograms only, normalized
    std::map<Labels, Series> series;
  };

  // Finds or creates the family and series; returns nullptr (after recording why) on misuse. Counter
  // and gauge series are created empty (*created set) so that gauge() and gauge_fn() can decide what
  // the series holds; histogram series come with their Histogram.
  Series* find_or_create(const std::string& name, const std::string& help, Type type,
                         const Labels& labels, const std::vector<double>* bounds, bool* created);
  void value_fn(const std::string& name, const std::string& help, Type type, const Labels& labels,
                std::function<double()> fn);
  void record_error(std::string message);
  static void render_family(std::string& out, const std::string& name, const Family& family);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::string> errors_;
  // Metrics handed out on misuse: usable, owned here, never rendered.
  std::vector<std::unique_ptr<Counter>> orphan_counters_;
  std::vector<std::unique_ptr<Gauge>> orphan_gauges_;
  std::vector<std::unique_ptr<Histogram>> orphan_histograms_;
};

// Prometheus text-format helpers, exposed for tests and for other exporters.
// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
// Formats a sample value or bucket bound: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

}  // namespace hir::telemetry
