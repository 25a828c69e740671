// RouterService and its MCU pool targets (docs/mcu-emulator.md, "In hir serve"): dispatch through
// McuPool::submit, completions posted back to the event loop, device heartbeats as the routing
// core's load reports, and the devices' state for GET /v1/targets.
#include <fmt/format.h>

#include <algorithm>

#include "backends/mcu_codec.h"
#include "router/service.h"
#include "router/service_call.h"
#include "telemetry/log.h"

namespace hir::router {

using Step = CoreRouting::Step;
using routing::Outcome;

void RouterService::attach_pools(Generation& gen) {
  for (size_t i = 0; i < gen.targets.size(); ++i) {
    const TargetConfig& t = *gen.targets[i].cfg;
    if (!t.is_mcu_pool()) continue;
    auto pool = mcus_->pool_for(t);
    if (!pool.ok()) {
      // Left without a pool, the target fails every attempt and its breaker keeps it out.
      telemetry::log_error("mcu_pool_failed", {{"target", t.name}, {"reason", pool.status().message()}});
      continue;
    }
    gen.targets[i].pool = *pool;
    // Until a device answers, nothing is planned onto the target: a pool that has not connected
    // yet (or whose devices are all down) reports not ready. Its heartbeats then say otherwise.
    gen.routing->load_report(static_cast<routing::TargetIndex>(i), (*pool)->load_report(), (*pool)->any_up());
  }
}

// Runs on a pool's I/O thread: the routing core serializes its own calls, so no hop through the
// loop is needed, and a heartbeat never waits behind requests.
void RouterService::feed_mcu_load(const std::string& target, const routing::LoadReport& r, bool ready) {
  GenPtr gen = current();
  if (!gen) return;  // the first generation is being built
  for (size_t i = 0; i < gen->cfg->targets.size(); ++i)
    if (gen->cfg->targets[i].is_mcu_pool() && gen->cfg->targets[i].name == target)
      gen->routing->load_report(static_cast<routing::TargetIndex>(i), r, ready);
}

void RouterService::attempt_mcu(std::shared_ptr<Call> call, const Step& cand, const Target& tg, Duration remaining) {
  if (!tg.pool || !call->input) return fail_attempt(std::move(call), cand, "no MCU pool for this target", 0);
  auto t0 = SteadyClock::now();
  const TimePoint deadline = t0 + std::min<Duration>(tg.cfg->timeout, remaining);
  CoreRouting& routing = *call->gen->routing;
  std::weak_ptr<backends::McuPool> pool = tg.pool;
  const uint32_t out_id = call->hedge_after ? track(*call, cand, t0) : kUntracked;
  // The callback runs on the pool's I/O thread: hand the result to the event loop, where the
  // rest of the request lives, and return at once.
  Status st = tg.pool->submit(*call->input, deadline, [this, call, cand, t0, out_id](Result<backends::McuReply> r) {
    auto elapsed = SteadyClock::now() - t0;
    loop_.post([this, call, cand, elapsed, out_id, r = std::move(r)]() mutable {
      std::lock_guard<std::recursive_mutex> guard(call->mu);
      came_back(*call, out_id);
      mcu_done(call, cand, std::move(r), elapsed);
      if (call->done)
        for (auto& w : call->wire) w->cancel();  // an HTTP hedge still on the wire lost
    });
  });
  if (st.code() == Code::kInvalidArgument) {
    // The input does not fit the devices' model (a batch, another shape or datatype): nothing
    // was sent. The target is not at fault, so this is no failure and no fallback; the request
    // goes on to the next step as if this one had not been planned.
    if (!call->skipped.empty()) call->skipped += "; ";
    call->skipped += cand.target->name + ": " + st.message();
    came_back(*call, out_id);  // never sent
    return attempt(std::move(call));
  }
  routing.dispatched(cand.ti);
  if (!st.ok()) {
    came_back(*call, out_id);  // never sent
    // Refused without sending: no device up (the core then hears the pool is not ready, so the
    // next requests are planned elsewhere at once), full, or already past the deadline.
    auto elapsed = SteadyClock::now() - t0;
    call->timed_out |= st.code() == Code::kDeadlineExceeded;
    routing.result(cand.ti, cand.vi, backends::outcome_of(st), elapsed);
    if (st.code() == Code::kUnavailable) {
      if (auto p = pool.lock()) routing.load_report(cand.ti, p->load_report(), p->any_up());
    }
    return fail_attempt(std::move(call), cand, st, to_ms(elapsed));
  }
  ++call->outstanding;
  arm_hedge(call);
}

void RouterService::mcu_done(std::shared_ptr<Call> call, const Step& cand, Result<backends::McuReply> r,
                             Duration elapsed) {
  --call->outstanding;
  CoreRouting& routing = *call->gen->routing;
  if (!r.ok()) {
    const bool timeout = r.status().code() == Code::kDeadlineExceeded;
    routing.result(cand.ti, cand.vi,
                   timeout ? timeout_outcome(cand, SteadyClock::now() - elapsed, call->deadline, elapsed)
                           : backends::outcome_of(r.status()),
                   elapsed);
    if (call->done) return;  // a hedge's loser, charged when the other answered (settle)
    call->timed_out |= timeout;
    // Timed out on the line: the device may have run it. Refused or lost before: not charged.
    if (timeout) charge(*call, cand, attempt_cost(cand, to_ms(elapsed)));
    return fail_attempt(std::move(call), cand, r.status(), to_ms(elapsed));
  }
  // The device's occupancy — the INFER frame on the line, the compute, the RESULT frame — is
  // what the queue model needs as the service time (a device is busy for all of it); its own
  // compute time alone (r->device_time, ~0.6 ms) is a small part of the ~10 ms. Tries that
  // timed out or were lost before the answering one count too: they are what an answer from
  // this pool costs on a lossy line, and nothing else would teach the core that. The rest of
  // the latency is the wait in the pool's queue, which the core's queue model predicts itself.
  // The line is local, so no network share is learnt from it. The ledger's service time is the
  // answering try's alone: the device's busy time for this answer.
  const Duration service = std::clamp(r->since_first_try, Duration::zero(), elapsed);
  const Duration occupied = std::clamp(r->occupied, Duration::zero(), service);
  routing.result(cand.ti, cand.vi, Outcome::kOk, elapsed, service, elapsed - service);
  if (call->done) return;
  InferResponse resp = std::move(r->response);
  resp.binary.assign(resp.outputs.size(), false);
  for (size_t i = 0; i < resp.outputs.size(); ++i) resp.binary[i] = call->input->wants_binary(resp.outputs[i].name);
  resp.parameters["hir_device"] = static_cast<int64_t>(r->device);
  resp.parameters["hir_device_ms"] = to_ms(r->device_time);
  deliver(std::move(call), cand, std::move(resp), attempt_cost(cand, to_ms(elapsed)), to_ms(occupied));
}

std::string RouterService::targets_json(const Generation& gen) const {
  std::vector<std::string> extra(gen.cfg->targets.size());
  for (size_t i = 0; i < extra.size(); ++i)
    if (gen.cfg->targets[i].is_mcu_pool()) extra[i] = mcus_->devices_json(gen.cfg->targets[i].name);
  return gen.routing->targets_json(extra);
}

void RouterService::stop_devices() { mcus_->stop_all(); }

}  // namespace hir::router
