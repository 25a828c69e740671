// RouterService::Call, shared by the request path's files (service.cc, service_mcu.cc).
// Internal to the service: nothing outside src/router includes it.
#pragma once

#include <charconv>
#include <memory>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/text_writer.h"
#include "net/client.h"
#include "net/wire.h"
#include "protocol/batch.h"
#include "router/service.h"

namespace hir::router {

// Statuses after which another target may well succeed: the target lacks the variant, is
// overloaded or broken, redirects, or refuses our credentials (a router misconfiguration the
// client cannot fix). Other 4xx are the client's own mistake and are passed through.
inline bool retryable(int status) {
  return status >= 500 || (status >= 300 && status < 400) || status == 401 || status == 403 ||
         status == 404 || status == 407 || status == 408 || status == 429;
}

// The head of an inference request to a target, in two parts. The prefix is the same for every
// request to one target for one variant, and is written once per generation (service_gen.cc):
// POST to the variant's infer path after the target's base path, Host, and the target's
// credentials when it has a token (from the environment: left out, with its field, when it would
// split the message). The head adds the body's content type and header length, the request's id
// and trace, how long the router waits for it — a hir-worker skips a request still queued past
// that (docs/worker.md): whole milliseconds, rounded up, at least 1 — and the body's length. The
// fields hir writes are safe by construction (the id is telemetry::usable_request_id's or a new
// one, the traceparent parsed or made by TraceContext, the variant named by the configuration);
// the client's content type and header length are left out, with their field, when they would
// split the message. Written field by field from the constants here, in one string sized once: a
// generic field list, pieces and all, cost ~2k instructions a request (docs/perf/proxy.md,
// "Twenty-sixth pass").
inline std::string upstream_prefix(const net::Url& url, std::string_view host, std::string_view variant,
                                   std::string_view authorization) {
  std::string s = "POST ";
  s.append(url.base_path).append("/v2/models/").append(variant).append("/infer HTTP/1.1\r\nHost: ");
  s.append(host).append("\r\n");
  if (!authorization.empty() && net::wire::value_safe(authorization))
    s.append("Authorization: ").append(authorization).append("\r\n");
  return s;
}

inline std::string upstream_head(std::string_view prefix, std::string_view content_type,
                                 const std::optional<std::string>& header_length, std::string_view request_id,
                                 std::string_view traceparent, Duration timeout, size_t body_size) {
  using namespace std::string_view_literals;
  const auto ms = std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(timeout).count());
  const bool typed = net::wire::value_safe(content_type);
  const bool split = header_length && net::wire::value_safe(*header_length);
  // The names and separators below, and two numbers.
  constexpr size_t kFixed = 160 + 2 * TextWriter::kMaxNumber;
  std::string out;
  {
    TextWriter w(out, prefix.size() + content_type.size() + (header_length ? header_length->size() : 0) +
                          request_id.size() + traceparent.size() + kFixed);
    w.put(prefix);
    if (typed) {
      w.put("Content-Type: "sv);
      w.put(content_type);
      w.put("\r\n"sv);
    }
    if (split) {
      w.put("Inference-Header-Content-Length: "sv);
      w.put(*header_length);
      w.put("\r\n"sv);
    }
    w.put("x-request-id: "sv);
    w.put(request_id);
    w.put("\r\ntraceparent: "sv);
    w.put(traceparent);
    w.put("\r\nx-hir-timeout-ms: "sv);
    w.number(ms);
    w.put("\r\nContent-Length: "sv);
    w.number(body_size);
    w.put("\r\n\r\n"sv);
  }
  return out;
}

// What a target's answer costs: per request plus per second of the attempt.
inline Money attempt_cost(const CoreRouting::Step& cand, double attempt_ms) {
  return cand.target->cost_per_request + Money::from_usd(cand.target->cost_per_second.usd() * attempt_ms / 1000.0);
}

// How an attempt that ran out of time is learnt. The attempt's limit is the target's timeout or
// the request's deadline, whichever comes first. Cut by the deadline before twice the time the
// target was predicted to take, it says nothing of the target: a client with a budget too short
// for a healthy target would otherwise open its breaker for every other client. Past that, a
// target that no longer answers (hung, not refusing) is judged as at its own timeout, even when
// every request's budget is below that timeout.
inline routing::Outcome timeout_outcome(const CoreRouting::Step& cand, TimePoint t0, TimePoint deadline,
                                        Duration elapsed) {
  const bool cut_by_budget = deadline < t0 + cand.target->timeout;
  return cut_by_budget && elapsed < 2 * cand.predicted_p95 ? routing::Outcome::kAbandoned
                                                           : routing::Outcome::kTimeout;
}

