#include "routing/target_state.h"

#include <algorithm>
#include <cmath>

namespace hir::routing {
namespace {

Duration ms_to_duration(double ms) { return from_ms(std::max(0.0, ms)); }

}  // namespace

TargetState::TargetState(const TargetInfo& info, const TargetStateOptions& opt)
    : opt_(opt),
      rtt_prior_(info.expected_rtt),
      report_decay_ms_(std::max(1e-6, to_ms(opt.report_decay))),
      configured_concurrency_(std::max<uint32_t>(1, info.concurrency)),
      rtt_(opt.rtt_window),
      errors_(opt.error_window, opt.error_buckets) {}

void TargetState::on_dispatch(TimePoint now) {
  ++in_flight_;
  if (dispatched_) {
    double gap = to_ms(std::max(Duration::zero(), now - last_dispatch_));
    // The interval that ends a spell left out counts up to the limit that ended it
    // (forget_if_idle): a back-off, not a jump to however long the spell lasted.
    if (spell_cap_ms_ >= 0) gap = std::min(gap, spell_cap_ms_);
    gap_ms_ = gap_ms_ < 0 ? gap : gap_ms_ + opt_.mean_alpha * (gap - gap_ms_);
  }
  dispatched_ = true;
  spell_cap_ms_ = -1;
  last_dispatch_ = now;
  last_touch_ = now;
  if (sent_count_ < kSentRing) sent_[(sent_head_ + sent_count_++) % kSentRing] = now;
}

void TargetState::on_result(VariantIndex v, Outcome o, Duration latency, TimePoint now) {
  record(v, o, latency, std::nullopt, Duration::zero(), now);
}

void TargetState::on_result(VariantIndex v, Outcome o, Duration latency, Duration service,
                            TimePoint now, Duration queued) {
  record(v, o, latency, service, queued, now);
}

void TargetState::record(VariantIndex v, Outcome o, Duration latency,
                         std::optional<Duration> service, Duration queued, TimePoint now) {
  // A result without a matching dispatch (passive learning, a restart) must not wrap around.
  if (in_flight_ > 0) {
    --in_flight_;
    // The untimed overflow (beyond the ring) goes first; else the oldest timed one.
    if (sent_count_ > in_flight_) {
      sent_head_ = (sent_head_ + 1) % kSentRing;
      --sent_count_;
    }
  }
  ++requests_;
  last_touch_ = now;
  if (o == Outcome::kAbandoned) return;
  errors_.add(o != Outcome::kOk, now);
  // An answer that took a thread frees it about one way before it reaches us.
  if (o == Outcome::kOk || o == Outcome::kError) last_end_ = now - rtt_p50() / 2;
  if (o != Outcome::kOk && o != Outcome::kTimeout) return;
  latency = std::max(latency, Duration::zero());
  Duration svc;
  if (service && o == Outcome::kOk) {
    svc = std::clamp(*service, Duration::zero(), latency);
    // What is left of the call once the target's queue and service are taken out is the
    // network's.
    rtt_.add(to_ms(std::max(Duration::zero(), latency - svc - std::max(Duration::zero(), queued))));
  } else {
    // Subtract the typical (median) RTT, not its p95: predict.h adds the RTT p95 back, and
    // subtracting the tail would understate the service time of most calls.
    svc = std::max(Duration::zero(), latency - rtt_p50());
  }
  auto& st = stats_for(v);
  st.p95.add(to_ms(svc));
  st.mean.add(to_ms(svc));
  learnt_ = true;
  // Learning runs after the answer has gone out; the next decision then reads ready snapshots.
  st.p95.refresh();
  rtt_.refresh();
}

void TargetState::on_load_report(const LoadReport& r, TimePoint now) {
  report_ = r;
  report_->busy_fraction = std::isnan(r.busy_fraction) ? 0.0 : std::max(0.0, r.busy_fraction);
  report_at_ = now;
  ours_at_report_ = in_flight_;
  // others()' two ends, which only a report moves (see others() in the header).
  const double ours_then = ours_at_report_;
  others_snapshot_ = std::max(
      0.0, static_cast<double>(report_->in_flight) + report_->queue_depth - ours_then);
  // The busy fraction is a 10-s mean over everyone's work, ours included; take our share at
  // report time out, as for the snapshot.
  others_mean_ =
      std::max(0.0, report_->busy_fraction * static_cast<double>(concurrency()) - ours_then);
}

void TargetState::on_rtt_sample(Duration rtt, TimePoint) {
  rtt_.add(to_ms(std::max(rtt, Duration::zero())));
  rtt_.refresh();
}

double TargetState::occupancy(TimePoint now) const { return others(now) + static_cast<double>(in_flight_); }

TargetState::OwnQueue TargetState::replay_own_queue(TimePoint now, Duration one_way,
                                                    Duration service) const {
  OwnQueue q;
  const size_t c = concurrency();
  const TimePoint arrive = now + one_way;
  // Threads' free times, a min-heap; only as many as we have requests matter. Only the first
  // `busy` entries are ever read, so it is left uninitialised (zeroing it cost more than the
  // replay of a typical short queue).
  union Heap {
    Heap() {}  // NOLINT: deliberately leaves the entries uninitialised
    TimePoint at[kSentRing];
  } heap;
  TimePoint* const free_at = heap.at;
  size_t busy = 0;
  auto later = [](TimePoint a, TimePoint b) { return a > b; };
  // A request whose modelled end has passed without a reply may be slow (the service time has a
  // tail) or on its way back; only its reply tells. Until then it is taken to be there still
  // when ours arrives: a device that refuses when full makes optimism cost a refusal and a
  // fallback, while caution costs only a dearer choice.
  for (size_t i = 0; i < sent_count_; ++i) {
    TimePoint reach = sent_[(sent_head_ + i) % kSentRing] + one_way;
    // With one thread, the oldest of ours starts no earlier than the last answer freed it.
    if (i == 0 && c == 1) reach = std::max(reach, last_end_);
    TimePoint start = reach;
    // With one thread the heap is one entry, which needs no ordering: most targets, and the
    // replay runs for every candidate of every decision.
    if (busy == c) {
      if (c > 1) std::pop_heap(free_at, free_at + busy, later);
      start = std::max(reach, free_at[--busy]);
    }
    const TimePoint end = std::max(start + service, arrive);
    free_at[busy++] = end;
    if (c > 1) std::push_heap(free_at, free_at + busy, later);
    q.at_target += end >= arrive;
    q.waiting += start > arrive;
  }
  // Requests beyond the ring were sent last: count them at the target, waiting.
  const double untimed = static_cast<double>(in_flight_ - sent_count_);
  q.at_target += untimed;
  q.waiting += untimed;
  if (busy == c) {
    const TimePoint first_free = free_at[0];
    if (first_free > arrive) q.wait = first_free - arrive;
  }
  if (untimed > 0) q.wait += std::chrono::duration_cast<Duration>(service * (untimed / static_cast<double>(c)));
  return q;
}

double TargetState::utilization(TimePoint now) const { return utilization_with(others(now)); }

Duration TargetState::gap_limit(double gaps) const {
  if (!(gaps > 0) || gap_ms_ < 0) return Duration::max();
  const double ms = gaps * gap_ms_;
  if (ms >= to_ms(Duration::max())) return Duration::max();
  return from_ms(ms);
}

void TargetState::forget() {
  for (auto& st : variants_) {
    st.p95.clear();
    st.mean.clear();
  }
  rtt_.clear();
  learnt_ = false;
}

double TargetState::error_rate(TimePoint now) const { return errors_.failure_rate(now); }

Duration TargetState::rtt_p95() const {
  if (rtt_.count() < opt_.min_samples) return rtt_prior_;
  return ms_to_duration(rtt_.quantile(0.95));
}

Duration TargetState::rtt_p50() const {
  // The prior is a typical RTT, good for the median as well as the tail until we measure.
  if (rtt_.count() < opt_.min_samples) return rtt_prior_;
  return ms_to_duration(rtt_.quantile(0.5));
}

Duration TargetState::service_p95(VariantIndex v, Duration prior) const {
  if (const auto* st = find_stats(v); st && st->p95.count() >= opt_.min_samples)
    return ms_to_duration(st->p95.quantile(0.95));
  if (auto ms = reported_p95_ms(v)) return ms_to_duration(*ms);
  return prior;
}

Duration TargetState::service_mean(VariantIndex v, Duration prior) const {
  if (const auto* st = find_stats(v); st && st->p95.count() >= opt_.min_samples)
    return ms_to_duration(st->mean.value());
  return prior;
}

bool TargetState::reported_queue_full() const {
  return report_ && report_->queue_capacity > 0 && report_->queue_depth >= report_->queue_capacity;
}

TargetState::VariantStats& TargetState::stats_for(VariantIndex v) {
  for (auto& st : variants_)
    if (st.v == v) return st;
  variants_.push_back({v, QuantileWindow(opt_.service_window), Ewma(opt_.mean_alpha)});
  return variants_.back();
}

const TargetState::VariantStats* TargetState::find_stats(VariantIndex v) const {
  for (const auto& st : variants_)
    if (st.v == v) return &st;
  return nullptr;
}

std::optional<double> TargetState::reported_p95_ms(VariantIndex v) const {
  if (!report_) return std::nullopt;
  for (const auto& [rv, ms] : report_->service_p95_ms)
    if (rv == v && std::isfinite(ms) && ms >= 0) return ms;
  return std::nullopt;
}

}  // namespace hir::routing
