#include "router/core_routing.h"

#include <fmt/format.h>

#include <algorithm>

#include "backends/mcu_types.h"
#include "protocol/v2_codec.h"
#include "telemetry/log.h"

namespace hir::router {

CoreRouting::CoreRouting(const Config& cfg, uint64_t seed) : cfg_(cfg), rng_(seed) {
  // Target i of the configuration is target i of the core.
  for (const auto& t : cfg.targets) {
    // An MCU pool's queue_capacity holds its max_outstanding: the core is given the same
    // waiting room as the pool's own load reports give it.
    const uint32_t queue = t.mcu ? backends::pool_queue_capacity(t.queue_capacity, t.concurrency) : t.queue_capacity;
    reg_.add_target({.name = t.name,
                     .hw = t.hw,
                     .cost_per_request = t.cost_per_request,
                     .cost_per_second = t.cost_per_second,
                     .failure_domain = t.failure_domain,
                     .expected_rtt = t.expected_rtt,
                     .concurrency = t.concurrency,
                     .queue_capacity = queue});
  }
  for (const auto& m : cfg.models) {
    auto mi = reg_.add_model(m.signature.name);
    auto& indices = variant_index_.emplace_back();
    for (const auto& v : m.variants) {
      routing::VariantInfo info;
      info.name = v.name;
      info.model = mi;
      info.accuracy = v.accuracy;
      info.accuracy_by_band = v.accuracy_by_band;
      info.size_bytes = v.size_bytes;
      info.expected_service = v.expected_service;
      auto vi = reg_.add_variant(std::move(info));
      indices.push_back(vi);
      variant_cfg_.push_back(&v);
      for (const auto& tname : v.targets) {
        const TargetConfig* t = cfg.find_target(tname);
        reg_.deploy(vi, static_cast<routing::TargetIndex>(t - cfg.targets.data()));
      }
    }
  }
  router_ = std::make_unique<routing::Router>(reg_, cfg.routing.policy);
}

Status CoreRouting::static_check(const ModelConfig& model, const RequestHints& hints) const {
  if (hints.min_accuracy) {
    double best = 0;
    for (const auto& v : model.variants) best = std::max(best, v.accuracy);
    if (best < *hints.min_accuracy)
      return InvalidArgument(fmt::format("no variant of model '{}' reaches min_accuracy {} (the best is {})",
                                         model.signature.name, *hints.min_accuracy, best));
  }
  if (hints.max_cost) {
    bool any = false;
    for (const auto& v : model.variants)
      for (const auto& tn : v.targets) any |= cfg_.find_target(tn)->cost_per_request <= *hints.max_cost;
    if (!any)
      return InvalidArgument(fmt::format("no target for model '{}' is priced within max_cost_usd {}",
                                         model.signature.name, hints.max_cost->usd()));
  }
  return {};
}

Result<CoreRouting::Decision> CoreRouting::decide(const ModelConfig& model, const RequestHints& hints,
                                                  bool explain, Duration* retry_after) {
  HIR_RETURN_IF_ERROR(static_check(model, hints));
  auto mi = static_cast<routing::ModelIndex>(&model - cfg_.models.data());
  routing::RouteRequest rr;
  rr.model = mi;
  rr.priority = hints.priority;
  rr.complexity = hints.complexity;
  rr.min_accuracy = hints.min_accuracy;
  rr.budget = hints.latency_budget;
  rr.max_cost = hints.max_cost;
  rr.explain = explain;
  Decision d;
  Status s;
  {
    std::lock_guard lock(mu_);
    // Into the plan kept for the purpose: its storage is reused from one decision to the next.
    s = router_->plan_into(rr, clock_.now(), rng_, plan_);
    if (!s.ok()) {
      if (retry_after) *retry_after = router_->last_retry_after();
    } else {
      d.hedge_after = plan_.hedge_after;
      d.best_effort = plan_.best_effort;
      if (explain) d.reason = plan_.reason;  // read only by an explanation
      d.steps.reserve(plan_.steps.size());
      for (const auto& st : plan_.steps)
        d.steps.push_back({&cfg_.targets[st.target], variant_cfg_[st.variant], st.target, st.variant,
                           st.predicted_p95, st.predicted_cost});
    }
  }
  if (!s.ok()) {
    if (s.code() == Code::kFailedPrecondition) return Unavailable("no target can serve this request: " + s.message());
    return s;
  }
  return d;
}

bool CoreRouting::can_serve(const ModelConfig& model) {
  const auto mi = static_cast<routing::ModelIndex>(&model - cfg_.models.data());
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.now();
  for (const auto& dep : reg_.model(mi).deployments)
    if (router_->healthy(dep.target, now) && router_->breaker(dep.target).would_allow(now)) return true;
  return false;
}

void CoreRouting::dispatched(routing::TargetIndex t) {
  std::lock_guard lock(mu_);
  router_->on_dispatch(t, clock_.now());
}

// A result that moved the target's breaker is logged once the lock is released: an operator
// alerting on logs sees a target ejected (and why) or taken back, not only /v1/targets' state.
// Open to half-open comes with time, not with a result, and is not logged here.
template <class Feed>
void CoreRouting::feed_breaker(routing::TargetIndex t, Feed&& feed) {
  routing::BreakerState before, after;
  std::string why;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = clock_.now();
    before = router_->breaker_state(t, now);
    feed(now);
    after = router_->breaker_state(t, now);
    if (after == before) return;
    if (after == routing::BreakerState::kOpen) why = router_->breaker(t).reason();
  }
  const std::string& name = cfg_.targets[t].name;
  if (after == routing::BreakerState::kOpen)
    telemetry::log_warn("breaker_opened", {{"target", name}, {"reason", why}});
  else if (after == routing::BreakerState::kClosed)
    telemetry::log_info("breaker_closed", {{"target", name}, {"was", routing::breaker_state_name(before)}});
}