// One client request on its way through the plan. Lives as long as an attempt holds it.
struct RouterService::Call {
  GenPtr gen;  // the routing generation the request started with; kept alive until it ends
  std::shared_ptr<Usage> usage;  // null: no ledger
  const ModelConfig* model = nullptr;
  std::string id;          // the request's `id`, echoed
  std::string request_id;  // for logs, the ledger and x-request-id: the client's x-request-id or generated
  std::string traceparent;
  std::string body;  // the client's body, forwarded byte for byte
  std::optional<std::string> header_length;
  std::string content_type;
  std::vector<CoreRouting::Step> steps;  // the plan: primary, then fallbacks
  size_t next = 0;
  int fallbacks = 0;
  TimePoint start;
  TimePoint deadline;
  std::string errors;  // "target: reason; ..." for the final error message
  bool timed_out = false;
  bool bad_gateway = false;
  // Whoever touches the Call once its first attempt is under way — an attempt's completion, the
  // hedge timer, an MCU answer posted back — holds this: with several I/O threads a hedged
  // request's two answers and its timer may run at once. Recursive because a completion starts
  // the next attempt, whose own failure may complete at once.
  std::recursive_mutex mu;
  // Hedging.
  std::optional<Duration> hedge_after;  // send a copy to the next step after this, if unanswered
  bool hedged = false;
  bool done = false;     // answered; later answers (a hedge's loser) are dropped
  int outstanding = 0;   // attempts on the wire
  std::shared_ptr<net::EventLoop::Timer> hedge_timer;
  // One per HTTP attempt sent; once the request is answered, the ones still on the wire (a
  // hedge's loser) are cancelled, so the target stops holding a thread for nobody.
  std::vector<std::shared_ptr<net::Cancellation>> wire;
  // What the request cost: every attempt charged so far (RouterService::charge). The ledger's
  // cost and the answer's hir_cost_usd.
  Money spent;
  // A hedged request's attempts on their way (the primary and its copy): whichever is still out
  // when the other answers is charged then, for its time so far (settle), since the target ran
  // it. Untracked (RouterService::kUntracked) when the request has no hedge: only one attempt is ever out.
  struct Out {
    uint32_t id;
    CoreRouting::Step cand;
    TimePoint t0;
  };
  std::vector<Out> out;
  uint32_t next_out = 0;
  net::Responder respond;
  // Set when the cache keeps answers for this model: the request's key, and the request without
  // its inputs, which says in which form (JSON or binary) a cached answer is sent.
  std::optional<cache::CacheKey> cache_key;
  InferRequest form;
  // The request's accuracy need (its hints): a cached answer serves it only from a variant that
  // meets it, as a target's would.
  std::optional<double> min_accuracy;
  double complexity = 0.5;
  // The parsed request, kept when the plan has an MCU pool step (the pool takes tensors, not
  // the body); and why steps were skipped because the input does not fit their devices.
  std::shared_ptr<const InferRequest> input;
  std::string skipped;
  // Set when it may share a call to a target with other requests (batching on, raw tensors of a
  // model with a batch dimension): its form and rows, its head, and where its tensors start in
  // `body` (service_batch.cc).
  std::optional<protocol::BatchForm> batch;
  std::shared_ptr<const InferRequest> head;
  size_t tensors_at = 0;
  // A JSON body's data arrays (offset, length in `body`), when the head reader found them: a
  // merge reads them from here instead of scanning the body again. Empty: scan it.
  std::vector<std::pair<size_t, size_t>> data_at;
  std::vector<int64_t> data_commas;  // each array's commas as the head reader counted them
  Duration waited{};  // of the attempt on the wire: how long it waited for a batch first
};

// Batching (service_batch.cc): a request waiting for its target, and one (target, variant)'s
// queue.
struct RouterService::Waiting {
  std::shared_ptr<Call> call;
  CoreRouting::Step cand;
  TimePoint since;   // when it was committed to the target: its latency there starts here
  TimePoint expiry;  // its deadline or the target's timeout counted from `since`, the earlier
  // In a merged call whose timeout is later than its expiry: a timer ends its attempt at the
  // expiry, and whichever of the timer and the call's answer comes first settles it (under the
  // call's lock).
  struct Own {
    bool settled = false;
    std::shared_ptr<net::EventLoop::Timer> timer;
  };
  std::shared_ptr<Own> own;
};

struct RouterService::BatchQueue {
  const Target* target = nullptr;
  uint32_t inflight = 0;  // calls on the wire, merged or not
  std::deque<Waiting> waiting;
  // Ends the waits that reach their expiry before a call returns; armed for the earliest.
  std::shared_ptr<net::EventLoop::Timer> timer;
  TimePoint timer_at = TimePoint::max();
  TimePoint merging_paused_until{};  // after the target refused a merged call
};

}  // namespace hir::router
