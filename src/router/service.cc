#include "router/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <span>

#include "cache/value.h"
#include "protocol/splice.h"
#include "protocol/tensor_data.h"
#include "protocol/v2_codec.h"
#include "router/admin_api.h"
#include "router/service_call.h"
#include "routing/registry.h"
#include "router/server_timing.h"
#include "protocol/v2_path.h"
#include "telemetry/log.h"
#include "telemetry/trace.h"
#include "protocol/hir_messages.h"

namespace hir::router {

using net::HttpRequest;
using net::HttpResponse;
using protocol::V2Endpoint;
using Step = CoreRouting::Step;
using routing::Outcome;

namespace {

double ms_since(TimePoint t) { return to_ms(SteadyClock::now() - t); }

// Failures that mean "the target is there but answered wrongly" make the final answer 502;
// refusals and overload make it 503.
bool bad_gateway(int status) { return status != 503 && status != 429 && status != 404; }


// What a client reads of a transport's failure: its kind, under the target's name. The
// transports' own messages name addresses (host:port, a device's URL), which are the
// operator's to read (attempt_failed), not every client's. The HTTP client gives the kinds its
// codes do not tell apart (net/client.h).
std::string_view failure_kind(const Status& failed) {
  if (!failed.kind().empty()) return failed.kind();
  switch (failed.code()) {
    case Code::kDeadlineExceeded: return "timed out";
    case Code::kResourceExhausted: return "too busy";
    case Code::kUnavailable:
      // An MCU pool's reason is its devices' last errors as text (McuDevice::last_error), so a
      // refused TCP bridge shows only in strerror(ECONNREFUSED)'s words.
      if (failed.message().find("Connection refused") != std::string::npos) return net::kFailureRefused;
      return "unavailable";
    default: return code_name(failed.code());
  }
}

// The target's own error text, shortened, for the message the client gets.
std::string upstream_reason(const HttpResponse& r) {
  std::string why = "HTTP " + std::to_string(r.status);
  if (r.body.find("\"error\"") == std::string::npos) return why;
  // A v2 error body's message, read as JSON (cutting the raw text left half an object).
  auto parsed = protocol::parse_infer_response(r.body, std::nullopt);
  if (!parsed.ok() && parsed.status().code() == Code::kInvalidArgument)
    why += ": " + parsed.status().message().substr(0, 160);
  return why;
}

// The id used in logs, in the ledger and sent on as x-request-id: the client's x-request-id when
// it is short and printable (anything else could not travel as a header; a client that sends one
// traces by it), else a new one. Never the body's `id`: clients reuse those ("readme-1"), which
// made different requests' lines and ledger rows share an id; the body's `id` is echoed in the
// answer and logged as client_id. Every answer to an inference request, a refusal included, and
// its log line share this id.
std::string request_id_for(const net::Headers& h) {
  if (auto x = h.get("x-request-id"); x && telemetry::usable_request_id(*x)) return std::string(*x);
  return telemetry::new_request_id();
}

// The hir_* parameters every answer from a target carries (docs: the v2 extensions of hir).
// The router's parameters on an answer, in key order (as a Parameters map holds them, so that both
// ways of building an answer write them alike). They refer to cand's names: used while cand is.
struct HirParameters {
  std::array<protocol::ParamRef, 6> items;
  size_t n = 0;
  std::span<const protocol::ParamRef> view() const { return {items.data(), n}; }
};

HirParameters hir_parameters(const Step& cand, Money cost, double total_ms, int fallbacks, bool hedged) {
  HirParameters p;
  auto add = [&p](std::string_view key, ParamView v) { p.items[p.n++] = {key, v}; };
  // Fixed point, written exactly: the cost to the nano-dollar it is kept in, the latency to the
  // microsecond (finer than any clock a client compares it with).
  add("hir_cost_usd", Decimal{cost.nano(), 9});
  add("hir_fallbacks", static_cast<int64_t>(fallbacks));
  if (hedged) add("hir_hedged", true);
  add("hir_latency_ms", Decimal{std::llround(std::clamp(total_ms, 0.0, 1e12) * 1000), 3});
  add("hir_target", std::string_view(cand.target->name));
  add("hir_variant", std::string_view(cand.variant->name));
  return p;
}

// A 200 answer for an encoded body, JSON or binary as its header length says.
HttpResponse encoded_answer(protocol::Encoded&& enc, const std::string& request_id) {
  using namespace std::string_view_literals;
  HttpResponse out{200, {}, std::move(enc.body)};
  // hir's own fields, written whole (HttpResponse::prewritten). The id is the client's only when
  // usable_request_id passed it: printable, no CR or LF.
  constexpr size_t kFixed = 96 + TextWriter::kMaxNumber;  // the names and separators, a number
  {
    TextWriter w(out.prewritten, kFixed + request_id.size());  // cuts it to size as it goes
    if (enc.json_length) {
      w.put("Content-Type: application/octet-stream\r\nInference-Header-Content-Length: "sv);
      w.number(*enc.json_length);
      w.put("\r\n"sv);
    } else {
      w.put("Content-Type: application/json\r\n"sv);
    }
    w.put("x-request-id: "sv);
    w.put(request_id);
    w.put("\r\n"sv);
  }
  return out;
}

}  // namespace

HttpResponse RouterService::v2_error(const Status& s) {
  return net::error_response(http_status(s.code()), s.message());
}

// The admin API reads and writes the database: on the store's thread, with a limit on the wait.
// A database that hangs, while the call waits its turn or while it runs (a PostgreSQL lock held
// elsewhere waits for as long as it is held), costs the admin client a 503 after kAdminWait (the
// call may still finish later, as after any timeout), and nothing else.
void RouterService::admin(HttpRequest&& req, net::Responder respond) {
  if (!store_work_) return respond(admin_->handle(req));  // no database: nothing blocks
  if (auto no = admin_->refused(req)) return respond(std::move(*no));  // on this thread, unqueued
  constexpr Duration kAdminWait = std::chrono::seconds(10);
  const std::string method = req.method, target = req.target;  // req moves into the queued call
  auto timer = loop_.run_after(kAdminWait, [respond] {
    respond(net::error_response(503, "the database did not answer within 10 s"));
  });
  if (!store_work_->post([this, req = std::move(req), respond, timer] {
        respond(admin_->handle(req));  // ignored when the timer answered first
        timer->cancel();
      })) {
    timer->cancel();
    HttpResponse busy = net::error_response(503, "the database is busy: too many admin calls waiting");
    AdminApi::log_refused(method, target, busy);
    respond(std::move(busy));
  }
}

void RouterService::handle(HttpRequest&& req, net::Responder respond) {
  auto path = net::path_of(req.target);
  if (path == "/v1/admin" || path.starts_with("/v1/admin/")) return admin(std::move(req), std::move(respond));
  GenPtr gen = current();
  if ((path == "/metrics" || path == "/v1/targets") && req.method != "GET")
    return respond(net::method_not_allowed("GET"));
  if (path == "/v1/route/explain") {
    if (req.method != "POST") return respond(net::method_not_allowed("POST"));
    return respond(explain_response(gen, req));
  }
  if (path == "/metrics") {
    if (cache_) cache_->export_metrics();
    mcus_->export_metrics();
    export_ledger_metrics();
    export_breaker_metrics(*gen);
    HttpResponse r{200, {}, metrics_.render()};
    r.headers.set("Content-Type", "text/plain; version=0.0.4");
    return respond(std::move(r));
  }
  if (path == "/v1/targets") return respond(net::json_response(200, targets_json(*gen)));
  auto p = protocol::parse_v2_path(path);
  if (p.endpoint == V2Endpoint::kUnknown) return respond(net::error_response(404, p.error));
  // A GET on .../infer is no inference request: answered 405 before the ledger sees it.
  if (req.method != protocol::v2_method(p.endpoint))
    return respond(net::method_not_allowed(protocol::v2_method(p.endpoint)));
  std::shared_ptr<Usage> usage;
  if (p.endpoint == V2Endpoint::kInfer && store_.ledger) {
    // From here on every answer to an inference request, refusals included, reaches the ledger.
    usage = std::make_shared<Usage>();
    usage->rec.model = p.model;
    respond = recorded(req, usage, std::move(respond));
  }

  const ModelConfig* model = nullptr;
  if (!p.model.empty()) {
    model = gen->cfg->find_model(p.model);
    // An inference request for a model or version not configured is counted and logged like any
    // refused inference, and named by x-request-id as every other answer to one is; the name is
    // the client's, so it is cut short in the log and never becomes a metric label.
    auto refuse_unknown = [&](HttpResponse r, std::string_view error, std::string_view version) {
      if (p.endpoint == V2Endpoint::kInfer) {
        unknown_model_->inc();
        const std::string id = request_id_for(req.headers);
        if (version.empty())
          telemetry::log_info("request_invalid", {{"request_id", id}, {"model", std::string_view(p.model).substr(0, 128)},
                                                  {"status", 404}, {"error", error}});
        else
          telemetry::log_info("request_invalid", {{"request_id", id}, {"model", p.model},
                                                  {"version", version.substr(0, 128)}, {"status", 404}, {"error", error}});
        r.headers.set("x-request-id", id);
      }
      return respond(std::move(r));
    };
    if (!model)
      return refuse_unknown(net::error_response(404, "Request for unknown model: " + quote(p.model) + " is not found"),
                            "unknown model", {});
    if (!p.version.empty() &&
        std::find(model->signature.versions.begin(), model->signature.versions.end(), p.version) ==
            model->signature.versions.end())
      return refuse_unknown(net::error_response(404, "Request for unknown model: " + quote(p.model) + " version " +
                                                         clip(p.version) + " is not found"),
                            "unknown model version", p.version);
  }
  switch (p.endpoint) {
    case V2Endpoint::kServerMetadata:
      return respond(net::json_response(
          200, protocol::encode_server_metadata("hir", HIR_VERSION, {"binary_tensor_data", "hir_routing"})));
    case V2Endpoint::kLive: return respond(net::json_response(200, R"({"live":true})"));
    case V2Endpoint::kReady:
      if (!ready_) return respond(net::error_response(503, "server is shutting down"));
      return respond(net::json_response(200, R"({"ready":true})"));
    case V2Endpoint::kModelList: return respond(model_list_response(*gen));
    case V2Endpoint::kModelMetadata: return respond(metadata_response(*gen, p.model));
    case V2Endpoint::kModelReady: {
      // Ready when a request for it would find a target to try; the server's own readiness
      // (above) stays up meanwhile, so one model without targets does not take the others out
      // of a load balancer.
      const bool ready = ready_ && gen->routing->can_serve(*model);
      std::string body = R"({"name":)";
      protocol::append_json_string(body, p.model);
      body += ready ? R"(,"ready":true})" : R"(,"ready":false})";
      return respond(net::json_response(ready ? 200 : 503, std::move(body)));
    }
    case V2Endpoint::kModelConfig:
      return respond(net::json_response(200, protocol::encode_model_config(model->signature)));
    case V2Endpoint::kInfer:
      return infer(std::move(gen), std::move(req), *model, p.version, std::move(respond), std::move(usage));
    case V2Endpoint::kUnknown: break;
  }
  respond(net::error_response(404, "Not Found"));
}

// A request refused before routing because it is malformed: answered 400 with the reason, and
// counted and logged so that an operator sees a client sending bad requests (the log line has
// the reason and the request's id, never the body). The answer carries that id as x-request-id,
// as a 200 would: the client can name the refusal to whoever reads the log.
void RouterService::refuse_invalid(Call& call, const net::Headers& h, const Status& s, std::string_view client_id) {
  call.gen->model_metrics[model_pos(*call.gen, call.model)].invalid->inc();
  if (call.request_id.empty()) call.request_id = request_id_for(h);
  // The body's `id` once the body was read ("" before): the client's name for the request.
  telemetry::log_info("request_invalid", {{"request_id", call.request_id}, {"client_id", clip(client_id)},
                                          {"model", call.model->signature.name}, {"status", http_status(s.code())},
                                          {"error", s.message()}});
  HttpResponse r = v2_error(s);
  r.headers.set("x-request-id", call.request_id);
  call.respond(std::move(r));
}

// A client sends one model the same head again and again (but for the id): the last head that fit
// on this thread is remembered by its serial, with the generation and model it fit, and not
// checked again (~200 instructions and ~20 lines of code a request).
bool RouterService::head_fits(const Generation& gen, const ModelConfig& model, const protocol::HeadView& head) {
  struct Fit {
    uint64_t head = 0;  // HeadView::serial; 0: none
    uint64_t gen = 0;   // Generation::serial: the model's address is only its generation's
    const ModelConfig* model = nullptr;
  };
  thread_local Fit last;
  if (head.serial != 0 && head.serial == last.head && gen.serial == last.gen && &model == last.model) return true;
  if (!validate_request(*head.head, model.signature, false).ok()) return false;
  if (head.serial != 0) last = {head.serial, gen.serial, &model};
  return true;
}

// Shed (429 + Retry-After) or no target can serve (503), as the routing core decided.
HttpResponse RouterService::refusal(const Status& s, Duration retry_after) {
  if (s.code() != Code::kResourceExhausted) return v2_error(s);
  HttpResponse r = net::error_response(429, s.message());
  auto secs = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(retry_after + std::chrono::milliseconds(999)).count());
  r.headers.set("Retry-After", std::to_string(secs));
  shed_->inc();
  return r;
}

