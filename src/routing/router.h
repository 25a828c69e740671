// The routing facade that the live service and the simulator both call: it owns each target's
// live state (TargetState) and circuit breaker, the cloud spend meter, and the scratch space of
// the decision, and turns a request into a Plan (policy.h selects, plan.h chains and explains).
//
// Pure like the rest of src/routing: time and randomness come in as arguments. Not thread-safe:
// one owner serialises every call (the router's routing strand, or the simulator's loop).
// Allocation-light: plan_into() reuses the Router's scratch vectors and the caller's Plan, so a
// decision allocates nothing once warm unless RouteRequest::explain asks for the full reason.
// A decision passes once over the model's deployments, in groups of equal price cheapest first,
// and stops once nothing dearer can change the plan: predictions, cuts, P2C's members and the
// fallback candidates are all gathered in that pass (plan.h, FallbackCollector). Large groups of
// equivalent edge devices are sampled rather than scanned (PolicyConfig::sample_groups_over).
// Pruning alone returns the plan of a scan of every deployment
// (tests/unit/routing/router_prune_test.cc). explain uses the separate full scans of policy.h
// and plan.h over the same candidates, those left out marked kSkipped, which give the same plan
// (router_fast_path_test.cc; docs/PERFORMANCE.md has the figures). Admission's saturation is
// kept in sums per set of variants, updated as views are refreshed, so that it covers the
// targets a decision leaves out.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/money.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/time.h"
#include "routing/admission.h"
#include "routing/breaker.h"
#include "routing/plan.h"
#include "routing/policy.h"
#include "routing/predict.h"
#include "routing/registry.h"
#include "routing/target_state.h"

namespace hir::routing {

class Router {
 public:
  // reg outlives the router and gains no targets while it lives (the per-target tables are sized
  // here). cfg should have passed validate(); an invalid one still decides, just oddly.
  Router(const Registry& reg, PolicyConfig cfg, const TargetStateOptions& opt = {});

  // Errors: kResourceExhausted = shed (message = reason; retry_after via last_retry_after()),
  // also when every candidate left was a target reporting a full queue; kFailedPrecondition =
  // nothing can serve (no variant reaches min_accuracy, all targets down, or — non-critical —
  // nothing meets every constraint; the message names the constraint that cut the last ones);
  // kInvalidArgument for a bad model index or a complexity outside [0, 1].
  // A half-open target chosen as primary takes its breaker's probe slot here (not with explain):
  // the caller must then dispatch to it and report the result, or the slot is held for a window.
  Result<Plan> plan(const RouteRequest& r, TimePoint now, Rng& rng);
  // plan() into the caller's Plan, reusing its storage; out is cleared first. The hot-path form.
  Status plan_into(const RouteRequest& r, TimePoint now, Rng& rng, Plan& out);

  void on_dispatch(TargetIndex t, TimePoint now);  // one attempt (primary, fallback or hedge) sent
  // A result: feeds the target's state and its breaker. kOk is a success and kError, kTimeout,
  // kRefused failures; kOverloaded (429/503) is back-pressure from a live target, not a fault, so
  // it does not count towards ejection — ejecting busy targets removes capacity exactly when it
  // is short, the cascading-failure spiral of Google's SRE book, ch. 22 — except that it fails a
  // half-open probe (the probe has not shown the target can serve).
  // judged false: the breaker has had this result from another request of the same upstream
  // call (requests merged into one): it counts calls, so a failed call that carried twenty
  // requests is one failure, not an ejection by itself. The target's state learns it all the same.
  void on_result(TargetIndex t, VariantIndex v, Outcome o, Duration latency, TimePoint now, bool judged = true);
  // As above, with the target's own service time and queue wait when it reports them
  // (TargetState then learns the RTT too).
  void on_result(TargetIndex t, VariantIndex v, Outcome o, Duration latency, Duration service,
                 TimePoint now, Duration queued = Duration::zero(), bool judged = true);
  // The breaker's part alone: an upstream call's own outcome, when each request it carried was
  // reported with judged false. A merged call that ran out of time is judged by its own start
  // and limit, which are no one request's.
  void on_call_result(TargetIndex t, Outcome o, TimePoint now);
  // A load report; ready: the worker says it can serve (its /v2/health/ready).
  void on_load_report(TargetIndex t, const LoadReport& r, bool ready, TimePoint now);
  void on_rtt_sample(TargetIndex t, Duration rtt, TimePoint now);
  // Cloud spend accounting for the cap: the caller reports the realized cost of served requests.
  // Only cloud targets count.
  void on_cost(TargetIndex t, Money cost, TimePoint now);

