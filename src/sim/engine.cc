#include "sim/engine.h"
#include "sim/engine_internal.h"

#include <algorithm>
#include <cmath>

#include "routing/cost.h"
#include "sim/faults.h"
#include "sim/oracle.h"
#include "sim/trace.h"

namespace hir::sim {

uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  // splitmix64 of (seed, stream): streams far apart even for neighbouring seeds.
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + stream * 0xbf58476d1ce4e5b9ULL + 0x94d049bb133111ebULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace detail {

RunResult Engine::run() {
  // The fault horizon: the scenario's duration, or longer when --requests outlasts it.
  double horizon_s = s_.duration_s;
  if (o_.max_requests) {
    double per_run = 0;
    for (int i = 0; i < 1000; ++i) per_run += trace_.rate_at((i + 0.5) * s_.duration_s / 1000) * s_.duration_s / 1000;
    if (per_run > 0) horizon_s *= std::max(1.0, std::ceil(1.2 * static_cast<double>(o_.max_requests) / per_run));
  }
  faults_ = fault_timeline(s_, f_, stream_seed(o_.seed, kFaultStream), from_ms(horizon_s * 1e3));
  for (uint32_t i = 0; i < faults_.size(); ++i) schedule(kEpoch + faults_[i].at, Ev::kFault, i);
  for (TargetIndex t = 0; t < f_.devices.size(); ++t) {
    dev_[t].svc.assign(f_.devices[t].kinds.size(), routing::QuantileWindow(64));
    if (is_edge(f_.registry.target(t).hw)) edge_slots_up_ += f_.registry.target(t).concurrency;
  }
  // Load reports: every device on its own phase, so reports do not arrive in lockstep.
  Rng phase(stream_seed(o_.seed, kPhaseStream));
  const double interval_ms = s_.router.report_interval_ms;
  for (TargetIndex t = 0; t < f_.devices.size(); ++t)
    if (s_.groups[f_.devices[t].group].reports) schedule(kEpoch + from_ms(phase.uniform() * interval_ms), Ev::kReport, t);
  next_ = trace_.next();
  if (next_) schedule(kEpoch + next_->arrival, Ev::kArrival, 0);
  else trace_done_ = true;

  while (!q_.empty() && !(trace_done_ && live_ == 0)) {
    Event e = q_.top();
    q_.pop();
    now_ = kEpoch + Duration(e.t);
    ++res_.events;
    switch (e.type) {
      case Ev::kArrival: arrival(); break;
      case Ev::kReach: reach(e.a); break;
      case Ev::kServiceDone: service_done(e.a); break;
      case Ev::kReply: reply(e.a, e.outcome); break;
      case Ev::kTimeout: timeout(e.a); break;
      case Ev::kHedge: hedge(e.a, e.b); break;
      case Ev::kReport: report(e.a); break;
      case Ev::kFault: fault(faults_[e.a]); break;
    }
  }
  judge_idle_cheaper();
  if (o_.progress) o_.progress(1.0);
  return std::move(res_);
}

// The capacity-consistent figure's check, once the schedule is complete. The trace is generated
// again from its seed (the run keeps no request's draws) and the fault state replayed alongside,
// so each request is judged under the fault state the oracle saw at its arrival.
void Engine::judge_idle_cheaper() {
  const Unreachable unreachable(f_, faults_);
  // No kind costs less than the lowest price per request: a request that paid no more than that
  // needs no check, nor its draws (the costly part of generating the trace again).
  Money cheapest;
  for (size_t k = 0; k < f_.kinds.size(); ++k) {
    Money p = f_.registry.target(f_.group_devices[f_.kinds[k].group].front()).cost_per_request;
    if (k == 0 || p < cheapest) cheapest = p;
  }
  auto judged = [&](const RequestRecord& q) {
    return q.oracle_kind >= 0 && q.fate == RequestRecord::Fate::kOk && q.accuracy_met && q.latency_ms <= q.budget_ms &&
           cheapest < Money::from_nano(q.cost_nano);  // else routed wrong, or nothing cheaper, whatever was idle
  };
  FaultState fs(f_);
  Trace trace(s_, f_, stream_seed(o_.seed, kTraceStream), o_.max_requests);
  size_t next_fault = 0;
  for (uint64_t id; (id = trace.produced()) < res_.requests.size();) {
    const bool judge = judged(res_.requests[id]);
    auto r = trace.next(judge);
    if (!r) break;
    // Faults at the arrival's very nanosecond were applied before it (scheduled first).
    while (next_fault < faults_.size() && faults_[next_fault].at <= r->arrival) fs.apply(faults_[next_fault++]);
    if (judge)
      res_.requests[id].cheaper_idle =
          cheaper_idle_option(s_, f_, fs, *r, Money::from_nano(res_.requests[id].cost_nano), sched_, unreachable);
  }
}

std::optional<TimePoint> Engine::start_time(TargetIndex t, TimePoint reach) {
  const auto& d = f_.devices[t];
  if (!fs_.device_up(t) || fs_.outage(d.group) || fs_.site_partitioned(d.site)) return std::nullopt;
  const auto& rt = dev_[t];
  const auto& g = s_.groups[d.group];
  if (rt.busy < g.concurrency) return reach;
  // Every slot is busy: replay the FIFO with each waiting request's own service draw, counting
  // those still waiting when ours reaches the device (a full waiting room refuses it).
  free_at_.clear();
  for (uint32_t id : rt.serving) free_at_.push_back(att_[id].ends);
  std::make_heap(free_at_.begin(), free_at_.end(), std::greater<>());
  uint32_t waiting = 0;
  for (uint32_t id : rt.queue) {
    const auto& q = att_[id];
    if (q.resolved) continue;
    std::pop_heap(free_at_.begin(), free_at_.end(), std::greater<>());
    TimePoint begin = free_at_.back();
    free_at_.back() = begin + from_ms(realized_service_ms(f_, fs_, req(q).tr, q.kind, d.slowdown));
    std::push_heap(free_at_.begin(), free_at_.end(), std::greater<>());
    waiting += begin > reach;
  }
  TimePoint first_free = free_at_.front();
  if (first_free <= reach) return reach;
  if (waiting >= g.queue) return std::nullopt;
  return first_free;
}

void Engine::advance_capacity() {
  if (trace_done_) return;  // the window ends at the last arrival
  res_.edge_capacity_s += edge_slots_up_ * std::chrono::duration<double>(now_ - cap_at_).count();
  cap_at_ = now_;
}

void Engine::arrival() {
  TraceRequest tr = std::move(*next_);
  RequestRecord r;
  r.budget_ms = static_cast<float>(to_ms(tr.budget));
  // The oracles decide from ground truth at arrival, before the policy is asked.
  auto oc = oracle_pick(s_, f_, fs_, tr, now_, this);
  r.oracle_kind = oc.kind;
  r.oracle_cost_nano = oc.cost.nano();
  auto blind = oracle_pick(s_, f_, fs_, tr);
  r.blind_oracle_kind = blind.kind;
  r.blind_oracle_cost_nano = blind.cost.nano();
  res_.requests.push_back(r);
  Status st = p_.plan(tr.route, now_, rng_, scratch_);
  if (!st.ok() || scratch_.steps.empty()) {
    res_.requests.back().fate = st.code() == Code::kResourceExhausted ? RequestRecord::Fate::kShed
                                                                      : RequestRecord::Fate::kFailed;
  } else {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(active_.size());
      active_.emplace_back();
    }
    Active& a = active_[slot];
    a.tr = std::move(tr);
    std::swap(a.plan, scratch_);  // keeps both plans' storage for reuse
    a.next_step = 0;
    a.outstanding = 0;
    a.deadline = now_ + a.tr.budget;
    a.attempts.clear();
    a.live = true;
    ++live_;
    dispatch(slot, 0);
    if (a.plan.hedge_after && a.plan.steps.size() > 1) schedule(now_ + *a.plan.hedge_after, Ev::kHedge, slot, a.tr.id);
  }
  if (o_.progress && (res_.requests.size() & 0x3fff) == 0) {
    double done = o_.max_requests ? static_cast<double>(res_.requests.size()) / static_cast<double>(o_.max_requests)
                                  : std::chrono::duration<double>(now_ - kEpoch).count() / s_.duration_s;
    o_.progress(std::min(done, 1.0));
  }
  next_ = trace_.next();
  if (next_) {
    schedule(kEpoch + next_->arrival, Ev::kArrival, 0);
  } else {
    advance_capacity();
    trace_done_ = true;
    res_.window_s = std::chrono::duration<double>(now_ - kEpoch).count();
  }
}

void Engine::dispatch(uint32_t slot, size_t step) {
  Active& a = active_[slot];
  const auto& ps = a.plan.steps[step];
  a.next_step = step + 1;
  int kind = f_.kind_of(ps.target, ps.variant);
  auto id = static_cast<uint32_t>(att_.size());
  att_.push_back({slot, a.tr.id, ps.target, ps.variant, static_cast<uint32_t>(std::max(kind, 0)), now_});
  ++a.outstanding;
  a.attempts.push_back(id);
  p_.on_dispatch(ps.target, now_);
  if (kind < 0) {  // the policy chose something the target does not serve: a 404, at once
    schedule(now_, Ev::kReply, id, 0, Outcome::kError);
    return;
  }
  TimePoint tmo = a.deadline;
  const double factor = s_.router.attempt_timeout_factor;
  if (step + 1 < a.plan.steps.size() && factor > 0) {
    auto own = std::max<Duration>(std::chrono::milliseconds(1),
                                  std::chrono::duration_cast<Duration>(ps.predicted_p95 * factor));
    tmo = std::min(tmo, now_ + own);
  }
  schedule(tmo, Ev::kTimeout, id);
  auto& at = att_[id];
  at.rtt_ms = realized_rtt_ms(s_, a.tr, f_.devices[ps.target].group);
  schedule(now_ + from_ms(at.rtt_ms / 2), Ev::kReach, id);
}

void Engine::reach(uint32_t id) {
  auto& at = att_[id];
  if (at.resolved) return;  // the client gave up or cancelled before it got there
  const auto& d = f_.devices[at.target];
  if (fs_.site_partitioned(d.site)) return;  // black-holed: only the timeout answers
  if (!fs_.device_up(at.target) || fs_.outage(d.group)) {
    schedule(now_ + from_ms(at.rtt_ms / 2), Ev::kReply, id, 0, Outcome::kRefused);
    return;
  }
  auto& rt = dev_[at.target];
  const auto& g = s_.groups[d.group];
  if (rt.busy < g.concurrency) start(id);
  else if (rt.queue.size() < g.queue) rt.queue.push_back(id);
  else schedule(now_ + from_ms(at.rtt_ms / 2), Ev::kReply, id, 0, Outcome::kOverloaded);
}

void Engine::start(uint32_t id) {
  auto& at = att_[id];
  const auto& d = f_.devices[at.target];
  const auto& tr = req(at).tr;
  double svc = realized_service_ms(f_, fs_, tr, at.kind, d.slowdown);
  at.service = from_ms(svc);
  at.ends = now_ + at.service;
  at.error = realized_error(s_, fs_, tr, d.group);
  at.span = sched_.add(at.target, ns(now_), ns(at.ends), at.req);
  auto& rt = dev_[at.target];
  ++rt.busy;
  rt.serving.push_back(id);
  rt.busy_ms += svc;
  if (!trace_done_ && is_edge(f_.registry.target(at.target).hw)) res_.edge_busy_s += svc / 1e3;
  schedule(now_ + at.service, Ev::kServiceDone, id);
}

void Engine::service_done(uint32_t id) {
  auto& at = att_[id];
  if (at.lost) return;
  auto& rt = dev_[at.target];
  --rt.busy;
  rt.serving.erase(std::find(rt.serving.begin(), rt.serving.end(), id));
  Money cost = routing::predict_cost(f_.registry.target(at.target), at.service);
  rec(at.req).cost_nano += cost.nano();
  res_.total_cost += cost;
  p_.on_cost(at.target, cost, now_);
  const auto& d = f_.devices[at.target];
  for (size_t i = 0; i < d.kinds.size(); ++i)
    if (d.kinds[i] == at.kind) rt.svc[i].add(to_ms(at.service));
  if (!fs_.site_partitioned(d.site))
    schedule(now_ + from_ms(at.rtt_ms / 2), Ev::kReply, id, 0, at.error ? Outcome::kError : Outcome::kOk);
  while (!rt.queue.empty()) {
    uint32_t next = rt.queue.front();
    rt.queue.pop_front();
    if (att_[next].resolved) continue;  // its client is gone; the worker skips it
    start(next);
    break;
  }
}

void Engine::reply(uint32_t id, Outcome o) {
  auto& at = att_[id];
  if (at.resolved) return;  // it had timed out: the answer arrives to a closed connection
  at.resolved = true;
  std::optional<Duration> service;
  Duration queued{};
  if (o == Outcome::kOk && s_.groups[f_.devices[at.target].group].reports) {
    // A worker that reports its service time also knows how long the request waited for it.
    service = at.service;
    queued = std::max(Duration::zero(), (at.ends - at.service) - (at.sent + from_ms(at.rtt_ms / 2)));
  }
  ++res_.attempts[static_cast<size_t>(o)];
  p_.on_result(at.target, at.variant, o, now_ - at.sent, service, queued, now_);
  finish_attempt(id, o);
}

void Engine::timeout(uint32_t id) {
  auto& at = att_[id];
  if (at.resolved) return;
  at.resolved = true;
  ++res_.attempts[static_cast<size_t>(Outcome::kTimeout)];
  p_.on_result(at.target, at.variant, Outcome::kTimeout, now_ - at.sent, std::nullopt, Duration::zero(), now_);
  finish_attempt(id, Outcome::kTimeout);
}

void Engine::hedge(uint32_t slot, uint64_t id) {
  Active& a = active_[slot];
  if (!a.live || a.tr.id != id || a.next_step >= a.plan.steps.size() || now_ >= a.deadline) return;
  rec(id).hedged = true;
  dispatch(slot, a.next_step);
}

void Engine::finish_attempt(uint32_t id, Outcome o) {
  const auto& at = att_[id];
  Active& a = active_[at.slot];
  --a.outstanding;
  if (o == Outcome::kOk) {
    complete(at.slot, true, static_cast<int>(at.kind));
  } else if (a.outstanding == 0) {
    if (a.next_step < a.plan.steps.size() && now_ < a.deadline) {
      rec(a.tr.id).fell_back = true;
      dispatch(at.slot, a.next_step);
    } else {
      complete(at.slot, false, -1);
    }
  }
}

void Engine::complete(uint32_t slot, bool ok, int kind) {
  Active& a = active_[slot];
  auto& r = rec(a.tr.id);
  r.fate = ok ? RequestRecord::Fate::kOk : RequestRecord::Fate::kFailed;
  r.latency_ms = static_cast<float>(to_ms(now_ - (kEpoch + a.tr.arrival)));
  r.final_kind = kind;
  if (ok && a.tr.route.min_accuracy)
    r.accuracy_met = f_.registry.accuracy_at(f_.kinds[kind].variant, a.tr.route.complexity) >= *a.tr.route.min_accuracy;
  // The hedge's loser is cancelled; the breaker contract counts a cancelled attempt as a failure.
  for (uint32_t other : a.attempts) {
    auto& at = att_[other];
    if (at.resolved) continue;
    at.resolved = true;
    p_.on_result(at.target, at.variant, Outcome::kTimeout, now_ - at.sent, std::nullopt, Duration::zero(), now_);
  }
  a.live = false;
  a.tr.z_service.clear();
  free_.push_back(slot);
  --live_;
}

}  // namespace detail

RunResult run_policy(const Scenario& s, const Fleet& f, SimPolicy& policy, const RunOptions& opt) {
  detail::Engine e(s, f, policy, opt);
  return e.run();
}

}  // namespace hir::sim