void RouterService::infer(GenPtr gen, HttpRequest&& req, const ModelConfig& model, std::string_view version,
                          net::Responder respond, std::shared_ptr<Usage> usage, std::optional<TimePoint> consulted) {
  auto call = std::make_shared<Call>();
  call->gen = std::move(gen);
  call->usage = std::move(usage);
  call->start = consulted.value_or(SteadyClock::now());
  call->model = &model;
  call->respond = std::move(respond);
  if (auto h = req.headers.get("inference-header-content-length")) call->header_length = std::string(*h);

  // The body goes on as it came, so only its head is read (ids, hints, names, shapes: what
  // routing needs, v2_codec.h) — unless this model's answers are cached (the key hashes the
  // tensors). Whatever the head reader refuses, the full parser reads or names the error.
  const bool raw = protocol::is_raw_binary(call->header_length);
  // A JSON body's data arrays, as the head reader found them: merging takes them from here.
  std::vector<std::string_view> data_texts;
  std::vector<int64_t> data_commas;
  const bool want_texts = cfg_.batching.on() && !call->header_length;
  const bool cached = cache_ && cache_->caches(model.signature.name);
  const bool head_only = !raw && !cached;
  // The head as the reader keeps it, not copied: a request that is only forwarded reads its id,
  // hints and shapes there (the copy cost 3 allocations and ~700 instructions a request). It is
  // valid while this call runs; `full` owns the request where one is needed beyond that.
  Result<protocol::HeadView> view =
      head_only ? protocol::view_infer_request_head(req.body, call->header_length,
                                                    want_texts ? &data_texts : nullptr, &data_commas)
                : Result<protocol::HeadView>(InvalidArgument("not parsed"));
  bool with_data = !(head_only && view.ok() && head_fits(*call->gen, model, *view));
  std::optional<InferRequest> full;
  const InferRequest* head = nullptr;  // what is read of the request: *full once there is one
  // The model and version come from the path: part of the cache key ("" is the server's choice).
  auto name = [&](InferRequest& r) {
    r.model_name = model.signature.name;
    r.model_version = std::string(version);
  };
  // Reads the whole body, tensors included, and checks them against the signature; a request
  // refused is answered here (false).
  auto read_full = [&](std::string_view body) {
    // Raw binary bodies (header length 0) carry no JSON: they are checked against the signature.
    auto r = raw ? protocol::parse_raw_binary_request(body, model.signature)
                 : protocol::parse_infer_request(body, call->header_length);
    Status s = r.ok() ? validate_request(*r, model.signature) : r.status();
    if (!s.ok()) {
      // Named by its id as read, or as the head reader read it when the full parser refused it.
      refuse_invalid(*call, req.headers, s, r.ok() ? std::string_view(r->id) : view.ok() ? view->id : std::string_view());
      return false;
    }
    name(*r);
    full = std::move(*r);
    head = &*full;
    with_data = true;
    return true;
  };
  if (with_data && !read_full(req.body)) return;
  if (!full) head = view->head;
  call->id = full ? std::string_view(full->id) : view->id;
  bool hints_cut = false;  // hir's hints are out of the body that goes on, and out of `full`
  // The request as this call keeps it: the head copied, with this body's id, model and version.
  auto own = [&]() -> InferRequest& {
    if (!full) {
      full = *head;
      full->id = call->id;
      name(*full);
      if (hints_cut) strip_hints(full->parameters);
      head = &*full;
    }
    return *full;
  };
  auto hints = parse_hints(head->parameters, req.headers);
  if (!hints.ok()) return refuse_invalid(*call, req.headers, hints.status(), call->id);
  call->request_id = request_id_for(req.headers);
  if (call->usage) call->usage->rec.request_id = call->request_id;
  auto incoming = req.headers.get("traceparent");
  auto trace = incoming ? telemetry::TraceContext::parse(*incoming) : std::nullopt;
  call->traceparent = trace ? trace->child().header() : telemetry::TraceContext::new_header();
  if (cached) {  // then the whole request was read (`full`)
    call->cache_key = cache_->key_for(own(), model.signature.name);
    if (call->cache_key) {
      call->form.parameters = head->parameters;
      call->form.outputs = head->outputs;
      call->min_accuracy = hints->min_accuracy;
      call->complexity = hints->complexity;
      bool ask_redis = false;
      if (!consulted) {
        auto hit = cache_->lookup_local(*call->cache_key, model.signature.name, cache::Use::kFreshHit, &ask_redis);
        if (serve_from_cache(*call, hit, cache::Use::kFreshHit)) return;
      }
      if (ask_redis) {
        // Redis is asked off this thread; on a miss the request comes back here with the cache
        // consulted, and is read again: a cached model's request is parsed whole (its key hashes
        // the tensors), ~10 µs for one JSON image, about a Redis round trip, and only on this path.
        auto resume = [this, call, req = std::move(req), m = &model, v = std::string(version)](bool answered) mutable {
          if (!answered)
            infer(call->gen, std::move(req), *m, v, std::move(call->respond), std::move(call->usage), call->start);
        };
        return ask_redis_then(call, cache::Use::kFreshHit, std::move(resume));
      }
    }
  }
  Duration retry_after{};
  auto plan = call->gen->routing->decide(model, *hints, false, &retry_after);
  if (!plan.ok()) {
    // Refused before any target was tried: counted and logged like every other answer, so an
    // operator sees why (the reason names the constraint that cut the last candidates).
    auto refuse = [this, call, status = plan.status(), retry_after](bool answered) {
      if (answered) return;
      const bool shed = status.code() == Code::kResourceExhausted;
      if (!shed) refused_->inc();
      HttpResponse r = refusal(status, retry_after);
      r.headers.set("x-request-id", call->request_id);  // as every other answer to a read request
      // Shedding is the router working as configured under overload: info, not warn.
      telemetry::log(shed ? telemetry::Level::kInfo : telemetry::Level::kWarn, shed ? "request_shed" : "request_refused",
                     {{"request_id", call->request_id}, {"client_id", clip(call->id)}, {"traceparent", call->traceparent},
                      {"model", call->model->signature.name}, {"status", r.status}, {"reason", status.message()}});
      call->respond(std::move(r));
    };
    // No target can serve at all (every one ejected or unhealthy) is "every target failed".
    if (plan.status().code() == Code::kUnavailable) return from_cache_then(call, cache::Use::kStaleIfError, std::move(refuse));
    return refuse(false);
  }

  const bool mcu_step =
      std::any_of(plan->steps.begin(), plan->steps.end(), [](const Step& st) { return st.target->is_mcu_pool(); });
  // An MCU pool takes tensors, not the body: read them now, and refuse what they hold wrongly.
  if (mcu_step && !with_data && !read_full(req.body)) return;
  call->content_type = std::string(req.headers.get("content-type").value_or("application/json"));
  const std::string_view before(req.body);
  call->body = std::move(req.body);
  // Kept as offsets: the views were into the request's buffer, which the move handed over (a
  // body with data arrays is never short enough to be stored inline), checked all the same.
  if (!with_data && std::string_view(call->body).data() == before.data()) {
    for (std::string_view t : data_texts) call->data_at.emplace_back(static_cast<size_t>(t.data() - before.data()), t.size());
    call->data_commas = std::move(data_commas);
  }
  std::vector<std::string> hint_keys;
  if (count_hints(head->parameters, &hint_keys) > 0) {
    call->data_at.clear();  // the body is written anew below
    call->data_commas.clear();
    // Targets must not see hir's hints (Triton rejects a string `priority`): the request's JSON
    // header loses those keys and keeps every other byte; a header the scanner cannot take is
    // written again from the parsed request (binary tensors copied as they are, not converted).
    auto cut = protocol::remove_request_parameters(call->body, call->header_length, hint_keys);
    if (!cut.ok() && !with_data && !read_full(call->body)) return;
    hints_cut = true;
    if (full) strip_hints(full->parameters);  // what is kept below goes on without them too
    auto enc = cut.ok() ? std::move(*cut) : protocol::encode_infer_request(*full, call->header_length.has_value());
    call->body = std::move(enc.body);
    call->header_length.reset();
    call->content_type = "application/json";
    if (enc.json_length) {
      call->header_length = std::to_string(*enc.json_length);
      call->content_type = "application/octet-stream";
    }
  }
  call->deadline = call->start + hints->latency_budget.value_or(cfg_.server.default_budget);
  call->steps = std::move(plan->steps);
  if (plan->hedge_after && call->steps.size() > 1) call->hedge_after = plan->hedge_after;
  // A hedged request is never merged: its copy must not wait for anyone else.
  if (cfg_.batching.on() && !call->hedge_after) {
    // The form of the request as it goes on: without hir's hints, which would keep it alone.
    if (hints_cut) own();
    if (!call->header_length) {
      call->batch = protocol::batch_form(*head, std::nullopt, model.signature);
    } else {
      const std::string& h = *call->header_length;
      size_t hl = 0;
      auto [end, ec] = std::from_chars(h.data(), h.data() + h.size(), hl);
      if (ec == std::errc() && end == h.data() + h.size() && hl > 0 && hl <= call->body.size()) {
        call->batch = protocol::batch_form(*head, call->body.size() - hl, model.signature);
        call->tensors_at = hl;
      }
    }
  }
  if (mcu_step || call->batch) {
    auto kept = std::make_shared<const InferRequest>(std::move(own()));
    if (mcu_step) call->input = kept;
    if (call->batch) call->head = std::move(kept);
  }
  inflight_.add(1);
  attempt(std::move(call));
}

