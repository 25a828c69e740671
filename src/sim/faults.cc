#include "sim/faults.h"

#include <algorithm>

#include "core/rng.h"
#include "sim/distribution.h"

namespace hir::sim {
namespace {

uint32_t group_index(const Scenario& s, const std::string& name) {
  for (size_t i = 0; i < s.groups.size(); ++i)
    if (s.groups[i].name == name) return static_cast<uint32_t>(i);
  return 0;  // build_fleet has already rejected unknown names
}

Duration secs(double s) { return from_ms(s * 1e3); }

}  // namespace

std::vector<FaultEvent> fault_timeline(const Scenario& s, const Fleet& f, uint64_t seed, Duration horizon) {
  using K = FaultEvent::Kind;
  std::vector<FaultEvent> ev;
  Rng rng(seed);
  // Churn: each device alternates exponential up and down spells (a two-state Markov process).
  // It starts up or down with the stationary probabilities, so the fleet is in steady state at 0.
  for (const auto& c : s.faults.churn) {
    uint32_t g = group_index(s, c.group);
    double p_down = c.mean_down_s / (c.mean_up_s + c.mean_down_s);
    for (auto t : f.group_devices[g]) {
      bool up = rng.uniform() >= p_down;
      double at = 0;
      if (!up) ev.push_back({Duration{0}, K::kDeviceDown, t});
      for (;;) {
        at += exponential(rng, up ? c.mean_up_s : c.mean_down_s);
        if (secs(at) >= horizon) break;
        up = !up;
        ev.push_back({secs(at), up ? K::kDeviceUp : K::kDeviceDown, t});
      }
    }
  }
  for (const auto& p : s.faults.partitions) {
    uint32_t site = static_cast<uint32_t>(std::find(f.site_names.begin(), f.site_names.end(), p.where) -
                                          f.site_names.begin());
    ev.push_back({secs(p.from_s), K::kPartitionStart, site});
    ev.push_back({secs(p.to_s), K::kPartitionEnd, site});
  }
  for (const auto& b : s.faults.brownouts) {
    uint32_t g = group_index(s, b.where);
    ev.push_back({secs(b.from_s), K::kBrownoutStart, g, b.slowdown, b.error_rate});
    ev.push_back({secs(b.to_s), K::kBrownoutEnd, g});
  }
  for (const auto& o : s.faults.outages) {
    uint32_t g = group_index(s, o.where);
    ev.push_back({secs(o.from_s), K::kOutageStart, g});
    ev.push_back({secs(o.to_s), K::kOutageEnd, g});
  }
  std::stable_sort(ev.begin(), ev.end(), [](const FaultEvent& a, const FaultEvent& b) { return a.at < b.at; });
  return ev;
}

FaultState::FaultState(const Fleet& f)
    : f_(f),
      up_(f.devices.size(), true),
      partitioned_(f.site_names.size(), 0),
      outage_(f.group_devices.size(), 0),
      reachable_count_(f.group_devices.size(), 0),
      slowdown_(f.group_devices.size(), 1.0),
      error_(f.group_devices.size(), 0.0) {
  for (size_t g = 0; g < f.group_devices.size(); ++g)
    reachable_count_[g] = static_cast<uint32_t>(f.group_devices[g].size());
}

bool FaultState::reachable(routing::TargetIndex t) const {
  const auto& d = f_.devices[t];
  return up_[t] && partitioned_[d.site] == 0 && outage_[d.group] == 0;
}

bool FaultState::group_available(uint32_t g) const { return outage_[g] == 0 && reachable_count_[g] > 0; }

void FaultState::recount(uint32_t g) {
  uint32_t n = 0;
  for (auto t : f_.group_devices[g]) n += (up_[t] && partitioned_[f_.devices[t].site] == 0) ? 1 : 0;
  reachable_count_[g] = n;
}

void FaultState::apply(const FaultEvent& e) {
  using K = FaultEvent::Kind;
  switch (e.kind) {
    case K::kDeviceDown:
    case K::kDeviceUp: {
      bool up = e.kind == K::kDeviceUp;
      if (up_[e.subject] == up) break;
      up_[e.subject] = up;
      // Incremental: a full recount per churn event would cost O(group) each at fleet scale.
      if (partitioned_[f_.devices[e.subject].site] == 0) {
        auto& n = reachable_count_[f_.devices[e.subject].group];
        n = up ? n + 1 : n - 1;
      }
      break;
    }
    case K::kPartitionStart: ++partitioned_[e.subject]; recount(f_.site_group[e.subject]); break;
    case K::kPartitionEnd: --partitioned_[e.subject]; recount(f_.site_group[e.subject]); break;
    case K::kBrownoutStart: slowdown_[e.subject] = e.slowdown; error_[e.subject] = e.error_rate; break;
    case K::kBrownoutEnd: slowdown_[e.subject] = 1; error_[e.subject] = 0; break;
    case K::kOutageStart: ++outage_[e.subject]; break;
    case K::kOutageEnd: --outage_[e.subject]; break;
  }
}

}  // namespace hir::sim
