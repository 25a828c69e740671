// Batching: requests for one target and variant that arrive while it already has enough calls on
// the wire wait, and go out merged into one call when one of those returns (docs/batching.md).
// A target that runs a batch of rows costs far less per row than one call per request, and the
// router makes one upstream exchange instead of many. Nothing waits for a batch to fill: a
// request that finds a free slot goes out at once, on its own, exactly as without batching.
//
// A waiting request keeps what it would have had alone: its attempt ends at its deadline or at
// the target's timeout counted from when it was committed, whichever is first, and then falls
// back to its next step with what is left of its budget.
#include <algorithm>
#include <deque>

#include "protocol/batch.h"
#include "router/server_timing.h"
#include "router/service.h"
#include "router/service_call.h"
#include "telemetry/log.h"
#include "telemetry/trace.h"

namespace hir::router {

using net::HttpResponse;
using Step = CoreRouting::Step;
using routing::Outcome;

namespace {

uint64_t queue_key(const Step& s) { return (uint64_t{s.ti} << 32) | uint64_t{s.vi}; }

// After a target refuses a merged call as a client error, its requests go one by one for this
// long: a target that takes fewer rows than the router's model declares would refuse them all.
constexpr Duration kMergePause = std::chrono::seconds(10);

}  // namespace

bool RouterService::batchable(const Call& call, const Step& cand) const {
  return call.batch && !call.hedge_after && cfg_.batching.on() && !cand.target->is_mcu_pool();
}

// Called with the call's lock held (from attempt).
void RouterService::enqueue(std::shared_ptr<Call> call, const Step& cand, const Target& tg) {
  GenPtr gen = call->gen;
  // Committed to this target from now on, as a request sent at once is: the routing core counts
  // it in the target's queue, and the call has an attempt outstanding.
  gen->routing->dispatched(cand.ti);
  ++call->outstanding;
  const auto now = SteadyClock::now();
  const TimePoint expiry = std::min(call->deadline, now + tg.cfg->timeout);
  Waiting w{std::move(call), cand, now, expiry, nullptr};
  enum { kSend, kHeld, kOverflow } what;
  BatchQueue* q = nullptr;
  {
    std::lock_guard lock(gen->batch_mu);
    auto& slot = gen->batches[queue_key(cand)];
    if (!slot) {
      slot = std::make_unique<BatchQueue>();
      slot->target = &tg;
    }
    q = slot.get();
    if (q->inflight < tg.cfg->concurrency + cfg_.batching.extra_inflight && q->waiting.empty()) {
      ++q->inflight;
      what = kSend;
    } else if (q->waiting.size() < cfg_.batching.max_waiting) {
      q->waiting.push_back(std::move(w));
      if (expiry < q->timer_at) arm_queue_timer(gen, *q, expiry);
      what = kHeld;
    } else {
      what = kOverflow;
    }
  }
  if (what == kSend) send_alone(w.call, w.cand, tg, now, [this, gen, q](int) { batch_done(gen, q); });
  // A full queue does not refuse: the request goes on its own, outside the count of calls.
  if (what == kOverflow) send_alone(w.call, w.cand, tg, now);
}

void RouterService::arm_queue_timer(const GenPtr& gen, BatchQueue& q, TimePoint at) {
  if (q.timer) q.timer->cancel();
  q.timer_at = at;
  // The timer does not keep the generation alive: while anything waits, its call does.
  std::weak_ptr<Generation> weak = gen;
  BatchQueue* qp = &q;
  q.timer = loop_.run_after(std::max(Duration::zero(), at - SteadyClock::now()),
                            [this, weak, qp] { expire_waiting(weak, qp); });
}

// The queue's timer: the waits that reached their expiry end, and it is armed for the next.
void RouterService::expire_waiting(const std::weak_ptr<Generation>& weak, BatchQueue* q) {
  GenPtr gen = weak.lock();
  if (!gen) return;
  std::vector<Waiting> expired;
  {
    std::lock_guard lock(gen->batch_mu);
    const auto now = SteadyClock::now();
    TimePoint next = TimePoint::max();
    for (auto it = q->waiting.begin(); it != q->waiting.end();) {
      if (it->expiry <= now) {
        expired.push_back(std::move(*it));
        it = q->waiting.erase(it);
      } else {
        next = std::min(next, it->expiry);
        ++it;
      }
    }
    q->timer_at = TimePoint::max();
    // Usually the timer running now; else one armed meanwhile, which this one replaces.
    if (q->timer) q->timer->cancel();
    q->timer.reset();
    if (next != TimePoint::max()) arm_queue_timer(gen, *q, next);
  }
  for (Waiting& m : expired) end_attempt(m, "waited for the target longer than its timeout or the budget");
}

// Ends m's attempt as a timeout (the routing core learns one) and moves the request on: to its
// next step while its budget lasts, else a 504.
void RouterService::end_attempt(Waiting& m, const std::string& why, bool judged) {
  std::lock_guard<std::recursive_mutex> guard(m.call->mu);
  const auto now = SteadyClock::now();
  --m.call->outstanding;
  m.call->timed_out = true;
  m.call->gen->routing->result(m.cand.ti, m.cand.vi, timeout_outcome(m.cand, m.since, m.call->deadline, now - m.since),
                               now - m.since, judged);
  fail_attempt(m.call, m.cand, why, to_ms(now - m.since));
}

// A call of this queue has returned and its answers are handled: its slot goes to what waits.
void RouterService::batch_done(const GenPtr& gen, BatchQueue* q) {
  uint32_t release = 1;
  while (release > 0) {
    std::vector<std::vector<Waiting>> next;
    {
      std::lock_guard lock(gen->batch_mu);
      q->inflight -= release;
      release = 0;
      const uint32_t limit = q->target->cfg->concurrency + cfg_.batching.extra_inflight;
      const auto now = SteadyClock::now();
      const uint32_t max_requests = now < q->merging_paused_until ? 1 : cfg_.batching.max_requests;
      while (q->inflight < limit && !q->waiting.empty()) {
        // The oldest request, and after it requests of the same form while they fit in one call
        // (by count, and by rows within the model's batch limit). A request of another form
        // keeps its place for a later call; the look-ahead past such ones is bounded.
        std::vector<Waiting> batch;
        batch.push_back(std::move(q->waiting.front()));
        q->waiting.pop_front();
        const protocol::BatchForm& form = *batch[0].call->batch;
        const int64_t max_rows = batch[0].call->model->signature.max_batch_size;
        int64_t rows = form.rows;
        size_t looked = 0;
        for (auto it = q->waiting.begin();
             it != q->waiting.end() && batch.size() < max_requests && looked < 4 * size_t{max_requests}; ++looked) {
          const protocol::BatchForm& f = *it->call->batch;
          if (f.key == form.key && rows + f.rows <= max_rows) {
            rows += f.rows;
            batch.push_back(std::move(*it));
            it = q->waiting.erase(it);
          } else {
            ++it;
          }
        }
        ++q->inflight;
        next.push_back(std::move(batch));
      }
    }
    // Sent outside the queue's lock: sending takes each call's lock (the other order from
    // enqueue's, which holds a call's lock and then takes the queue's).
    for (auto& batch : next)
      if (!send_batch(gen, q, std::move(batch))) ++release;
  }
}

// Sends what batch_done took; false when nothing was sent in the slot (every request had
// expired, or had to go alone), so that the slot goes to the next ones. A waiting request's
// fields are stable without its lock: nothing else touches a call while it waits here.
bool RouterService::send_batch(const GenPtr& gen, BatchQueue* q, std::vector<Waiting> members) {
  const Target& tg = *q->target;  // set once, when the queue was made
  const auto now = SteadyClock::now();
  std::vector<Waiting> live;
  for (Waiting& m : members) {
    if (m.expiry > now) live.push_back(std::move(m));
    else end_attempt(m, "waited for the target longer than its timeout or the budget");
  }
  if (live.empty()) return false;
  auto done = [this, gen, q](int) { batch_done(gen, q); };
  auto alone = [&](Waiting& m, std::function<void(int)> then) {
    std::lock_guard<std::recursive_mutex> guard(m.call->mu);
    send_alone(m.call, m.cand, tg, m.since, std::move(then));
  };
  if (live.size() == 1) {
    alone(live[0], done);
    return true;
  }
  // A JSON body's data arrays are found now, for the merged call (their text goes in as it is);
  // one whose arrays do not fit its shapes goes alone, to get the target's own answer.
  std::vector<std::vector<std::string_view>> texts;
  texts.reserve(live.size());
  std::vector<protocol::BatchPart> parts;
  parts.reserve(live.size());
  std::vector<Waiting> merged_members;
  for (Waiting& m : live) {
    const Call& c = *m.call;
    protocol::BatchPart part{c.head.get(), {}, c.batch->rows, {}};
    if (c.header_length) {
      part.tensors = std::string_view(c.body).substr(c.tensors_at);
    } else {
      Result<std::vector<std::string_view>> t = std::vector<std::string_view>{};
      if (c.data_at.empty()) {
        t = protocol::json_data_texts(c.body, *c.head);
      } else {
        for (auto [at, n] : c.data_at) t->push_back(std::string_view(c.body).substr(at, n));
        if (Status s = protocol::check_data_texts(*t, *c.head, c.data_commas); !s.ok()) t = s;
      }
      if (!t.ok()) {
        alone(m, nullptr);  // outside the count of calls, like an overflow
        continue;
      }
      texts.push_back(std::move(*t));
      part.json_data = texts.back();
    }
    parts.push_back(part);
    merged_members.push_back(std::move(m));
  }
  if (merged_members.empty()) return false;
  if (merged_members.size() == 1) {
    alone(merged_members[0], done);
    return true;
  }
  live = std::move(merged_members);
  auto merged = protocol::merge_requests(parts, &live[0].call->model->signature);
  if (!merged.ok()) {
    // Requests of one form always merge (protocol/batch.h); should that fail, each goes alone,
    // the first in this call's slot.
    telemetry::log_error("batch_not_merged", {{"target", tg.cfg->name}, {"reason", merged.status().message()}});
    for (size_t k = 0; k < live.size(); ++k) alone(live[k], k == 0 ? std::function<void(int)>(done) : nullptr);
    return true;
  }
  // The call's timeout: the latest expiry among its requests, less a tenth of the time left, so
  // that one request with a short budget does not end the call for all the others. The requests
  // that expire before it (that short budget) get a timer of their own; the others, whose
  // expiry is at most a tenth of the time left later, end with the call.
  // Such a request's own end is not judged by the target's breaker: the call is, once, when it
  // answers or fails (batch_answered), and it always does: the client ends it at call_expiry,
  // and the request whose expiry that is has no timer of its own, so it is there to be taken.
  // Judged as well, a few short budgets in one call ejected the target before the call itself
  // had answered.
  TimePoint latest = now;
  for (const Waiting& m : live) latest = std::max(latest, m.expiry);
  const TimePoint floor = latest - (latest - now) / 10;
  TimePoint call_expiry = latest;
  for (const Waiting& m : live)
    if (m.expiry >= floor) call_expiry = std::min(call_expiry, m.expiry);
  for (Waiting& m : live) {
    if (m.expiry >= call_expiry) continue;
    m.own = std::make_shared<Waiting::Own>();
    Waiting copy = m;
    std::lock_guard<std::recursive_mutex> guard(m.call->mu);
    m.own->timer = loop_.run_after(m.expiry - now, [this, copy]() mutable {
      std::lock_guard<std::recursive_mutex> g(copy.call->mu);
      if (std::exchange(copy.own->settled, true)) return;
      end_attempt(copy, "no response from the merged call within the attempt's time", false);
    });
  }
  // The call's own id; the members' ids are in the debug line below, and each member's answer
  // carries its own. The oldest request's trace continues into the target.
  const std::string batch_id = telemetry::new_request_id();
  if (telemetry::log_enabled(telemetry::Level::kDebug)) {
    std::string ids;
    for (const Waiting& m : live) ids += (ids.empty() ? "" : " ") + m.call->request_id;
    telemetry::log_debug("batch_sent", {{"batch_id", batch_id}, {"target", tg.cfg->name},
                                        {"variant", live[0].cand.variant->name},
                                        {"requests", static_cast<int64_t>(live.size())}, {"request_ids", ids}});
  }
  batch_calls_->inc();
  batched_requests_->inc(static_cast<double>(live.size()));
  const auto t0 = SteadyClock::now();
  const Duration timeout = std::max(Duration::zero(), call_expiry - t0);
  std::string scratch;
  std::string head = upstream_head(
      tg.prefix(*live[0].cand.variant, scratch), merged->json_length ? "application/octet-stream" : "application/json",
      merged->json_length ? std::optional<std::string>(std::to_string(*merged->json_length)) : std::nullopt, batch_id,
      live[0].call->traceparent, timeout, merged->body.size());
  client_.send_prepared(tg.url, tg.host, std::move(head), std::move(merged->body), timeout,
                        [this, gen, q, members = std::move(live), t0, call_expiry, done](Result<HttpResponse> r) mutable {
                          // The slot goes to what waits before this call's answers are split and written:
                          // the target starts on the next call meanwhile, where it would otherwise idle
                          // for the n answers' worth of the router's time (docs/perf/proxy.md).
                          done(0);
                          batch_answered(gen, q, members, t0, call_expiry, std::move(r));
                        });
  return true;
}

void RouterService::batch_answered(const GenPtr& gen, BatchQueue* q, std::vector<Waiting>& members, TimePoint t0,
                                   TimePoint expiry, Result<HttpResponse> r) {
  const auto now = SteadyClock::now();
  // Takes m for this answer unless its own timer ended its attempt first. Under m's lock.
  auto take = [](Waiting& m) {
    if (!m.own) return true;
    if (std::exchange(m.own->settled, true)) return false;
    m.own->timer->cancel();
    return true;
  };
  std::vector<Waiting*> taken;
  taken.reserve(members.size());
  for (Waiting& m : members) {
    std::lock_guard<std::recursive_mutex> guard(m.call->mu);
    if (take(m)) taken.push_back(&m);
  }
  if (taken.empty()) return;
  if (r.ok() && r->status >= 400 && r->status < 500 && !retryable(r->status)) {
    // The target took the merged request for a client's mistake, which one member's input may
    // be: each is sent again on its own, in a slot of the queue, so that each gets the answer it
    // would have had. Should every one of them then succeed, the merge itself was refused (more
    // rows than the target takes, say), and merging pauses for this queue.
    batch_refused_->inc();
    struct Tally {
      std::atomic<int> left, ok{0};
    };
    auto tally = std::make_shared<Tally>();
    tally->left = static_cast<int>(taken.size());
    const int n = static_cast<int>(taken.size());
    const int status = r->status;
    {
      std::lock_guard lock(gen->batch_mu);
      q->inflight += static_cast<uint32_t>(taken.size());
    }
    for (Waiting* m : taken) {
      std::lock_guard<std::recursive_mutex> guard(m->call->mu);
      send_alone(m->call, m->cand, *q->target, m->since, [this, gen, q, tally, n, status](int alone) {
        if (alone >= 200 && alone < 300) ++tally->ok;
        if (--tally->left == 0 && tally->ok == n) {
          {
            std::lock_guard lock(gen->batch_mu);
            q->merging_paused_until = SteadyClock::now() + kMergePause;
          }
          telemetry::log_warn("batch_refused", {{"target", q->target->cfg->name}, {"status", status},
                                                {"requests", static_cast<int64_t>(n)},
                                                {"answered_alone", static_cast<int64_t>(tally->ok)}});
        }
        batch_done(gen, q);
      });
    }
    return;
  }
  if (!r.ok() || r->status < 200 || r->status >= 300) {
    // The call failed: each member falls back as it would have on its own, and the target's
    // breaker counts the one call, not its members (routing::Router::on_result).
    // A call that ran out of time is judged by its own start and limit: each member's verdict,
    // from its own wait and budget, still teaches the estimates, but which member came first is
    // chance. Its requests waited, so it never has the target's whole timeout: it is the
    // target's timeout once it has had twice the longest time predicted for one of them.
    const bool timed_out = !r.ok() && r.status().code() == Code::kDeadlineExceeded;
    if (timed_out) {
      Step call = members[0].cand;
      for (const Waiting& m : members) call.predicted_p95 = std::max(call.predicted_p95, m.cand.predicted_p95);
      gen->routing->call_result(call.ti, timeout_outcome(call, t0, expiry, now - t0));
    }
    // Each pays its share of the call (its time on the wire, not the members' waits before it).
    const double call_ms = to_ms(now - t0), n = static_cast<double>(taken.size());
    for (Waiting* m : taken)
      answered(m->call, m->cand, m->since, Result<HttpResponse>(r), false, Money::from_usd(attempt_cost(m->cand, call_ms).usd() / n),
               kUntracked, !timed_out && m == taken.front());
    return;
  }
  auto hl = r->headers.get("inference-header-content-length");
  std::vector<std::string_view> texts;
  auto whole = protocol::parse_infer_response(r->body, hl ? std::optional<std::string_view>(*hl) : std::nullopt, &texts);
  std::vector<protocol::BatchPart> forms;
  forms.reserve(members.size());
  int64_t rows = 0;
  for (const Waiting& m : members) {
    forms.push_back({m.call->head.get(), {}, m.call->batch->rows});
    rows += m.call->batch->rows;
  }
  // Rows of every member are in the answer, those ended by their own timers too.
  const Status split = whole.ok() ? protocol::check_split(*whole, forms) : whole.status();
  // Outputs the target wrote as JSON go to each member as it wrote them (batch.h).
  const protocol::RowCuts cuts = split.ok() && !texts.empty() ? protocol::cut_rows(*whole, texts, rows) : protocol::RowCuts{};
  auto timing = r->headers.get("server-timing");
  const auto st = timing ? parse_server_timing(*timing) : std::nullopt;
  // The call's cost and the target's service time are shared equally by the requests answered
  // (a request its own timer ended has its answer elsewhere, or none).
  const double n = static_cast<double>(taken.size());
  Duration service_share{}, target_queue{};
  if (st) {
    service_share = std::chrono::duration_cast<Duration>(st->infer / n);
    target_queue = st->queue;
  }
  const double call_ms = to_ms(now - t0);
  for (Waiting* mp : taken) {
    Waiting& m = *mp;
    const size_t k = static_cast<size_t>(mp - members.data());
    Call& c = *m.call;
    std::lock_guard<std::recursive_mutex> guard(c.mu);
    CoreRouting& routing = *c.gen->routing;
    const auto elapsed = now - m.since;
    const double ms = to_ms(elapsed);
    --c.outstanding;
    const bool judged = mp == taken.front();  // the breaker counts the call once
    if (!split.ok()) {
      routing.result(m.cand.ti, m.cand.vi, Outcome::kError, elapsed, judged);
      charge(c, m.cand, Money::from_usd(attempt_cost(m.cand, call_ms).usd() / n));  // it answered: it ran
      c.bad_gateway = true;
      fail_attempt(m.call, m.cand, "bad response to a merged request: " + split.message(), ms);
      continue;
    }
    const double service_ms = st ? std::min(to_ms(service_share), ms) : -1;
    if (st) {
      // What it waited here counts as queueing, as the target's own queue does. The service
      // sample is this request's share of the call, but the network's share of its latency is
      // what is left once the whole call's compute is out: the others' rows were computed while
      // it waited for its answer too (counted as network, they made a target busy with merged
      // calls look far away, and cut it from short budgets).
      const Duration others = std::chrono::duration_cast<Duration>(st->infer) - service_share;
      routing.result(m.cand.ti, m.cand.vi, Outcome::kOk, elapsed, service_share, target_queue + (t0 - m.since) + others,
                     judged);
    } else {
      routing.result(m.cand.ti, m.cand.vi, Outcome::kOk, elapsed, judged);
    }
    deliver_part(m.call, m.cand, *whole, forms, k, Money::from_usd(attempt_cost(m.cand, call_ms).usd() / n),
                 service_ms, cuts.texts.empty() ? nullptr : &cuts);
  }
}

}  // namespace hir::router
