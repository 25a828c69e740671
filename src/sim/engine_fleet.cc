#include "routing/cost.h"
#include "sim/engine_internal.h"

namespace hir::sim::detail {

using routing::Outcome;
using routing::TargetIndex;

void Engine::report(TargetIndex t) {
  const auto& d = f_.devices[t];
  const auto& g = s_.groups[d.group];
  auto& rt = dev_[t];
  const double interval_ms = s_.router.report_interval_ms;
  if (fs_.reachable(t)) {
    routing::LoadReport lr;
    lr.in_flight = rt.busy;
    lr.queue_depth = static_cast<uint32_t>(rt.queue.size());
    lr.queue_capacity = g.queue;
    lr.concurrency = g.concurrency;
    lr.busy_fraction = std::min(1.0, rt.busy_ms / (g.concurrency * interval_ms));
    for (size_t i = 0; i < d.kinds.size(); ++i)
      if (rt.svc[i].count() >= 4) lr.service_p95_ms.emplace_back(f_.kinds[d.kinds[i]].variant, rt.svc[i].quantile(0.95));
    p_.on_load_report(t, lr, true, now_);
  }
  rt.busy_ms = 0;
  schedule(now_ + from_ms(interval_ms), Ev::kReport, t);
}

// A device that dies takes its work with it: each request it held sees its connection reset.
void Engine::drop_work(TargetIndex t) {
  auto& rt = dev_[t];
  bool cut_off = fs_.site_partitioned(f_.devices[t].site);
  for (auto* list : {&rt.serving}) {
    for (uint32_t id : *list) {
      att_[id].lost = true;
      sched_.cut(t, att_[id].span, ns(now_));
      if (!att_[id].resolved && !cut_off)
        schedule(now_ + from_ms(att_[id].rtt_ms / 2), Ev::kReply, id, 0, Outcome::kError);
    }
  }
  for (uint32_t id : rt.queue)
    if (!att_[id].resolved && !cut_off) schedule(now_ + from_ms(att_[id].rtt_ms / 2), Ev::kReply, id, 0, Outcome::kError);
  rt.serving.clear();
  rt.queue.clear();
  rt.busy = 0;
}

void Engine::fault(const FaultEvent& e) {
  using K = FaultEvent::Kind;
  advance_capacity();
  auto slots = [&](TargetIndex t) {
    const auto& info = f_.registry.target(t);
    return is_edge(info.hw) ? static_cast<double>(info.concurrency) : 0.0;
  };
  switch (e.kind) {
    case K::kDeviceDown:
      if (fs_.device_up(e.subject) && !fs_.outage(f_.devices[e.subject].group)) edge_slots_up_ -= slots(e.subject);
      fs_.apply(e);
      drop_work(e.subject);
      break;
    case K::kDeviceUp:
      if (!fs_.device_up(e.subject) && !fs_.outage(f_.devices[e.subject].group)) edge_slots_up_ += slots(e.subject);
      fs_.apply(e);
      break;
    case K::kOutageStart:
      if (!fs_.outage(e.subject))
        for (auto t : f_.group_devices[e.subject]) {
          if (fs_.device_up(t)) edge_slots_up_ -= slots(t);
          drop_work(t);
        }
      fs_.apply(e);
      break;
    case K::kOutageEnd:
      fs_.apply(e);
      if (!fs_.outage(e.subject))
        for (auto t : f_.group_devices[e.subject])
          if (fs_.device_up(t)) edge_slots_up_ += slots(t);
      break;
    default: fs_.apply(e); break;
  }
}

}  // namespace hir::sim::detail