void RouterService::arm_hedge(const std::shared_ptr<Call>& call) {
  if (call->next != 1 || !call->hedge_after) return;
  // A critical request near its budget: if the primary has not answered by then, send the same
  // request to the next step too and take whichever answers first (Dean & Barroso, "The Tail at
  // Scale", 2013). An HTTP loser is cancelled once the winner answers (Call::wire): its
  // connection closes, and its outcome still feeds the routing core.
  call->hedge_timer = loop_.run_after(*call->hedge_after, [this, call] {
    std::lock_guard<std::recursive_mutex> guard(call->mu);
    // Only while the primary is the one attempt: once it failed, its fallback went out at once
    // (fail_attempt), and a timer whose cancel came too late (several I/O threads) must not send
    // a third step alongside it.
    if (call->done || call->hedged || call->next != 1 || call->next >= call->steps.size()) return;
    if (call->deadline <= SteadyClock::now()) return;
    call->hedged = true;
    hedges_->inc();
    attempt(call);
  });
}

void RouterService::attempt(std::shared_ptr<Call> call) {
  std::lock_guard<std::recursive_mutex> guard(call->mu);
  if (call->next >= call->steps.size() && call->fallbacks == 0 && !call->skipped.empty())
    return finish_error(call, 400, "no planned target takes this input: " + call->skipped);
  if (call->next >= call->steps.size())
    return finish_error(call, call->bad_gateway ? 502 : call->timed_out ? 504 : 503,
                        fmt::format("all {} target(s) failed: {}", call->steps.size(), call->errors));
  auto remaining = call->deadline - SteadyClock::now();
  if (remaining <= Duration::zero())
    return finish_error(call, 504, "latency budget exhausted after " + std::to_string(call->fallbacks) +
                                       " attempt(s): " + call->errors);
  Step cand = call->steps[call->next++];
  const Target* tgp = target_of(*call->gen, cand.target);
  if (!tgp) return fail_attempt(call, cand, "not a configured target", 0);
  const Target& tg = *tgp;
  if (cand.target->is_mcu_pool()) return attempt_mcu(std::move(call), cand, tg, remaining);
  if (batchable(*call, cand)) return enqueue(std::move(call), cand, tg);
  send_alone(std::move(call), cand, tg, std::nullopt);
}

