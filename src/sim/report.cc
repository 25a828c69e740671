#include "sim/report.h"

#include <cmath>

#include <fmt/format.h>

#include "core/json_string.h"
#include "core/percentile.h"

namespace hir::sim {
namespace {

// Routing accuracy, per request whose oracle pick exists (requests where no kind could have
// met the constraints are left out of numerator and denominator alike): the request is routed
// right when it was answered OK within its budget by a variant meeting its accuracy need, and
// either the answering (hardware class, variant) is the oracle's, or the request cost no more
// than the oracle's pick would have. A shed or failed request is routed wrong.
bool routing_correct(const Fleet& f, const RequestRecord& q, int32_t oracle_kind, int64_t oracle_cost_nano) {
  if (q.fate != RequestRecord::Fate::kOk || !q.accuracy_met || q.latency_ms > q.budget_ms) return false;
  const auto& mine = f.kinds[static_cast<size_t>(q.final_kind)];
  const auto& best = f.kinds[static_cast<size_t>(oracle_kind)];
  auto hw = [&](const Kind& k) { return f.registry.target(f.group_devices[k.group].front()).hw; };
  if (hw(mine) == hw(best) && mine.variant == best.variant) return true;
  return q.cost_nano <= oracle_cost_nano;
}

// The capacity-consistent companion ("no idle cheaper slot"): answered OK within the budget by a
// variant meeting the accuracy need, and no kind cheaper than what the request paid had a device
// the run left idle for the whole time the request would have held it.
bool no_idle_cheaper(const RequestRecord& q) {
  return q.fate == RequestRecord::Fate::kOk && q.accuracy_met && q.latency_ms <= q.budget_ms && !q.cheaper_idle;
}

double share(uint64_t n, uint64_t d) { return d ? static_cast<double>(n) / static_cast<double>(d) : 0; }

}  // namespace

Figures compute_figures(const std::string& policy, const Fleet& f, const RunResult& r) {
  Figures x;
  x.policy = policy;
  x.requests = r.requests.size();
  std::vector<double> lat;
  lat.reserve(r.requests.size());
  for (const auto& q : r.requests) {
    if (q.fate == RequestRecord::Fate::kShed) {
      ++x.shed;
    } else {
      lat.push_back(q.latency_ms);
      // OK only within the budget: an answer after the client's deadline is a failure to it.
      bool ok = q.fate == RequestRecord::Fate::kOk && q.latency_ms <= q.budget_ms;
      ++(ok ? x.ok : x.failed);
      if (q.fate == RequestRecord::Fate::kOk) {
        const auto& k = f.kinds[static_cast<size_t>(q.final_kind)];
        ++x.answered_by_class[static_cast<size_t>(f.registry.target(f.group_devices[k.group].front()).hw)];
      }
    }
    x.fell_back += q.fell_back;
    x.hedged += q.hedged;
    if (q.oracle_kind >= 0) {
      ++x.oracle_feasible;
      x.routed_right += routing_correct(f, q, q.oracle_kind, q.oracle_cost_nano);
      x.no_idle_cheaper_right += no_idle_cheaper(q);
    }
    if (q.blind_oracle_kind >= 0) {
      ++x.blind_oracle_feasible;
      x.blind_routed_right += routing_correct(f, q, q.blind_oracle_kind, q.blind_oracle_cost_nano);
    }
  }
  x.p50_ms = percentile(lat, 0.50);
  x.p95_ms = percentile(lat, 0.95);
  x.p99_ms = percentile(lat, 0.99);
  x.success_rate = share(x.ok, x.requests);
  x.fallback_rate = share(x.fell_back, x.requests);
  x.edge_utilization = r.edge_capacity_s > 0 ? r.edge_busy_s / r.edge_capacity_s : 0;
  x.routing_accuracy = share(x.routed_right, x.oracle_feasible);
  x.blind_routing_accuracy = share(x.blind_routed_right, x.blind_oracle_feasible);
  x.no_idle_cheaper_accuracy = share(x.no_idle_cheaper_right, x.oracle_feasible);
  x.total_cost = r.total_cost;
  x.cost_per_inference_usd = x.ok ? r.total_cost.usd() / static_cast<double>(x.ok) : 0;
  x.window_s = r.window_s;
  x.events = r.events;
  x.attempts = r.attempts;
  return x;
}

std::string format_text(const Report& r) {
  std::string out = fmt::format("scenario {}  seed {}", r.scenario, r.seed);
  if (!r.runs.empty())
    out += fmt::format("  requests {}  window {:.1f} s\n\n", r.runs[0].requests, r.runs[0].window_s);
  out += fmt::format("{:<22}", "");
  for (const auto& x : r.runs) out += fmt::format("{:>16}", x.policy);
  out += "\n";
  auto row = [&](const char* name, auto&& cell) {
    out += fmt::format("{:<22}", name);
    for (const auto& x : r.runs) out += fmt::format("{:>16}", cell(x));
    out += "\n";
  };
  auto pct = [](double v) { return fmt::format("{:.2f}%", 100 * v); };
  row("routing accuracy", [&](const Figures& x) { return pct(x.routing_accuracy); });
  row("  queue-blind oracle", [&](const Figures& x) { return pct(x.blind_routing_accuracy); });
  row("  no idle cheaper slot", [&](const Figures& x) { return pct(x.no_idle_cheaper_accuracy); });
  row("latency p50 ms", [](const Figures& x) { return fmt::format("{:.1f}", x.p50_ms); });
  row("latency p95 ms", [](const Figures& x) { return fmt::format("{:.1f}", x.p95_ms); });
  row("latency p99 ms", [](const Figures& x) { return fmt::format("{:.1f}", x.p99_ms); });
  row("success rate", [&](const Figures& x) { return fmt::format("{:.3f}%", 100 * x.success_rate); });
  row("fallback rate", [&](const Figures& x) { return pct(x.fallback_rate); });
  row("edge utilization", [&](const Figures& x) { return pct(x.edge_utilization); });
  row("cost per inference $", [](const Figures& x) { return fmt::format("{:.3g}", x.cost_per_inference_usd); });
  // Not defined (n/a) when the cloud-only run spent nothing: a scenario without a cloud group.
  row("cost vs cloud-only", [&](const Figures& x) { return std::isfinite(x.cost_vs_cloud) ? pct(x.cost_vs_cloud) : "n/a"; });
  row("saving vs cloud-only", [&](const Figures& x) { return std::isfinite(x.cost_vs_cloud) ? pct(1 - x.cost_vs_cloud) : "n/a"; });
  row("total cost $", [](const Figures& x) { return fmt::format("{:.4f}", x.total_cost.usd()); });
  row("shed", [](const Figures& x) { return fmt::format("{}", x.shed); });
  row("failed", [](const Figures& x) { return fmt::format("{}", x.failed); });
  row("hedged", [](const Figures& x) { return fmt::format("{}", x.hedged); });
  for (size_t c = 0; c < 4; ++c)
    row(fmt::format("answered by {}", routing::hardware_class_name(static_cast<routing::HardwareClass>(c))).c_str(),
        [&](const Figures& x) { return pct(share(x.answered_by_class[c], x.requests)); });
  static constexpr const char* kOutcomes[] = {"attempts ok", "attempts 5xx", "attempts timed out",
                                               "attempts refused", "attempts overloaded"};
  for (size_t o = 0; o < 5; ++o) row(kOutcomes[o], [&](const Figures& x) { return fmt::format("{}", x.attempts[o]); });
  if (!r.runs.empty())
    out += fmt::format("\nrouting accuracy counts {} of {} requests (the rest: nothing could have met "
                       "their constraints)\n", r.runs[0].oracle_feasible, r.runs[0].requests);
  return out;
}

std::string format_json(const Report& r) {
  std::string out = "{\"scenario\":";
  append_json_string(out, r.scenario);
  out += fmt::format(",\"seed\":{},\"runs\":[", r.seed);
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const auto& x = r.runs[i];
    if (i) out += ",";
    out += "{\"policy\":";
    append_json_string(out, x.policy);
    out += fmt::format(
        ",\"requests\":{},\"ok\":{},\"failed\":{},\"shed\":{},\"fell_back\":{},\"hedged\":{},"
        "\"oracle_feasible\":{},\"routed_right\":{},\"routing_accuracy\":{},"
        "\"blind_oracle_feasible\":{},\"blind_routed_right\":{},\"blind_routing_accuracy\":{},"
        "\"no_idle_cheaper_right\":{},\"no_idle_cheaper_accuracy\":{},\"latency_ms\":{{\"p50\":{},"
        "\"p95\":{},\"p99\":{}}},\"success_rate\":{},\"fallback_rate\":{},\"edge_utilization\":{},"
        "\"total_cost_usd\":{},\"cost_per_inference_usd\":{},\"cost_vs_cloud\":{},\"answered_by_class\":{{",
        x.requests, x.ok, x.failed, x.shed, x.fell_back, x.hedged, x.oracle_feasible, x.routed_right,
        x.routing_accuracy, x.blind_oracle_feasible, x.blind_routed_right, x.blind_routing_accuracy,
        x.no_idle_cheaper_right, x.no_idle_cheaper_accuracy, x.p50_ms, x.p95_ms, x.p99_ms, x.success_rate, x.fallback_rate, x.edge_utilization,
        x.total_cost.usd(), x.cost_per_inference_usd,
        std::isfinite(x.cost_vs_cloud) ? fmt::format("{}", x.cost_vs_cloud) : std::string("null"));
    for (size_t c = 0; c < 4; ++c)
      out += fmt::format("{}\"{}\":{}", c ? "," : "", routing::hardware_class_name(static_cast<routing::HardwareClass>(c)),
                         x.answered_by_class[c]);
    out += "},\"attempts\":{";
    static constexpr const char* kKeys[] = {"ok", "error", "timeout", "refused", "overloaded"};
    for (size_t o = 0; o < 5; ++o) out += fmt::format("{}\"{}\":{}", o ? "," : "", kKeys[o], x.attempts[o]);
    out += fmt::format("}},\"window_s\":{},\"events\":{}}}", x.window_s, x.events);
  }
  out += "]}\n";
  return out;
}

}  // namespace hir::sim