  const TargetState& state(TargetIndex t) const { return states_[t]; }
  BreakerState breaker_state(TargetIndex t, TimePoint now) const { return breakers_[t].state(now); }
  const Breaker& breaker(TargetIndex t) const { return breakers_[t]; }
  bool healthy(TargetIndex t, TimePoint now) const;  // health from load reports (breaker.h)
  // The Retry-After of the last plan() call that shed; zero after one that did not.
  Duration last_retry_after() const { return last_retry_after_; }
  // Cloud spend per second over the last kSpendBuckets seconds.
  Money cloud_spend_rate(TimePoint now) const;

  const Registry& registry() const { return reg_; }
  const PolicyConfig& config() const { return cfg_; }

  static constexpr int kSpendBuckets = 10;  // 1-s buckets: the cap looks at the last 10 s

  // Decide with the plain full scans of policy.h and plan.h (best_feasible, power_of_two_choices,
  // add_fallbacks, diversify_last_fallback) instead of the ones folded into the candidate scan.
  // Both give the same plan; explain always uses the full scans. For tests and benchmarks.
  void set_full_scan(bool on) { full_scan_ = on; }
  // Off: every deployment is looked at, none sampled — the plan a pruned decision must equal
  // when sampling is off (tests/unit/routing/router_prune_test.cc).
  void set_prune(bool on) { prune_ = on; }
  // A model with at most this many deployments is scanned whole: pruning's bookkeeping per
  // group costs more than the few predictions it could skip (no group that small is sampled).
  static constexpr size_t kScanAllUpTo = 16;

