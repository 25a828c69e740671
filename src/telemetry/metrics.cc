#include "telemetry/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/json_string.h"

namespace hir::telemetry {

namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus data model).
bool valid_metric_name(std::string_view n) {
  if (n.empty() || !(is_name_start(n[0]) || n[0] == ':')) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return is_name_start(c) || is_digit(c) || c == ':'; });
}

// Label names: [a-zA-Z_][a-zA-Z0-9_]*; names starting with "__" are reserved for Prometheus itself.
bool valid_label_name(std::string_view n) {
  if (n.empty() || !is_name_start(n[0]) || n.starts_with("__")) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return is_name_start(c) || is_digit(c); });
}

// A series' identity: its labels sorted by name (stable, so duplicates stay detectable).
Labels canonical(const Labels& labels) {
  Labels sorted = labels;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return sorted;
}

std::vector<double> normalize_bounds(std::vector<double> b) {
  std::erase_if(b, [](double x) { return std::isnan(x) || x == std::numeric_limits<double>::infinity(); });
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

// HELP text escapes only backslash and newline (quotes are literal there, unlike in label values).
std::string escape_help(std::string_view h) {
  std::string out;
  out.reserve(h.size());
  for (char c : h) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view type_name(int t) {
  static constexpr std::string_view kNames[] = {"counter", "gauge", "histogram"};
  return kNames[t];
}

// Appends `{k="v",...}` (with an optional extra `le` pair for buckets), or nothing for no labels.
void append_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const Labels& labels, std::string_view value, std::string_view le = {}) {
  out += name;
  out += suffix;
  append_labels(out, labels, le);
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

// ---- metrics ----

void Counter::inc(double v) {
  if (!(v >= 0)) return;  // also rejects NaN
  value_.fetch_add(v, std::memory_order_relaxed);
}

void Gauge::add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(normalize_bounds(std::move(bounds))),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // Prometheus buckets are inclusive upper bounds ("le"), so the first bound >= v.
  auto idx = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[idx].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += buckets_[i].load(std::memory_order_relaxed);
  return n;
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

const std::vector<double>& default_latency_buckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

// ---- text helpers ----

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  const auto* const end = p + v.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c >= 0x80) {
      // The exposition format is UTF-8, and a scrape with one ill-formed label value is refused
      // whole: such a byte becomes U+FFFD (a model directory's name may be any bytes).
      const size_t n = utf8_sequence_length(p, end);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++p;
      } else {
        out.append(reinterpret_cast<const char*>(p), n);
        p += n;
      }
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += static_cast<char>(c);
    }
    ++p;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // fmt's default is the shortest representation that round-trips, e.g. "0.1", "3", "1e-07".
  return fmt::format("{}", v);
}

// ---- registry ----

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::record_error(std::string message) { errors_.push_back(std::move(message)); }