std::string_view RouterService::Target::prefix(const VariantConfig& variant, std::string& scratch) const {
  for (const auto& [v, text] : prefixes)
    if (v == &variant) return text;
  scratch = upstream_prefix(url, host, variant.name, authorization);
  return scratch;
}

void RouterService::send_alone(std::shared_ptr<Call> call, const Step& cand, const Target& tg,
                               std::optional<TimePoint> committed, std::function<void(int)> done) {
  // Kept for a later attempt (a fallback or a hedge) while one may follow; the last step takes it.
  std::string body = call->next < call->steps.size() ? call->body : std::move(call->body);
  const auto now = SteadyClock::now();
  const auto t0 = committed.value_or(now);
  auto timeout = std::max(Duration::zero(), std::min(t0 + tg.cfg->timeout, call->deadline) - now);
  std::string scratch;
  std::string head = upstream_head(tg.prefix(*cand.variant, scratch), call->content_type, call->header_length,
                                   call->request_id, call->traceparent, timeout, body.size());
  if (!committed) {
    call->gen->routing->dispatched(cand.ti);
    ++call->outstanding;
  }
  arm_hedge(call);
  // Only a hedged request can have a loser to cancel; the others skip the bookkeeping.
  std::shared_ptr<net::Cancellation> cancel;
  uint32_t out_id = kUntracked;
  if (call->hedge_after) {
    cancel = std::make_shared<net::Cancellation>();
    call->wire.push_back(cancel);
    out_id = track(*call, cand, t0);
  }
  // The time it waited for a batch is queueing, as the target's own queue is (finish_ok).
  call->waited = now - t0;
  client_.send_prepared(tg.url, tg.host, std::move(head), std::move(body), timeout,
                        [this, call, cand, t0, cancel, out_id, done = std::move(done)](Result<HttpResponse>&& r) {
    const int status = r.ok() ? r->status : 0;
    if (done) done(status);  // a batch queue's slot: freed first, as for a merged call
    answered(call, cand, t0, std::move(r), cancel && cancel->cancelled(), std::nullopt, out_id);
  }, cancel);
}