void CoreRouting::result(routing::TargetIndex t, routing::VariantIndex v, routing::Outcome o, Duration latency,
                         bool judged) {
  feed_breaker(t, [&](TimePoint now) { router_->on_result(t, v, o, latency, now, judged); });
}

void CoreRouting::result(routing::TargetIndex t, routing::VariantIndex v, routing::Outcome o, Duration latency,
                         Duration service, Duration queued, bool judged) {
  feed_breaker(t, [&](TimePoint now) { router_->on_result(t, v, o, latency, service, now, queued, judged); });
}

void CoreRouting::call_result(routing::TargetIndex t, routing::Outcome o) {
  feed_breaker(t, [&](TimePoint now) { router_->on_call_result(t, o, now); });
}

void CoreRouting::load_report(routing::TargetIndex t, const routing::LoadReport& r, bool ready) {
  std::lock_guard lock(mu_);
  router_->on_load_report(t, r, ready, clock_.now());
}

void CoreRouting::cost(routing::TargetIndex t, Money c) {
  std::lock_guard lock(mu_);
  router_->on_cost(t, c, clock_.now());
}

void CoreRouting::load_report(routing::TargetIndex t, const protocol::LoadReportMsg& r, Duration poll_time) {
  routing::LoadReport rep;
  rep.in_flight = r.in_flight;
  rep.queue_depth = r.queue_depth;
  rep.queue_capacity = r.queue_capacity;
  rep.concurrency = r.concurrency;
  rep.busy_fraction = r.busy_fraction;
  // The report names models as the worker knows them: the variants deployed on this target.
  for (const auto& [name, p95] : r.model_p95_ms)
    for (size_t mi = 0; mi < reg_.model_count(); ++mi)
      for (const auto& dep : reg_.model(static_cast<routing::ModelIndex>(mi)).deployments)
        if (dep.target == t && reg_.variant(dep.variant).name == name) rep.service_p95_ms.emplace_back(dep.variant, p95);
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  router_->on_load_report(t, rep, r.ready, now);
  router_->on_rtt_sample(t, poll_time, now);
}

std::vector<routing::BreakerState> CoreRouting::breaker_states() {
  std::vector<routing::BreakerState> out;
  out.reserve(cfg_.targets.size());
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  for (size_t i = 0; i < cfg_.targets.size(); ++i)
    out.push_back(router_->breaker_state(static_cast<routing::TargetIndex>(i), now));
  return out;
}

std::string CoreRouting::targets_json(const std::vector<std::string>& extra) {
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  std::string out = R"({"targets":[)";
  for (size_t i = 0; i < cfg_.targets.size(); ++i) {
    const auto& t = cfg_.targets[i];
    auto ti = static_cast<routing::TargetIndex>(i);
    const auto& st = router_->state(ti);
    if (i) out += ',';
    out += R"({"name":)";
    protocol::append_json_string(out, t.name);
    out += R"(,"url":)";
    protocol::append_json_string(out, t.url);
    out += fmt::format(
        R"(,"class":"{}","failure_domain":)", hardware_class_name(t.hw));
    protocol::append_json_string(out, reg_.failure_domain(ti));
    auto stale = st.staleness(now);
    out += fmt::format(
        R"(,"healthy":{},"breaker":"{}","breaker_reason":)", router_->healthy(ti, now) ? "true" : "false",
        routing::breaker_state_name(router_->breaker_state(ti, now)));
    protocol::append_json_string(out, router_->breaker(ti).reason());
    out += fmt::format(
        R"(,"in_flight":{},"reported_queue_depth":{},"utilization":{:.4f},"error_rate":{:.4f},)"
        R"("rtt_p95_ms":{:.3f},"report_age_ms":{},"requests":{},"cost_per_request_usd":{},"cost_per_second_usd":{}}})",
        st.in_flight(), st.reported_queue_depth(), st.utilization(now), st.error_rate(now),
        to_ms(st.rtt_p95()), stale >= std::chrono::hours(24) ? std::string("null") : fmt::format("{:.1f}", to_ms(stale)),
        st.requests(), t.cost_per_request.usd(), t.cost_per_second.usd());
    if (i < extra.size() && !extra[i].empty()) {
      out.pop_back();  // the object's closing brace: the extra members go inside it
      out += extra[i];
      out += '}';
    }
  }
  out += "]}";
  return out;
}

}  // namespace hir::router