Registry::Series* Registry::find_or_create(const std::string& name, const std::string& help, Type type,
                                           const Labels& labels, const std::vector<double>* bounds,
                                           bool* created) {
  *created = false;
  if (!valid_metric_name(name)) {
    record_error(fmt::format("invalid metric name '{}'", name));
    return nullptr;
  }
  Labels sorted = canonical(labels);
  for (size_t i = 0; i < sorted.size(); ++i) {
    const std::string& key = sorted[i].first;
    if (!valid_label_name(key) || (type == Type::kHistogram && key == "le")) {
      record_error(fmt::format("metric '{}': invalid label name '{}'", name, key));
      return nullptr;
    }
    if (i > 0 && sorted[i - 1].first == key) {
      record_error(fmt::format("metric '{}': duplicate label '{}'", name, key));
      return nullptr;
    }
  }

  auto [it, inserted] = families_.try_emplace(name);
  Family& family = it->second;
  if (inserted) {
    family.type = type;
    family.help = help;
    if (bounds != nullptr) family.bounds = normalize_bounds(*bounds);
  } else if (family.type != type) {
    record_error(fmt::format("metric '{}' registered as {} and as {}", name,
                             type_name(static_cast<int>(family.type)), type_name(static_cast<int>(type))));
    return nullptr;
  } else if (bounds != nullptr && normalize_bounds(*bounds) != family.bounds) {
    // Keep the data flowing into the family's buckets, but say so.
    record_error(fmt::format("histogram '{}' requested with different buckets", name));
  }

  auto [sit, fresh] = family.series.try_emplace(std::move(sorted));
  *created = fresh;
  Series& s = sit->second;
  if (fresh && type == Type::kHistogram) s.histogram = std::make_unique<Histogram>(family.bounds);
  return &s;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series* s = find_or_create(name, help, Type::kCounter, labels, nullptr, &created);
  if (s != nullptr && created) s->counter = std::make_unique<Counter>();
  if (s != nullptr && s->counter) return *s->counter;
  if (s != nullptr) record_error(fmt::format("counter '{}' is already a counter_fn series", name));
  return *orphan_counters_.emplace_back(std::make_unique<Counter>());
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series* s = find_or_create(name, help, Type::kGauge, labels, nullptr, &created);
  if (s != nullptr && created) s->gauge = std::make_unique<Gauge>();
  if (s != nullptr && s->gauge) return *s->gauge;
  if (s != nullptr) record_error(fmt::format("gauge '{}' is already a gauge_fn series", name));
  return *orphan_gauges_.emplace_back(std::make_unique<Gauge>());
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               const std::vector<double>& buckets) {
  std::lock_guard lock(mu_);
  bool created = false;
  Series* s = find_or_create(name, help, Type::kHistogram, labels, &buckets, &created);
  if (s != nullptr) return *s->histogram;
  return *orphan_histograms_.emplace_back(std::make_unique<Histogram>(buckets));
}

void Registry::gauge_fn(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> fn) {
  value_fn(name, help, Type::kGauge, labels, std::move(fn));
}

void Registry::counter_fn(const std::string& name, const std::string& help, const Labels& labels,
                          std::function<double()> fn) {
  value_fn(name, help, Type::kCounter, labels, std::move(fn));
}

void Registry::value_fn(const std::string& name, const std::string& help, Type type, const Labels& labels,
                        std::function<double()> fn) {
  std::lock_guard lock(mu_);
  const char* kind = type == Type::kCounter ? "counter" : "gauge";
  if (!fn) {
    record_error(fmt::format("{}_fn '{}' given an empty function", kind, name));
    return;
  }
  bool created = false;
  Series* s = find_or_create(name, help, type, labels, nullptr, &created);
  if (s == nullptr) return;
  if (s->gauge || s->counter) {
    // Someone holds a reference to this series; swapping it for a function would strand their updates.
    record_error(fmt::format("{} '{}' is already a plain {} series", kind, name, kind));
    return;
  }
  s->fn = std::move(fn);
}

void Registry::remove_gauge_fn(const std::string& name, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  auto sit = it->second.series.find(canonical(labels));
  if (sit != it->second.series.end() && sit->second.fn) it->second.series.erase(sit);
}

std::vector<std::string> Registry::registration_errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

void Registry::render_family(std::string& out, const std::string& name, const Family& family) {
  if (family.series.empty()) return;
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(family.help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(static_cast<int>(family.type));
  out += '\n';
  for (const auto& [labels, s] : family.series) {
    if (s.counter) {
      append_sample(out, name, "", labels, format_value(s.counter->value()));
    } else if (s.gauge) {
      append_sample(out, name, "", labels, format_value(s.gauge->value()));
    } else if (s.fn) {
      double v = std::numeric_limits<double>::quiet_NaN();
      try {
        v = s.fn();
      } catch (...) {
        // A failing probe must not take /metrics down; NaN tells the operator it failed.
      }
      append_sample(out, name, "", labels, format_value(v));
    } else if (s.histogram) {
      const Histogram& h = *s.histogram;
      // Read buckets once: _count is the +Inf bucket, so the two always agree in one scrape.
      std::vector<uint64_t> cum = h.cumulative_counts();
      for (size_t i = 0; i < h.bounds().size(); ++i) {
        append_sample(out, name, "_bucket", labels, std::to_string(cum[i]), format_value(h.bounds()[i]));
      }
      const std::string total = std::to_string(cum.back());
      append_sample(out, name, "_bucket", labels, total, "+Inf");
      append_sample(out, name, "_sum", labels, format_value(h.sum()));
      append_sample(out, name, "_count", labels, total);
    }
  }
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) render_family(out, name, family);
  return out;
}

}  // namespace hir::telemetry
