#include "sim/oracle.h"

#include <algorithm>
#include <array>

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

namespace {

struct Candidate {
  double latency_ms;
  double service_ms;
};

// The best (lowest-latency) device of kind k for r: without a probe, any reachable device of
// the group at nominal speed with no wait; with one, each reachable device's true wait.
std::optional<Candidate> best_device(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r,
                                     uint32_t k, TimePoint now, DeviceProbe* probe) {
  const auto& kind = f.kinds[k];
  const double rtt = realized_rtt_ms(s, r, kind.group);
  if (!probe) {
    if (!fs.group_available(kind.group)) return std::nullopt;
    double svc = realized_service_ms(f, fs, r, k, 1.0);
    return Candidate{rtt + svc, svc};
  }
  std::optional<Candidate> best;
  const TimePoint reach = now + from_ms(rtt / 2);
  for (routing::TargetIndex t : f.group_devices[kind.group]) {
    auto start = probe->start_time(t, reach);
    if (!start) continue;
    double svc = realized_service_ms(f, fs, r, k, f.devices[t].slowdown);
    double lat = to_ms(*start - now) + svc + rtt / 2;
    if (!best || lat < best->latency_ms) best = Candidate{lat, svc};
    // A free device at full speed is as good as the group gets: no need to look further.
    if (*start == reach && f.devices[t].slowdown <= 1.0) break;
  }
  return best;
}

}  // namespace

OracleChoice oracle_pick(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r,
                         TimePoint now, DeviceProbe* probe) {
  OracleChoice best;
  const double budget_ms = to_ms(r.budget);
  const auto& kinds = f.kinds_of_model[r.route.model];
  auto price_floor = [&](uint32_t k) {  // a kind's cost is at least its price per request
    return f.registry.target(f.group_devices[f.kinds[k].group].front()).cost_per_request;
  };
  // Kinds by that floor, so the search stops once the best found is cheaper than any kind left
  // could be: the pick is the same as looking at every kind (ties keep the list's order), and the
  // queue replay of the dearer groups is skipped.
  std::array<uint32_t, 64> order{};
  const size_t n = std::min(kinds.size(), order.size());
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  if (n == kinds.size())
    std::stable_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n),
                     [&](uint32_t a, uint32_t b) { return price_floor(kinds[a]) < price_floor(kinds[b]); });
  size_t best_pos = 0;
  for (size_t o = 0; o < kinds.size(); ++o) {
    const size_t pos = n == kinds.size() ? order[o] : o;
    const uint32_t k = kinds[pos];
    if (best.kind >= 0 && n == kinds.size() && best.cost < price_floor(k)) break;
    const auto& kind = f.kinds[k];
    if (r.route.min_accuracy && f.registry.accuracy_at(kind.variant, r.route.complexity) < *r.route.min_accuracy)
      continue;
    if (realized_error(s, fs, r, kind.group)) continue;
    auto c = best_device(s, f, fs, r, k, now, probe);
    if (!c || c->latency_ms > budget_ms) continue;
    const auto& info = f.registry.target(f.group_devices[kind.group].front());
    Money cost = routing::predict_cost(info, from_ms(c->service_ms));
    if (r.route.max_cost && cost > *r.route.max_cost) continue;
    const bool better = best.kind < 0 || cost < best.cost ||
                        (cost == best.cost && (c->latency_ms < best.latency_ms ||
                                               (c->latency_ms == best.latency_ms && pos < best_pos)));
    if (better) {
      best = {static_cast<int>(k), cost, c->latency_ms};
      best_pos = pos;
    }
  }
  return best;
}

bool cheaper_idle_option(const Scenario& s, const Fleet& f, const FaultState& fs, const TraceRequest& r, Money paid,
                         const Schedule& sched, const Unreachable& unreachable) {
  const double budget_ms = to_ms(r.budget);
  for (uint32_t k : f.kinds_of_model[r.route.model]) {
    const auto& kind = f.kinds[k];
    const auto& devices = f.group_devices[kind.group];
    const auto& info = f.registry.target(devices.front());
    if (!(info.cost_per_request < paid)) continue;  // its cost is at least its price per request
    if (r.route.min_accuracy && f.registry.accuracy_at(kind.variant, r.route.complexity) < *r.route.min_accuracy)
      continue;
    if (realized_error(s, fs, r, kind.group)) continue;
    const double rtt = realized_rtt_ms(s, r, kind.group);
    const Duration out = from_ms(rtt / 2);
    const int64_t reach = (r.arrival + out).count();
    const uint32_t concurrency = s.groups[kind.group].concurrency;
    for (routing::TargetIndex t : devices) {
      const double svc = realized_service_ms(f, fs, r, k, f.devices[t].slowdown);
      if (to_ms(out) + svc + rtt / 2 > budget_ms) continue;  // as oracle_pick's latency with no wait
      const Duration service = from_ms(svc);
      const Money cost = routing::predict_cost(info, service);
      if (!(cost < paid) || (r.route.max_cost && cost > *r.route.max_cost)) continue;
      const int64_t ends = reach + service.count();
      if (unreachable.reachable_throughout(t, reach, ends) && sched.idle_thread(t, reach, ends, concurrency, r.id))
        return true;
    }
  }
  return false;
}

}  // namespace hir::sim
