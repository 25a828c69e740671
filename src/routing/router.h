// The routing facade that the live service and the simulator both call: it owns each target's
// live state (TargetState) and circuit breaker, the cloud spend meter, and the scratch space of
// the decision, and turns a request into a Plan (policy.h selects, plan.h chains and explains).
//
// Pure like the rest of src/routing: time and randomness come in as arguments. Not thread-safe:
// one owner serialises every call (the router's routing strand, or the simulator's loop).
// Allocation-light: plan_into() reuses the Router's scratch vectors and the caller's Plan, so a
// decision allocates nothing once warm unless RouteRequest::explain asks for the full reason.
// A decision passes once over the model's deployments: predictions, cuts, P2C's members and the
// fallback candidates are all gathered in that pass (plan.h, FallbackCollector); explain uses
// the separate full scans of policy.h and plan.h, which give the same plan
// (tests/unit/routing/router_fast_path_test.cc; docs/PERFORMANCE.md has the figures).
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
  void on_result(TargetIndex t, VariantIndex v, Outcome o, Duration latency, TimePoint now);
  // As above, with the target's own service time and queue wait when it reports them
  // (TargetState then learns the RTT too).
  void on_result(TargetIndex t, VariantIndex v, Outcome o, Duration latency, Duration service,
                 TimePoint now, Duration queued = Duration::zero());
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

 private:
  // What one decision needs per target, looked up once per decision (stamp) even when the target
  // serves several of the model's variants, and reused across decisions while the target is
  // unchanged (version) and estimate_reuse has not passed — so a decision need not touch every
  // target's state and breaker, which at 10,000 targets is mostly cache misses.
  // What the scan reads for every deployment comes first, in one cache line.
  struct TargetView {
    uint64_t stamp = 0;    // the decision `counted` belongs to
    uint64_t version = UINT64_MAX;  // the target's version the rest was computed at
    TimePoint at{};
    double load = 0;
    double slots = 1;  // requests it can hold: concurrency + queue capacity (report, else prior)
    uint32_t in_flight = 0, concurrency = 1;
    bool counted = false;  // already in this decision's fleet utilization
    bool healthy = false, breaker_allows = false, half_open = false;
    uint32_t queue = 0;
    double others = 0;  // TargetState::others(at), which the predictions made at `at` share
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
      v.counted = false;
      if (!fresh(v.version, v.at, t, now)) refresh(v, t, now);
    }
    return v;
  }
  void refresh(TargetView& v, TargetIndex t, TimePoint now);
  size_t gather(const RouteRequest& r, const Constraints& k, TimePoint now, bool collect);
  void predict(Prediction& p, const DeploymentInfo& d, const TargetView& tv, TimePoint now);
  bool acquire(const Candidate& c, TimePoint now, bool dry_run);
  size_t choose(size_t best, size_t (*rescan)(std::span<const Candidate>), bool p2c, TimePoint now,
                bool dry_run, Rng& rng, bool& fast);
  size_t p2c_fast(size_t best, Rng& rng);
  void build_model(ModelIndex m);
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
  std::vector<uint32_t> groups_;  // per model: its P2C groups' count
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
  std::vector<Candidate> cands_;
  // The model whose deployments cands_' static fields (target, variant, domain, price class,
  // hardware) were written for; UINT32_MAX: none. The scan writes them only when it changes.
  ModelIndex cands_model_ = UINT32_MAX;
  std::vector<uint32_t> members_;
  std::vector<uint32_t> chosen_;
  FallbackScratch fallback_scratch_;
  CutCounts cuts_{};
  double busy_ = 0, capacity_ = 0;
  bool any_available_ = false;
};

}  // namespace hir::routing
