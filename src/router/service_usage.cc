// RouterService and the usage ledger (docs/store.md "Usage ledger"): every answer to an
// inference request becomes one UsageRecord, submitted to the LedgerWriter as the answer is sent.
// submit() only appends to a bounded queue, so the request path never waits for the database.
#include <cctype>

#include "router/service.h"
#include "telemetry/log.h"

namespace hir::router {

namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The ledger's `outcome`: "ok", or the name of the error code the HTTP status stands for (the
// inverse of http_status() in core/status.h, plus the statuses only the router sends).
std::string outcome_for(int status) {
  if (status >= 200 && status < 300) return "ok";
  Code c = Code::kInternal;
  switch (status) {
    case 400: c = Code::kInvalidArgument; break;
    case 404: c = Code::kNotFound; break;
    case 405: c = Code::kMethodNotAllowed; break;
    case 413: c = Code::kPayloadTooLarge; break;
    case 408: case 504: c = Code::kDeadlineExceeded; break;
    case 429: c = Code::kResourceExhausted; break;
    case 501: c = Code::kUnimplemented; break;
    case 502: return "bad_gateway";  // a target answered wrongly: no Code says that
    case 503: c = Code::kUnavailable; break;
    default: c = status < 500 ? Code::kInvalidArgument : Code::kInternal;
  }
  std::string out(code_name(c));
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// A header value fit for the ledger: short and printable, else nothing (the ledger never keeps
// what could be a client's raw input).
std::string printable_or_empty(std::optional<std::string_view> v) {
  if (!v || v->size() > 128) return "";
  for (char c : *v)
    if (c < 0x21 || c > 0x7e) return "";
  return std::string(*v);
}

}  // namespace

net::Responder RouterService::recorded(const net::HttpRequest& req, std::shared_ptr<Usage> usage,
                                       net::Responder respond) {
  usage->start = SteadyClock::now();
  usage->rec.time_ms = unix_ms_now();
  usage->rec.tenant = printable_or_empty(req.headers.get("x-hir-tenant"));
  // Refusals before the body is read have no `id`: the client's x-request-id, if any, names them.
  usage->rec.request_id = printable_or_empty(req.headers.get("x-request-id"));
  return [this, usage = std::move(usage), respond = std::move(respond)](net::HttpResponse r) {
    if (usage->submitted.exchange(true)) return respond(std::move(r));  // the server ignores it too
    store::UsageRecord rec = usage->rec;
    rec.outcome = outcome_for(r.status);
    rec.latency_ms = to_ms(SteadyClock::now() - usage->start);
    if (rec.request_id.empty()) rec.request_id = std::string(r.headers.get("x-request-id").value_or(""));
    // Submitted before the answer is written, so every answer a client can see is already queued
    // when the HTTP drain ends and the ledger is flushed.
    if (!store_.ledger->submit(std::move(rec))) {
      int64_t now = unix_ms_now();
      int64_t last = overflow_logged_ms_.load();
      if (now - last >= 10000 && overflow_logged_ms_.compare_exchange_strong(last, now))
        telemetry::log_warn("ledger_overflow", {{"overflowed", static_cast<int64_t>(store_.ledger->counters().overflowed)},
                                                {"hint", "the usage ledger's queue is full; the database is slower than the traffic"}});
    }
    respond(std::move(r));
  };
}

void RouterService::export_ledger_metrics() {
  if (!store_.ledger) return;
  store::LedgerCounters c = store_.ledger->counters();
  std::lock_guard lock(ledger_export_mu_);
  // Counters move by the difference since the last scrape: the writer's are the source of truth.
  auto bump = [](telemetry::Counter* to, uint64_t now, uint64_t& seen) {
    if (now > seen) to->inc(static_cast<double>(now - seen));
    seen = std::max(seen, now);
  };
  bump(ledger_accepted_, c.accepted, ledger_seen_.accepted);
  bump(ledger_written_, c.written, ledger_seen_.written);
  bump(ledger_overflowed_, c.overflowed, ledger_seen_.overflowed);
  bump(ledger_lost_, c.lost, ledger_seen_.lost);
  bump(ledger_write_errors_, c.write_errors, ledger_seen_.write_errors);
  ledger_queue_->set(static_cast<double>(c.queued));
}

}  // namespace hir::router