void RouterService::answered(const std::shared_ptr<Call>& call, const Step& cand, TimePoint t0,
                             Result<HttpResponse>&& r, bool cancelled, std::optional<Money> price, uint32_t out_id,
                             bool judged) {
  std::lock_guard<std::recursive_mutex> guard(call->mu);
  came_back(*call, out_id);  // under the lock that settle() takes: charged once, by one of them
  CoreRouting& routing = *call->gen->routing;
  struct CancelLosers {  // however this answer is handled, below
    Call& c;
    ~CancelLosers() {
      if (c.done)
        for (auto& w : c.wire) w->cancel();
    }
  } losers{*call};
  auto elapsed = SteadyClock::now() - t0;
  double ms = to_ms(elapsed);
  --call->outstanding;
  const bool timeout = !r.ok() && r.status().code() == Code::kDeadlineExceeded;
  const Outcome failed = timeout ? timeout_outcome(cand, t0, call->deadline, elapsed) : Outcome::kRefused;
  if (call->done) {  // a hedge's loser: its outcome still teaches the routing core
    // Cancelled by us once the other copy answered: no judgement on the target, whose breaker
    // would otherwise open for losing races it runs correctly. It was charged then (settle).
    auto o = cancelled ? Outcome::kAbandoned : !r.ok() ? failed : r->status < 300 ? Outcome::kOk : Outcome::kError;
    routing.result(cand.ti, cand.vi, o, elapsed, judged);
    return;
  }
  if (!price) price = attempt_cost(cand, ms);
  if (!r.ok()) {
    call->timed_out |= timeout;
    routing.result(cand.ti, cand.vi, failed, elapsed, judged);
    if (timeout) charge(*call, cand, *price);  // it was on the wire: the target may have run it
    return fail_attempt(call, cand, r.status(), ms);
  }
  if (r->status >= 200 && r->status < 300) return finish_ok(call, cand, std::move(*r), ms);
  if (retryable(r->status)) {
    call->bad_gateway |= bad_gateway(r->status);
    bool busy = r->status == 503 || r->status == 429;
    routing.result(cand.ti, cand.vi, busy ? Outcome::kOverloaded : Outcome::kError, elapsed, judged);
    if (!busy) charge(*call, cand, *price);  // it ran and failed; a busy target ran nothing
    return fail_attempt(call, cand, upstream_reason(*r), ms);
  }
  routing.result(cand.ti, cand.vi, Outcome::kOk, elapsed, judged);  // it answered, correctly, a bad request
  pass_through(call, cand, std::move(*r));
}

