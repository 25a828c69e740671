// hir serve's side of the pure routing core: builds the core's Registry from the configuration,
// keeps one routing::Router, and serialises every call to it (the core is single-threaded by
// design; the service may run on several I/O threads). Translates between configuration objects
// and the core's dense indices, and reads the wall clock the core is not allowed to read.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/status.h"
#include "protocol/hir_messages.h"
#include "router/config.h"
#include "router/hints.h"
#include "routing/registry.h"
#include "routing/router.h"

namespace hir::router {

class CoreRouting {
 public:
  // cfg outlives this object.
  CoreRouting(const Config& cfg, uint64_t seed);

  struct Step {
    const TargetConfig* target = nullptr;
    const VariantConfig* variant = nullptr;
    routing::TargetIndex ti = 0;
    routing::VariantIndex vi = 0;
    Duration predicted_p95{};
    Money predicted_cost;
  };
  struct Decision {
    std::vector<Step> steps;
    std::optional<Duration> hedge_after;
    bool best_effort = false;
    std::string reason;  // why this plan, in words: only when asked to explain (else empty)
  };
  // Errors: kInvalidArgument when the hints cannot be met by any configured variant at all
  // (min_accuracy above every variant, max_cost below every price) — the client's to fix;
  // kResourceExhausted when shed (*retry_after is set); kUnavailable when no target can serve now.
  Result<Decision> decide(const ModelConfig& model, const RequestHints& hints, bool explain,
                          Duration* retry_after);

  void dispatched(routing::TargetIndex t);
  // judged false: another request of the same merged call has fed the target's breaker
  // (routing::Router::on_result).
  void result(routing::TargetIndex t, routing::VariantIndex v, routing::Outcome o, Duration latency,
              bool judged = true);
  // As above, with the target's own service time and queue wait (a worker's Server-Timing), so
  // the core also learns the network's share of the latency (its RTT estimate).
  void result(routing::TargetIndex t, routing::VariantIndex v, routing::Outcome o, Duration latency,
              Duration service, Duration queued, bool judged = true);
  // An upstream call's outcome for the target's breaker alone (routing::Router::on_call_result).
  void call_result(routing::TargetIndex t, routing::Outcome o);
  void cost(routing::TargetIndex t, Money c);
  // A worker's /v1/load answer, and how long the poll took (an RTT sample).
  void load_report(routing::TargetIndex t, const protocol::LoadReportMsg& r, Duration poll_time);
  // A load report that did not come over the network (an MCU pool's, from device heartbeats): no
  // RTT sample. ready false: no device can serve now.
  void load_report(routing::TargetIndex t, const routing::LoadReport& r, bool ready);

  // Whether a request for `model` would find a target to try now: one of its targets healthy by
  // its load reports (or not yet reported on) and with its breaker not open. What
  // GET /v2/models/{m}/ready answers.
  bool can_serve(const ModelConfig& model);

  // Each target's live state as JSON, for GET /v1/targets. extra[i], when present, is appended
  // to target i's object (",\"key\":value..."), e.g. an MCU pool's devices.
  std::string targets_json(const std::vector<std::string>& extra = {});
  // Each target's breaker state now, in cfg.targets order: an open breaker turns half-open with
  // time alone, so it is read at the moment asked, as /v1/targets reads it.
  std::vector<routing::BreakerState> breaker_states();
  const Config& config() const { return cfg_; }

 private:
  // Runs feed(now) under the lock and logs a change of t's breaker it made (core_routing.cc).
  template <class Feed>
  void feed_breaker(routing::TargetIndex t, Feed&& feed);
  Status static_check(const ModelConfig& model, const RequestHints& hints) const;

  const Config& cfg_;
  routing::Registry reg_;
  std::vector<std::vector<routing::VariantIndex>> variant_index_;  // [model][variant in config]
  std::vector<const VariantConfig*> variant_cfg_;                  // by core VariantIndex
  std::mutex mu_;  // guards router_, rng_ and plan_
  std::unique_ptr<routing::Router> router_;
  Rng rng_;
  routing::Plan plan_;  // decide()'s scratch
  RealClock clock_;
};

}  // namespace hir::router
