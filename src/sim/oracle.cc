#include "sim/oracle.h"

#include "routing/cost.h"

namespace hir::sim {

double realized_service_ms(const Fleet& f, const FaultState& fs, const TraceRequest& r, uint32_t k,
                           double device_slowdown) {
  const auto& kind = f.kinds[k];
  return kind.service.at_ms(r.z_service[k], device_slowdown * fs.slowdown(kind.group));
}

double realized_rtt_ms(const Scenario& s, const TraceRequest& r, uint32_t group) {
  return s.groups[group].rtt.at_ms(r.z_rtt[group]);
}

bool realized_error(const Scenario& s, const FaultState& fs, const TraceRequest& r, uint32_t group) {
  return r.u_error[group] < s.groups[group].error_rate + fs.extra_error_rate(group);
}

OracleChoice oracle_pick(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r) {
  OracleChoice best;
  const double budget_ms = to_ms(r.budget);
  for (uint32_t k : f.kinds_of_model[r.route.model]) {
    const auto& kind = f.kinds[k];
    if (!fs.group_available(kind.group)) continue;
    if (r.route.min_accuracy && f.registry.accuracy_at(kind.variant, r.route.complexity) < *r.route.min_accuracy)
      continue;
    if (realized_error(s, fs, r, kind.group)) continue;
    double svc = realized_service_ms(f, fs, r, k, 1.0);
    double lat = realized_rtt_ms(s, r, kind.group) + svc;
    if (lat > budget_ms) continue;
    const auto& info = f.registry.target(f.group_devices[kind.group].front());
    Money cost = routing::predict_cost(info, from_ms(svc));
    if (r.route.max_cost && cost > *r.route.max_cost) continue;
    if (best.kind < 0 || cost < best.cost || (cost == best.cost && lat < best.latency_ms))
      best = {static_cast<int>(k), cost, lat};
  }
  return best;
}

}  // namespace hir::sim