void RouterService::fail_attempt(std::shared_ptr<Call> call, const Step& cand,
                                 const std::string& why, double ms) {
  fail_attempt(std::move(call), cand, why, why, ms);
}

void RouterService::fail_attempt(std::shared_ptr<Call> call, const Step& cand, const Status& failed, double ms) {
  fail_attempt(std::move(call), cand, failed.message(), std::string(failure_kind(failed)), ms);
}

// `why` goes to the operator's attempt_failed line; `told`, to the client's answer if every
// attempt fails.
void RouterService::fail_attempt(std::shared_ptr<Call> call, const Step& cand, const std::string& why,
                                 const std::string& told, double ms) {
  if (size_t i = target_pos(*call->gen, cand.target); i < call->gen->target_metrics.size())
    call->gen->target_metrics[i].attempt_failures->inc();
  telemetry::log_warn("attempt_failed", {{"request_id", call->request_id}, {"traceparent", call->traceparent},
                                         {"target", cand.target->name}, {"variant", cand.variant->name},
                                         {"reason", why}, {"ms", ms}});
  if (!call->errors.empty()) call->errors += "; ";
  call->errors += cand.target->name + ": " + told;
  ++call->fallbacks;
  if (call->outstanding > 0) return;  // a hedge is still on the wire: it continues the chain
  if (call->hedge_timer) call->hedge_timer->cancel();  // the fallback goes now, no hedge needed
  attempt(std::move(call));
}

// The client's own mistake, as the target judged it: its answer goes back as it is, but always
// as a JSON {"error": ...} so the v2 contract holds whatever the target sent.
void RouterService::pass_through(std::shared_ptr<Call> call, const Step& cand, HttpResponse&& r) {
  settle(*call);
  pair_metrics(*call->gen, call->model, cand.target).client_error->inc();
  if (call->usage) {
    call->usage->rec.target = cand.target->name;
    call->usage->rec.variant = cand.variant->name;
    call->usage->rec.hw_class = std::string(hardware_class_name(cand.target->hw));
    call->usage->rec.fallbacks = static_cast<uint32_t>(call->fallbacks);
    call->usage->rec.cost = call->spent;  // a 4xx is not charged; earlier attempts may have been
  }
  inflight_.add(-1);
  bool json_error = !r.body.empty() && r.body.front() == '{' && r.body.find("\"error\"") != std::string::npos;
  // The target's body, not its headers: its Server, its Server-Timing, its framing are its own.
  HttpResponse out = json_error ? net::json_response(r.status, std::move(r.body))
                                : net::error_response(r.status, "target " + cand.target->name + ": HTTP " +
                                                                    std::to_string(r.status) + ": " +
                                                                    r.body.substr(0, 200));
  out.headers.set("x-request-id", call->request_id);
  // One line per answer (docs/operations.md), this one too: the target's verdict, not its body.
  telemetry::log_info("request", {{"request_id", call->request_id}, {"client_id", clip(call->id)}, {"traceparent", call->traceparent},
                                  {"model", call->model->signature.name}, {"target", cand.target->name},
                                  {"variant", cand.variant->name}, {"status", out.status},
                                  {"latency_ms", ms_since(call->start)}, {"fallbacks", call->fallbacks}});
  call->respond(std::move(out));
}

void RouterService::settle(Call& call, TimePoint now) {
  call.done = true;
  if (call.hedge_timer) call.hedge_timer->cancel();
  // A hedge's loser, still on its way: the target runs it until the cancel reaches it.
  for (const Call::Out& o : call.out) charge(call, o.cand, attempt_cost(o.cand, to_ms(now - o.t0)));
  call.out.clear();
}

void RouterService::charge(Call& call, const Step& cand, Money cost) {
  call.spent += cost;
  call.gen->routing->cost(cand.ti, cost);
  if (size_t i = target_pos(*call.gen, cand.target); i < call.gen->target_metrics.size())
    call.gen->target_metrics[i].cost->inc(cost.usd());
}

uint32_t RouterService::track(Call& call, const Step& cand, TimePoint t0) {
  const uint32_t id = call.next_out++;
  call.out.push_back({id, cand, t0});
  return id;
}

bool RouterService::came_back(Call& call, uint32_t id) {
  if (id == kUntracked) return true;
  auto it = std::find_if(call.out.begin(), call.out.end(), [id](const Call::Out& o) { return o.id == id; });
  if (it == call.out.end()) return false;
  call.out.erase(it);
  return true;
}

Money RouterService::out_cost(const Call& call, TimePoint now) {
  Money m;
  for (const Call::Out& o : call.out) m += attempt_cost(o.cand, to_ms(now - o.t0));
  return m;
}