 private:
  // What one decision needs per target, looked up once per decision (stamp) even when the target
  // serves several of the model's variants, and reused across decisions while the target is
  // unchanged (version) and estimate_reuse has not passed — so a decision need not touch every
  // target's state and breaker, which at 10,000 targets is mostly cache misses.
  // What the scan reads for every deployment comes first, in one cache line.
  struct TargetView {
    uint64_t stamp = 0;    // the last decision that looked
    uint64_t version = UINT64_MAX;  // the target's version the rest was computed at
    TimePoint at{};
    double load = 0;
    double slots = 1;  // requests it can hold: concurrency + queue capacity (report, else prior)
    uint32_t in_flight = 0, concurrency = 1;
    bool healthy = false, breaker_allows = false, half_open = false;
    uint32_t queue = 0;
    double others = 0;  // TargetState::others(at), which the predictions made at `at` share
    // Its share of admission's saturation sums as of this refresh (Occupancy): busy threads and
    // what it can hold, in fixed point; zero while not available.
    int64_t busy = 0, capacity = 0;
  };
  // One deployment's predictions, reused like TargetView's load figures. The terms that only a
  // state change moves (predict.h's LatencyTerms) and the cost they give are kept while the
  // version holds, so a prediction redone because estimate_reuse passed redoes only the queue.
  struct Prediction {
    uint64_t version = UINT64_MAX;
    uint64_t terms_version = UINT64_MAX;  // terms_version_ that `terms` and the cost belong to
    TimePoint at{};
    Duration p95{};
    Money cost;
    int64_t rank_cost = 0;
    bool full = false;  // its waiting room would be full when the request arrives
    LatencyTerms terms;
  };
  // A deployment as the decision reads it, copied out of the registry once (the registry's
  // TargetInfo holds strings and is read only when a prediction is redone).
  struct DeploymentInfo {
    TargetIndex target = 0;
    VariantIndex variant = 0;
    uint32_t domain = 0, price_class = 0;
    uint32_t slot = 0;   // the variant's position in the model's variant list
    uint32_t group = 0;  // P2C equivalence group within the model: (variant, price class)
    HardwareClass hw = HardwareClass::kEdgeCpu;
    Duration prior{};    // the variant's expected service time
  };
  // A (variant, price class) group of a model's deployments. Its members share a price per
  // request, which bounds each member's cost from below (a price per second only adds to it),
  // so the scan visits groups cheapest first and stops once nothing later can change the plan.
  struct Group {
    int64_t floor = 0;      // rank_cost of the price per request: no member ranks cheaper
    uint32_t begin = 0, end = 0;  // its members in ModelTables::members, in deployment order
    uint32_t slot = 0;            // its variant's slot
    uint32_t domains = 0;         // distinct failure domains among its members
    bool edge = false;
    HardwareClass hw = HardwareClass::kEdgeCpu;
  };
  // Admission's saturation sums over the model's targets that deploy the same set of its
  // variant slots, kept up to date as views are refreshed: a request's saturation adds the sets
  // that hold a variant accurate enough for it, without visiting their targets.
  struct Occupancy {
    uint64_t slots = 0;  // bit per variant slot (slots past 63 share bit 63)
    int64_t busy = 0, capacity = 0;
  };
  // What a decision over one model reads besides its deployments, built by build_model().
  struct ModelTables {
    std::vector<Group> groups;       // by group id
    std::vector<uint32_t> order;     // group ids, cheapest floor first
    std::vector<unsigned> later_hw;  // per position in order: the classes from there on, a bit each
    size_t domains = 0;              // distinct failure domains among its deployments
    std::vector<uint32_t> members;   // deployment indices, grouped
    std::vector<uint32_t> draw;      // sampling's scratch permutation of `members`, per group
    std::vector<TargetIndex> targets;  // distinct targets, for the sweep
    std::vector<uint32_t> set_of;      // per entry of `targets`: its occupancy set
    size_t sweep = 0;                  // the next of `targets` the sweep refreshes
    std::vector<Occupancy> occupancy;
  };
  struct SpendBucket {
    int64_t second = INT64_MIN;
    Money spent;
  };

  bool fresh(uint64_t version, TimePoint at, TargetIndex t, TimePoint now) const {
    return version == version_[t] && now >= at && now - at < cfg_.estimate_reuse;
  }
  TargetView& view(TargetIndex t, TimePoint now) {
    TargetView& v = views_[t];
    if (v.stamp != epoch_) {
      v.stamp = epoch_;
      if (!fresh(v.version, v.at, t, now)) refresh(v, t, now);
    }
    return v;
  }
  void refresh(TargetView& v, TargetIndex t, TimePoint now);
  size_t gather(const RouteRequest& r, const Constraints& k, TimePoint now, Rng& rng);
  void gather_rest(const Constraints& k, TimePoint now);
  void cut_by_accuracy();  // writes the candidates of the groups in accuracy_cut_
  void mark_skipped();     // cands_ the scan left out: cut kSkipped, for the full scans
  double saturation(uint64_t accurate_slots) const;  // admission's, from the occupancy sets
  // A scan's running figures and the request's limits, in a local of gather() rather than in
  // members or references that the stores through a candidate could alias.
  struct Scan {
    const DeploymentInfo* deps;
    Prediction* preds;
    Candidate* cands;
    uint64_t* seen;
    const uint8_t* accurate;  // per variant slot
    Duration budget, reuse;
    Money max_cost;
    bool cloud_allowed, cost_capped;
    size_t best = static_cast<size_t>(-1);
    size_t probe = static_cast<size_t>(-1);  // the best feasible half-open candidate
    CutCounts cuts{};
  };
  Scan scan_of(const Constraints& k);
  // One deployment looked at: its view, prediction and cut into cands_[j]; with collect, also
  // the best so far, P2C's members and the fallback collector. Returns whether it is feasible.
  bool consider(Scan& s, size_t j, TimePoint now, bool collect);
  void predict(Prediction& p, const DeploymentInfo& d, const TargetView& tv, TimePoint now);
  bool acquire(const Candidate& c, TimePoint now, bool dry_run);
  size_t choose(size_t best, size_t (*rescan)(std::span<const Candidate>), bool p2c, TimePoint now,
                bool dry_run, Rng& rng, bool& fast);
  size_t p2c_fast(size_t best, Rng& rng);
  void build_model(ModelIndex m);
  // Puts the best feasible half-open candidate first, taking its probe slot, when it ranks
  // before a step the plan in chosen_ would fall back to (router.cc says why). True if it did.
  bool promote_probe(size_t primary, TimePoint now, bool dry_run);
  Status fail(const RouteRequest& r, const Constraints& k);

