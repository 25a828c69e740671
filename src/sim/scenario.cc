#include "sim/scenario.h"

#include <yaml-cpp/yaml.h>

#include "core/yaml_fields.h"

#include <cmath>
#include <fstream>
#include <numbers>
#include <set>
#include <sstream>

namespace hir::sim {
namespace {

using yamlf::check_keys;
using yamlf::fail;
using yamlf::get;

// A key without a default (fallback outside lo..hi) is required; one with a default is not.
std::string fmt_range(const char* key, double lo, double hi, bool missing) {
  std::ostringstream o;
  o << "'" << key << (missing ? "' is required and must be within " : "' must be within ") << lo << ".." << hi;
  return o.str();
}

double number(const YAML::Node& n, const char* key, const std::string& where, double fallback,
              double lo, double hi) {
  double v = get<double>(n, key, where, fallback);
  if (!(v >= lo && v <= hi)) fail(where, fmt_range(key, lo, hi, !n[key]));
  return v;
}

std::string num_text(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// A count: a whole number within lo..hi (2.5 devices is a mistake, not 2).
int64_t whole(const YAML::Node& n, const char* key, const std::string& where, double fallback, double lo,
              double hi) {
  const double v = number(n, key, where, fallback, lo, hi);
  if (v != std::floor(v)) fail(where, "'" + std::string(key) + "' must be a whole number");
  return static_cast<int64_t>(v);
}

// Names that faults, serves and the workload refer to must each mean one thing.
void check_unique(std::set<std::string>& seen, const std::string& name, const std::string& where,
                  const char* what) {
  if (!seen.insert(name).second) fail(where, std::string(what) + " '" + name + "' defined twice");
}

std::string required(const YAML::Node& n, const char* key, const std::string& where) {
  return yamlf::required_string(n, key, where);
}

LogNormal parse_dist(const YAML::Node& n, const std::string& where) {
  check_keys(n, {"median_ms", "p95_ms"}, where);
  double med = number(n, "median_ms", where, -1, 0, 3.6e6);
  double p95 = number(n, "p95_ms", where, med, med, 3.6e6);
  return LogNormal::from_median_p95(med, p95);
}

std::vector<ModelSpec> parse_models(const YAML::Node& n) {
  if (!n || !n.IsSequence() || n.size() == 0) fail("models", "must be a non-empty list");
  std::vector<ModelSpec> out;
  std::set<std::string> models;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string w = "models[" + std::to_string(i) + "]";
    check_keys(n[i], {"name", "variants"}, w);
    ModelSpec m{required(n[i], "name", w), {}};
    check_unique(models, m.name, w, "model");
    const auto& vs = n[i]["variants"];
    if (!vs || !vs.IsSequence() || vs.size() == 0) fail(w, "'variants' must be a non-empty list");
    std::set<std::string> variants;
    for (size_t j = 0; j < vs.size(); ++j) {
      std::string vw = w + ".variants[" + std::to_string(j) + "]";
      check_keys(vs[j], {"name", "accuracy", "accuracy_by_band", "size_bytes"}, vw);
      VariantSpec v;
      v.name = required(vs[j], "name", vw);
      check_unique(variants, v.name, vw, "variant");
      v.accuracy = number(vs[j], "accuracy", vw, -1, 0, 1);
      v.accuracy_by_band = get<std::vector<double>>(vs[j], "accuracy_by_band", vw, {});
      for (double a : v.accuracy_by_band)
        if (!(a >= 0 && a <= 1)) fail(vw, "'accuracy_by_band' values must be within 0..1");
      v.size_bytes = get<int64_t>(vs[j], "size_bytes", vw, 0);
      m.variants.push_back(std::move(v));
    }
    out.push_back(std::move(m));
  }
  return out;
}

GroupSpec parse_group(const YAML::Node& n, const std::string& w) {
  check_keys(n, {"group", "class", "count", "sites", "concurrency", "queue", "cost_per_request_usd",
                 "cost_per_second_usd", "rtt", "error_rate", "reports", "serves"}, w);
  GroupSpec g;
  g.name = required(n, "group", w);
  auto hw = routing::parse_hardware_class(required(n, "class", w));
  if (!hw) fail(w, "'class' must be one of mcu, edge-cpu, edge-gpu, cloud");
  g.hw = *hw;
  g.count = static_cast<int>(whole(n, "count", w, 1, 1, 1e6));
  g.sites = static_cast<int>(whole(n, "sites", w, 1, 1, g.count));
  g.concurrency = static_cast<uint32_t>(whole(n, "concurrency", w, 1, 1, 1e6));
  g.queue = static_cast<uint32_t>(whole(n, "queue", w, 0, 0, 1e7));
  g.cost_per_request = Money::from_usd(number(n, "cost_per_request_usd", w, 0, 0, 1e3));
  g.cost_per_second = Money::from_usd(number(n, "cost_per_second_usd", w, 0, 0, 1e3));
  if (!n["rtt"]) fail(w, "'rtt' is required");
  g.rtt = parse_dist(n["rtt"], w + ".rtt");
  g.error_rate = number(n, "error_rate", w, 0, 0, 1);
  g.reports = get<bool>(n, "reports", w, g.hw != routing::HardwareClass::kCloud);
  const auto& s = n["serves"];
  if (!s || !s.IsMap() || s.size() == 0)
    fail(w, "'serves' must map model/variant (or variant) to a service time");
  for (const auto& kv : s) {
    auto key = kv.first.as<std::string>();
    auto slash = key.find('/');
    ServeSpec sv;
    if (slash == std::string::npos) {
      sv.variant = key;
    } else {
      sv.model = key.substr(0, slash);
      sv.variant = key.substr(slash + 1);
    }
    sv.service = parse_dist(kv.second, w + ".serves." + key);
    g.serves.push_back(std::move(sv));
  }
  return g;
}

template <class T, class F>
Weighted<T> parse_weighted(const YAML::Node& n, const std::string& where, F&& parse_key) {
  if (!n || !n.IsMap() || n.size() == 0) fail(where, "must be a non-empty mapping of value: weight");
  Weighted<T> out;
  for (const auto& kv : n) {
    auto key = kv.first.as<std::string>();
    double w = 0;
    try {
      w = kv.second.as<double>();
    } catch (const YAML::Exception&) {
      fail(where, "the weight of '" + key + "' must be a number");
    }
    if (!(w >= 0 && w <= 1e12)) fail(where, "the weight of '" + key + "' must be within 0..1e12");
    out.emplace_back(parse_key(key, where + "." + key), w);
  }
  double total = 0;
  for (const auto& e : out) total += e.second;
  if (!(total > 0)) fail(where, "needs a weight above 0");
  return out;
}

double parse_double(const std::string& s, const std::string& where) {
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail(where, "'" + s + "' is not a number");
}

WorkloadSpec parse_workload(const YAML::Node& n) {
  const std::string w = "workload";
  if (!n) fail(w, "is required");
  check_keys(n, {"rate", "diurnal", "models", "budgets_ms", "priorities", "min_accuracy", "complexity"}, w);
  WorkloadSpec wl;
  if (n["diurnal"] && n["rate"]) fail(w, "give 'rate' or 'diurnal', not both ('diurnal' would replace 'rate')");
  if (n["diurnal"]) {
    const auto& d = n["diurnal"];
    check_keys(d, {"mean_rps", "amplitude", "period_s", "phase_s"}, w + ".diurnal");
    wl.diurnal = Diurnal{number(d, "mean_rps", w + ".diurnal", -1, 0, 1e8),
                         number(d, "amplitude", w + ".diurnal", 0, 0, 1),
                         number(d, "period_s", w + ".diurnal", 86400, 1e-3, 1e9),
                         number(d, "phase_s", w + ".diurnal", 0, -1e9, 1e9)};
  } else {
    const auto& r = n["rate"];
    if (!r || !r.IsSequence() || r.size() == 0) fail(w, "needs 'rate' (a list of {at_s, rps}) or 'diurnal'");
    for (size_t i = 0; i < r.size(); ++i) {
      std::string rw = w + ".rate[" + std::to_string(i) + "]";
      check_keys(r[i], {"at_s", "rps"}, rw);
      RatePoint p{number(r[i], "at_s", rw, 0, 0, 1e9), number(r[i], "rps", rw, -1, 0, 1e8)};
      if (!wl.rate.empty() && p.at_s <= wl.rate.back().at_s) fail(rw, "'at_s' must increase");
      wl.rate.push_back(p);
    }
  }
  wl.models = parse_weighted<std::string>(n["models"], w + ".models",
                                          [](const std::string& k, const std::string&) { return k; });
  wl.budgets_ms = parse_weighted<double>(n["budgets_ms"], w + ".budgets_ms", [](const std::string& k, const std::string& kw) {
    double v = parse_double(k, kw);
    if (!(v > 0 && v <= 3.6e6)) fail(kw, "a budget must be within (0, 3600000] ms");
    return v;
  });
  wl.priorities = parse_weighted<routing::Priority>(n["priorities"], w + ".priorities",
                                                    [](const std::string& k, const std::string& kw) {
    auto p = routing::parse_priority(k);
    if (!p) fail(kw, "not one of critical, standard, sheddable");
    return *p;
  });
  wl.min_accuracy = parse_weighted<std::optional<double>>(n["min_accuracy"], w + ".min_accuracy",
                                                          [](const std::string& k, const std::string& kw) {
    if (k == "none") return std::optional<double>();
    double v = parse_double(k, kw);
    if (!(v >= 0 && v <= 1)) fail(kw, "an accuracy must be within 0..1 (or 'none')");
    return std::optional<double>(v);
  });
  if (const auto& c = n["complexity"]) {
    check_keys(c, {"min", "max"}, w + ".complexity");
    wl.complexity_min = number(c, "min", w + ".complexity", 0, 0, 1);
    wl.complexity_max = number(c, "max", w + ".complexity", 1, wl.complexity_min, 1);
  }
  return wl;
}

std::vector<WindowFault> parse_windows(const YAML::Node& n, const std::string& w, const char* where_key,
                                       bool brownout) {
  std::vector<WindowFault> out;
  if (!n) return out;
  if (!n.IsSequence()) fail(w, "must be a list");
  for (size_t i = 0; i < n.size(); ++i) {
    std::string iw = w + "[" + std::to_string(i) + "]";
    if (brownout) check_keys(n[i], {where_key, "from_s", "to_s", "slowdown", "error_rate"}, iw);
    else check_keys(n[i], {where_key, "from_s", "to_s"}, iw);
    WindowFault f{required(n[i], where_key, iw), number(n[i], "from_s", iw, -1, 0, 1e9), 0, 1, 0};
    f.to_s = number(n[i], "to_s", iw, -1, f.from_s, 1e9);
    if (brownout) {
      f.slowdown = number(n[i], "slowdown", iw, 1, 1, 1e4);
      f.error_rate = number(n[i], "error_rate", iw, 0, 0, 1);
    }
    out.push_back(std::move(f));
  }
  return out;
}

FaultSpec parse_faults(const YAML::Node& n) {
  FaultSpec f;
  if (!n) return f;
  const std::string w = "faults";
  check_keys(n, {"churn", "partitions", "brownouts", "outages", "slow_devices"}, w);
  if (const auto& c = n["churn"]) {
    if (!c.IsSequence()) fail(w + ".churn", "must be a list");
    for (size_t i = 0; i < c.size(); ++i) {
      std::string cw = w + ".churn[" + std::to_string(i) + "]";
      check_keys(c[i], {"group", "mean_up_s", "mean_down_s"}, cw);
      f.churn.push_back({required(c[i], "group", cw), number(c[i], "mean_up_s", cw, -1, 1e-3, 1e9),
                         number(c[i], "mean_down_s", cw, -1, 1e-3, 1e9)});
    }
  }
  f.partitions = parse_windows(n["partitions"], w + ".partitions", "site", false);
  f.brownouts = parse_windows(n["brownouts"], w + ".brownouts", "group", true);
  f.outages = parse_windows(n["outages"], w + ".outages", "group", false);
  if (const auto& s = n["slow_devices"]) {
    if (!s.IsSequence()) fail(w + ".slow_devices", "must be a list");
    for (size_t i = 0; i < s.size(); ++i) {
      std::string sw = w + ".slow_devices[" + std::to_string(i) + "]";
      check_keys(s[i], {"group", "fraction", "slowdown"}, sw);
      f.slow.push_back({required(s[i], "group", sw), number(s[i], "fraction", sw, -1, 0, 1),
                        number(s[i], "slowdown", sw, -1, 1, 1e4)});
    }
  }
  return f;
}

RouterSpec parse_router(const YAML::Node& n) {
  RouterSpec r;
  if (!n) return r;
  const std::string w = "router";
  check_keys(n, {"default_budget_ms", "edge_preference", "cloud_spend_cap_usd_per_s", "max_fallbacks",
                 "hedge_when_p95_over", "report_interval_ms", "attempt_timeout_factor",
                 "sample_groups_over"}, w);
  r.default_budget_ms = number(n, "default_budget_ms", w, r.default_budget_ms, 1e-3, 3.6e6);
  r.edge_preference = number(n, "edge_preference", w, r.edge_preference, 0, 1);
  r.cloud_spend_cap_usd_per_s = number(n, "cloud_spend_cap_usd_per_s", w, 0, 0, 1e6);
  r.max_fallbacks = static_cast<size_t>(whole(n, "max_fallbacks", w, 2, 0, 16));
  r.hedge_when_p95_over = number(n, "hedge_when_p95_over", w, r.hedge_when_p95_over, 0, 10);
  r.report_interval_ms = number(n, "report_interval_ms", w, r.report_interval_ms, 1, 3.6e6);
  r.attempt_timeout_factor = number(n, "attempt_timeout_factor", w, r.attempt_timeout_factor, 0, 100);
  r.sample_groups_over = static_cast<size_t>(
      whole(n, "sample_groups_over", w, static_cast<double>(r.sample_groups_over), 0, 1e9));
  return r;
}

}  // namespace

double WorkloadSpec::rate_at(double t) const {
  if (diurnal) {
    const auto& d = *diurnal;
    return std::max(0.0, d.mean_rps * (1 + d.amplitude * std::sin(2 * std::numbers::pi * (t - d.phase_s) / d.period_s)));
  }
  double r = 0;
  for (const auto& p : rate)
    if (p.at_s <= t) r = p.rps;
  return r;
}

double WorkloadSpec::expected_requests(double duration_s) const {
  // The midpoint rule over 10,000 slices: exact for the step rates, within a part in a million of
  // a diurnal wave; a size check needs no more.
  constexpr int kSlices = 10000;
  double n = 0;
  for (int i = 0; i < kSlices; ++i) n += rate_at((i + 0.5) * duration_s / kSlices);
  return n * duration_s / kSlices;
}

Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& origin) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    check_keys(root, {"name", "description", "duration_s", "seed", "router", "models", "targets",
                      "workload", "faults"}, "scenario");
    Scenario s;
    s.name = get<std::string>(root, "name", "scenario", origin);
    s.description = get<std::string>(root, "description", "scenario", "");
    s.duration_s = number(root, "duration_s", "scenario", 60, 1e-3, 1e7);
    s.seed = get<uint64_t>(root, "seed", "scenario", 1);
    s.router = parse_router(root["router"]);
    s.models = parse_models(root["models"]);
    const auto& t = root["targets"];
    if (!t || !t.IsSequence() || t.size() == 0) fail("targets", "must be a non-empty list");
    std::set<std::string> groups;
    for (size_t i = 0; i < t.size(); ++i) {
      const std::string w = "targets[" + std::to_string(i) + "]";
      s.groups.push_back(parse_group(t[i], w));
      check_unique(groups, s.groups.back().name, w, "group");
    }
    s.workload = parse_workload(root["workload"]);
    if (!(s.workload.expected_requests(s.duration_s) >= 0.5))
      fail("workload", "sends no request within duration_s (" + num_text(s.duration_s) + " s): check 'rate' or 'diurnal'");
    s.faults = parse_faults(root["faults"]);
    // A window that opens after the end is never simulated: a typo in from_s, most likely.
    auto in_run = [&](const std::vector<WindowFault>& ws, const std::string& w) {
      for (size_t i = 0; i < ws.size(); ++i)
        if (ws[i].from_s >= s.duration_s)
          fail(w + "[" + std::to_string(i) + "]", "'from_s' (" + num_text(ws[i].from_s) +
                                                      ") is not before the end of the scenario (duration_s " +
                                                      num_text(s.duration_s) + ")");
    };
    in_run(s.faults.partitions, "faults.partitions");
    in_run(s.faults.brownouts, "faults.brownouts");
    in_run(s.faults.outages, "faults.outages");
    return s;
  } catch (const yamlf::FieldError& e) {
    return InvalidArgument(origin + ": " + e.message);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(origin + ": YAML error: " + e.what());
  }
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read scenario file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), path);
}

}  // namespace hir::sim