void RouterService::finish_ok(std::shared_ptr<Call> call, const Step& cand, HttpResponse&& upstream,
                              double attempt_ms) {
  auto hl = upstream.headers.get("inference-header-content-length");
  const auto header = hl ? std::optional<std::string_view>(*hl) : std::nullopt;
  // Decoding the answer and encoding it again costs more than anything else per request
  // (docs/perf/proxy.md, profile): a plain 200 gets its JSON header edited instead. The cache
  // keeps decoded answers, so a cached model takes the full path; so does anything the splice
  // cannot match exactly (splice.h), a broken answer included, which the full path then refuses.
  std::optional<protocol::Encoded> spliced;
  const Money cost = attempt_cost(cand, attempt_ms);
  const TimePoint now = SteadyClock::now();
  double total_ms = 0;
  if (upstream.status == 200 && !call->cache_key) {
    total_ms = to_ms(now - call->start);
    // What the request cost once settled below: this attempt, those charged before, a hedge's
    // loser up to now.
    const Money total = call->spent + cost + out_cost(*call, now);
    const HirParameters extra = hir_parameters(cand, total, total_ms, call->fallbacks, call->hedged);
    auto r = protocol::splice_response_header(upstream.body, header, {call->id, call->model->signature.name, "1", extra.view()});
    if (r.ok()) spliced = std::move(*r);
  }
  // A spliced answer has passed the same checks as this parse (splice.h): nothing to decode.
  Result<InferResponse> parsed = spliced ? Result<InferResponse>(InferResponse{})
                                         : protocol::parse_infer_response(upstream.body, header);
  if (!parsed.ok()) {
    // A target that answers 200 with garbage is broken: try the next one.
    call->gen->routing->result(cand.ti, cand.vi, Outcome::kError, from_ms(attempt_ms));
    call->bad_gateway = true;
    charge(*call, cand, cost);  // it answered: it ran
    return fail_attempt(call, cand, "bad response: " + parsed.status().message(), attempt_ms);
  }
  // A worker's own account of the call (docs/worker.md): the model's time is the service time,
  // and what is left of the latency after its queue is the network's. Without it (another kind
  // of endpoint, or a header that does not parse) the core splits the latency itself. Read when
  // first needed: a spliced answer without a ledger row to fill goes out before it is read.
  std::optional<ServerTiming> st;
  bool timing_read = false;
  auto timing = [&]() -> const std::optional<ServerTiming>& {
    if (!timing_read) {
      auto header = upstream.headers.get("server-timing");
      st = header ? parse_server_timing(*header) : std::nullopt;
      timing_read = true;
    }
    return st;
  };
  // For the ledger: the worker's own figure, at most what the call took as the router saw it.
  auto service_ms = [&] { return timing() ? std::min(to_ms(timing()->infer), attempt_ms) : -1.0; };
  auto learn = [&] {
    if (timing())
      call->gen->routing->result(cand.ti, cand.vi, Outcome::kOk, from_ms(attempt_ms), st->infer, st->queue + call->waited);
    else call->gen->routing->result(cand.ti, cand.vi, Outcome::kOk, from_ms(attempt_ms));
  };
  if (!spliced) {
    learn();
    return deliver(std::move(call), cand, std::move(*parsed), cost, service_ms());
  }
  charge(*call, cand, cost);
  settle(*call, now);
  HttpResponse out = encoded_answer(std::move(*spliced), call->request_id);
  // The answer goes out first; what the routing core learns from it, on this same thread, after.
  // The service time goes only to the ledger row, which is written as the answer goes.
  respond_ok(call, cand, total_ms, call->usage ? service_ms() : -1.0, std::move(out));
  learn();
}

void RouterService::deliver(std::shared_ptr<Call> call, const Step& cand, InferResponse&& resp, Money cost,
                            double service_ms) {
  charge(*call, cand, cost);
  settle(*call);
  double total_ms = ms_since(call->start);
  resp.model_name = call->model->signature.name;
  resp.model_version = "1";
  resp.id = call->id;
  if (call->cache_key) {
    // A NaN or infinity is the target's to answer once (it goes back as it came), not an answer
    // to keep and give to other requests.
    const bool finite = std::all_of(resp.outputs.begin(), resp.outputs.end(), [](const Tensor& t) {
      return protocol::detail::finite_values(t.datatype, t.data);
    });
    if (finite) {
      // Kept with the entry (and in a hit's answer): which variant computed it.
      resp.parameters[std::string(cache::kVariantParam)] = cand.variant->name;
      cache_->store(*call->cache_key, resp.model_name, resp);
      resp.parameters.erase(std::string(cache::kVariantParam));  // the answer's own comes with the rest
    }
    resp.parameters["hir_cache"] = "miss";
  }
  const HirParameters extra = hir_parameters(cand, call->spent, total_ms, call->fallbacks, call->hedged);
  HttpResponse out = encoded_answer(protocol::encode_infer_response(resp, extra.view()), call->request_id);
  respond_ok(std::move(call), cand, total_ms, service_ms, std::move(out));
}

void RouterService::deliver_part(std::shared_ptr<Call> call, const Step& cand, const InferResponse& whole,
                                 std::span<const protocol::BatchPart> parts, size_t k, Money cost,
                                 double service_ms, const protocol::RowCuts* cuts) {
  if (call->cache_key) return deliver(std::move(call), cand, protocol::split_part(whole, parts, k), cost, service_ms);
  charge(*call, cand, cost);
  settle(*call);
  const double total_ms = ms_since(call->start);
  const HirParameters extra = hir_parameters(cand, call->spent, total_ms, call->fallbacks, call->hedged);
  auto enc = protocol::encode_split_answer(whole, parts, k, {call->id, call->model->signature.name, "1", extra.view()}, cuts);
  respond_ok(std::move(call), cand, total_ms, service_ms, encoded_answer(std::move(enc), call->request_id));
}

// A success, however its answer was built: metrics, the ledger row, the log line, the answer.
void RouterService::respond_ok(std::shared_ptr<Call> call, const Step& cand, double total_ms,
                               double service_ms, HttpResponse&& out) {
  const std::string& model = call->model->signature.name;
  Generation& gen = *call->gen;
  auto& pm = pair_metrics(gen, call->model, cand.target);
  pm.ok->inc();
  pm.duration->observe(total_ms / 1000.0);
  if (call->fallbacks > 0) gen.model_metrics[model_pos(gen, call->model)].fallbacks->inc();
  if (call->usage) {
    store::UsageRecord& u = call->usage->rec;
    u.target = cand.target->name;
    u.variant = cand.variant->name;
    u.hw_class = std::string(hardware_class_name(cand.target->hw));
    u.cost = call->spent;
    u.fallbacks = static_cast<uint32_t>(call->fallbacks);
    u.service_ms = service_ms;
  }
  inflight_.add(-1);
  call->respond(std::move(out));
  // After the answer has been handed to the connection (its write starts there): the line is
  // ~4k instructions that the client need not wait for.
  telemetry::log_info("request", {{"request_id", call->request_id}, {"client_id", clip(call->id)}, {"traceparent", call->traceparent}, {"model", model},
                                  {"target", cand.target->name}, {"variant", cand.variant->name},
                                  {"status", 200}, {"latency_ms", total_ms}, {"fallbacks", call->fallbacks}});
}

void RouterService::finish_error(std::shared_ptr<Call> call, int status, const std::string& message) {
  settle(*call);
  from_cache_then(call, cache::Use::kStaleIfError, [this, call, status, message](bool answered) {
    if (answered) {
      inflight_.add(-1);
      return;
    }
    fail_now(call, status, message);
  });
}