  const Registry& reg_;
  PolicyConfig cfg_;
  std::vector<TargetState> states_;
  std::vector<Breaker> breakers_;
  std::vector<uint8_t> ready_;
  std::vector<uint64_t> version_;  // per target, bumped by every call that changes its state
  // Per target, bumped only by the calls that feed its estimators or report (results, reports,
  // RTT samples): what LatencyTerms depend on. A dispatch moves the queue, not these.
  std::vector<uint64_t> terms_version_;
  std::vector<uint32_t> domain_;       // interned failure domain per target
  std::vector<uint32_t> price_class_;  // interned (hw, prices) per target
  std::array<SpendBucket, kSpendBuckets> spend_{};
  Duration last_retry_after_{};

  // Decision scratch, reused across calls.
  uint64_t epoch_ = 0;
  std::vector<TargetView> views_;
  std::vector<std::vector<Prediction>> predictions_;  // per model, per deployment
  std::vector<std::vector<DeploymentInfo>> deployments_;  // per model, per deployment
  std::vector<ModelTables> tables_;  // per model
  // The (model, occupancy set) pairs each target's view refresh updates: those of target t are
  // occupancy_of_[occupancy_at_[t] .. occupancy_at_[t + 1]).
  std::vector<uint32_t> occupancy_at_;
  std::vector<std::pair<ModelIndex, uint32_t>> occupancy_of_;
  std::vector<std::vector<VariantIndex>> slot_variants_;  // per model: the variants it deploys
  ModelIndex model_ = 0;  // this decision's
  std::vector<double> slot_accuracy_;  // this decision's accuracy per variant slot
  std::vector<uint8_t> slot_accurate_;
  // This decision's feasible edge candidates per P2C group, in candidate order: the members
  // power_of_two_choices would collect by scanning every candidate again.
  std::vector<std::vector<uint32_t>> group_members_;
  std::vector<uint32_t> groups_touched_;
  FallbackCollector fallbacks_;
  size_t p2c_members_ = 0;
  bool full_scan_ = false;
  bool prune_ = true;
  bool pruned_ = false;  // this decision's scan left candidates out
  uint64_t accurate_slots_ = 0;  // this decision's variant slots accurate enough, a bit each
  Constraints k_;  // this decision's
  std::vector<uint64_t> seen_;  // per deployment of this decision's model: the epoch it was looked at
  std::vector<uint32_t> accuracy_cut_;  // this decision's groups cut whole by accuracy, unwritten
  std::vector<uint32_t> domains_seen_;  // a sampled group's domains among the members that passed
  std::vector<Candidate> cands_;
  // The model whose deployments cands_' static fields (target, variant, domain, price class,
  // hardware) were written for; UINT32_MAX: none. The scan writes them only when it changes.
  ModelIndex cands_model_ = UINT32_MAX;
  std::vector<uint32_t> members_;
  std::vector<uint32_t> chosen_;
  FallbackScratch fallback_scratch_;
  CutCounts cuts_{};
  size_t probe_ = static_cast<size_t>(-1);  // this decision's Scan::probe
  bool any_available_ = false;
};

}  // namespace hir::routing
