// The engine's internals, shared by engine.cc (requests and attempts) and engine_fleet.cc (load
// reports and faults). Not part of the simulator's interface.
#pragma once

#include <deque>
#include <optional>
#include <queue>
#include <vector>

#include "routing/estimators.h"
#include "sim/engine.h"
#include "sim/faults.h"
#include "sim/oracle.h"
#include "sim/schedule.h"
#include "sim/trace.h"

namespace hir::sim::detail {

using routing::Outcome;
using routing::TargetIndex;

// A fixed epoch an hour after the clock's zero, so no estimator sees a time before its own
// default-constructed TimePoint{}.
inline const TimePoint kEpoch = TimePoint{} + std::chrono::hours(1);

enum class Ev : uint8_t { kArrival, kReach, kServiceDone, kReply, kTimeout, kHedge, kReport, kFault };

struct Event {
  int64_t t;     // ns since the epoch
  uint64_t seq;  // scheduling order: the tie-break that keeps runs deterministic
  uint64_t b;
  uint32_t a;
  Ev type;
  Outcome outcome;
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

struct Attempt {
  uint32_t slot;  // the request's slot in active_
  uint64_t req;   // its id
  TargetIndex target;
  routing::VariantIndex variant;
  uint32_t kind;
  TimePoint sent;
  Duration service{};
  TimePoint ends{};  // end of service, once started
  double rtt_ms = 0;
  bool resolved = false;  // answered, timed out or cancelled, as far as the router is concerned
  bool lost = false;      // the device died while holding it
  bool error = false;     // the service ends in a 5xx
  uint32_t span = 0;      // its service span in Engine::sched_, once started
};

struct Active {  // a request between arrival and its answer
  TraceRequest tr;
  routing::Plan plan;
  size_t next_step = 0;
  uint32_t outstanding = 0;
  TimePoint deadline;
  std::vector<uint32_t> attempts;
  bool live = false;
};

struct DeviceRt {
  uint32_t busy = 0;
  std::vector<uint32_t> serving;
  std::deque<uint32_t> queue;
  double busy_ms = 0;  // service started since the last report
  std::vector<routing::QuantileWindow> svc;  // per kind the device serves, measured service ms
};

class Engine : public DeviceProbe {
 public:
  Engine(const Scenario& s, const Fleet& f, SimPolicy& p, const RunOptions& o)
      : s_(s), f_(f), p_(p), o_(o), fs_(f), trace_(s, f, stream_seed(o.seed, kTraceStream), o.max_requests),
        rng_(stream_seed(o.seed, kPolicyStream)), dev_(f.devices.size()), sched_(f.devices.size()) {}

  RunResult run();
  std::optional<TimePoint> start_time(TargetIndex t, TimePoint reach) override;

 private:
  void schedule(TimePoint at, Ev type, uint32_t a, uint64_t b = 0, Outcome o = Outcome::kOk) {
    q_.push({(at - kEpoch).count(), seq_++, b, a, type, o});
  }
  Active& req(const Attempt& at) { return active_[at.slot]; }
  RequestRecord& rec(uint64_t id) { return res_.requests[id]; }

  void arrival();
  void dispatch(uint32_t slot, size_t step);
  void reach(uint32_t att);
  void start(uint32_t att);
  void service_done(uint32_t att);
  void reply(uint32_t att, Outcome o);
  void timeout(uint32_t att);
  void hedge(uint32_t slot, uint64_t id);
  void finish_attempt(uint32_t att, Outcome o);
  void complete(uint32_t slot, bool ok, int kind);
  void report(TargetIndex t);
  void fault(const FaultEvent& e);
  void drop_work(TargetIndex t);
  void advance_capacity();
  void judge_idle_cheaper();
  int64_t ns(TimePoint t) const { return (t - kEpoch).count(); }

  const Scenario& s_;
  const Fleet& f_;
  SimPolicy& p_;
  const RunOptions& o_;
  FaultState fs_;
  Trace trace_;
  Rng rng_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> q_;
  uint64_t seq_ = 0;
  TimePoint now_ = kEpoch;
  std::optional<TraceRequest> next_;
  bool trace_done_ = false;
  std::vector<Active> active_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  std::vector<Attempt> att_;
  std::vector<DeviceRt> dev_;
  Schedule sched_;  // every service span, for judge_idle_cheaper
  std::vector<FaultEvent> faults_;
  std::vector<TimePoint> free_at_;  // start_time's scratch
  routing::Plan scratch_;
  RunResult res_;
  double edge_slots_up_ = 0;  // concurrency of edge devices reachable for service, summed
  TimePoint cap_at_ = kEpoch;
};

}  // namespace hir::sim::detail