void RouterService::fail_now(const std::shared_ptr<Call>& call, int status, const std::string& message) {
  const std::string& model = call->model->signature.name;
  call->gen->model_metrics[model_pos(*call->gen, call->model)].failed->inc();
  // Each failed attempt but the last led to a fallback; the last led nowhere.
  if (call->usage) {
    call->usage->rec.fallbacks = static_cast<uint32_t>(std::max(0, call->fallbacks - 1));
    call->usage->rec.cost = call->spent;  // the attempts charged before it failed
  }
  telemetry::log_error("request_failed", {{"request_id", call->request_id}, {"client_id", clip(call->id)}, {"traceparent", call->traceparent}, {"model", model},
                                          {"status", status}, {"reason", message}});
  inflight_.add(-1);
  HttpResponse r = net::error_response(status, message);
  r.headers.set("x-request-id", call->request_id);
  call->respond(std::move(r));
}

// The v2 answer for a response, JSON or binary as its outputs' flags say.
HttpResponse RouterService::http_answer(const InferResponse& resp, const std::string& request_id) const {
  return encoded_answer(protocol::encode_infer_response(resp), request_id);
}

// A value from Redis may have been written by another program, or by a replica configured with
// another model under this name: only one whose outputs are this model's, whole, is served.
bool RouterService::fits(const InferResponse& stored, const ModelSignature& sig) {
  for (const Tensor& t : stored.outputs) {
    auto spec = std::find_if(sig.outputs.begin(), sig.outputs.end(), [&](const TensorSpec& s) { return s.name == t.name; });
    if (spec == sig.outputs.end() || spec->datatype != t.datatype || !check_tensor_data(t).ok()) return false;
  }
  return !stored.outputs.empty();
}

// The key leaves out the routing hints, so one entry answers requests with different accuracy
// needs: it serves this one only if the variant that computed it meets its min_accuracy at its
// complexity, as a target's answer must. An entry without its variant (or one no longer
// configured) serves only requests with no such need.
bool RouterService::accurate_enough(const Call& call, const InferResponse& stored) const {
  if (!call.min_accuracy) return true;
  auto p = stored.parameters.find(cache::kVariantParam);
  if (p == stored.parameters.end()) return false;
  const std::string* name = std::get_if<std::string>(&p->second);
  if (!name) return false;
  for (const auto& v : call.model->variants)
    if (v.name == *name)
      return routing::Registry::accuracy_at(v.accuracy, v.accuracy_by_band, call.complexity) >= *call.min_accuracy;
  return false;
}

void RouterService::from_cache_then(const std::shared_ptr<Call>& call, cache::Use use, std::function<void(bool)> then) {
  bool ask_redis = false;
  if (call->cache_key) {
    auto hit = cache_->lookup_local(*call->cache_key, call->model->signature.name, use, &ask_redis);
    if (serve_from_cache(*call, hit, use)) return then(true);
  }
  if (!ask_redis) return then(false);
  ask_redis_then(call, use, std::move(then));
}

void RouterService::ask_redis_then(const std::shared_ptr<Call>& call, cache::Use use, std::function<void(bool)> then) {
  cache_->lookup_redis(*call->cache_key, use, [this, call, use, then = std::move(then)](std::optional<cache::CacheHit> hit) mutable {
    loop_.post([this, call, use, hit = std::move(hit), then = std::move(then)]() mutable {
      std::lock_guard<std::recursive_mutex> guard(call->mu);
      then(serve_from_cache(*call, hit, use));
    });
  });
}

bool RouterService::serve_from_cache(Call& call, const std::optional<cache::CacheHit>& hit, cache::Use use) {
  const std::string& model = call.model->signature.name;
  if (!hit || !fits(*hit->response, call.model->signature) || !accurate_enough(call, *hit->response)) return false;
  const bool fresh = use == cache::Use::kFreshHit;
  const char* how = fresh ? "hit" : "stale";
  InferResponse resp = cached_answer(*hit->response, call.form, call.id, how);
  double total_ms = ms_since(call.start);
  resp.parameters["hir_latency_ms"] = total_ms;
  // No target served it: what it cost is what the failed attempts before a stale answer cost.
  resp.parameters["hir_cost_usd"] = call.spent.usd();
  resp.parameters["hir_fallbacks"] = static_cast<int64_t>(call.fallbacks);
  auto& mm = call.gen->model_metrics[model_pos(*call.gen, call.model)];
  (fresh ? mm.cache_hit : mm.cache_stale)->inc();
  // Fallbacks as for any request: attempts after the first (every attempt failed, as for a
  // request that fails; the stale answer is none of them).
  const int fell_back = std::max(0, call.fallbacks - 1);
  if (fell_back > 0) mm.fallbacks->inc();
  if (call.usage) {
    call.usage->rec.cache = fresh ? store::CacheUse::kHit : store::CacheUse::kStale;
    call.usage->rec.fallbacks = static_cast<uint32_t>(fell_back);
    call.usage->rec.cost = call.spent;
  }
  const char* level = hit->level == cache::Level::kRedis ? "redis" : "memory";
  if (fresh) {
    telemetry::log_info("request", {{"request_id", call.request_id}, {"client_id", clip(call.id)}, {"traceparent", call.traceparent}, {"model", model},
                                    {"status", 200}, {"cache", how}, {"cache_level", level}, {"latency_ms", total_ms}});
  } else {
    // Worth a warning: the client got an answer, but possibly an old one, because no target could.
    telemetry::log_warn("request", {{"request_id", call.request_id}, {"client_id", clip(call.id)}, {"traceparent", call.traceparent}, {"model", model},
                                    {"status", 200}, {"cache", how}, {"cache_level", level}, {"latency_ms", total_ms},
                                    {"fallbacks", call.fallbacks}, {"errors", call.errors}});
  }
  call.respond(http_answer(resp, call.request_id));
  return true;
}

}  // namespace hir::router
