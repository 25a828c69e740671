#include "router/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "protocol/v2_codec.h"
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

struct RouterService::Target {
  const TargetConfig* cfg = nullptr;
  net::Url url;
  std::string authorization;  // "Bearer <token>" from the environment, or empty
};

// One client request on its way through the plan. Lives as long as an attempt holds it.
struct RouterService::Call {
  const ModelConfig* model = nullptr;
  std::string id;          // the request's `id`, echoed
  std::string request_id;  // for logs and x-request-id: id, x-request-id or generated
  std::string traceparent;
  std::string body;  // the client's body, forwarded byte for byte
  std::optional<std::string> header_length;
  std::string content_type;
  std::vector<Step> steps;  // the plan: primary, then fallbacks
  size_t next = 0;
  int fallbacks = 0;
  TimePoint start;
  TimePoint deadline;
  std::string errors;  // "target: reason; ..." for the final error message
  bool timed_out = false;
  bool bad_gateway = false;
  // Hedging (single I/O thread only: the Call is then only touched from that thread).
  std::optional<Duration> hedge_after;  // send a copy to the next step after this, if unanswered
  bool hedged = false;
  bool done = false;     // answered; later answers (a hedge's loser) are dropped
  int outstanding = 0;   // attempts on the wire
  std::shared_ptr<net::EventLoop::Timer> hedge_timer;
  net::Responder respond;
};

namespace {

double ms_since(TimePoint t) { return to_ms(SteadyClock::now() - t); }

// Statuses after which another target may well succeed: the target lacks the variant, is
// overloaded or broken, redirects, or refuses our credentials (a router misconfiguration the
// client cannot fix). Other 4xx are the client's own mistake and are passed through.
bool retryable(int status) {
  return status >= 500 || (status >= 300 && status < 400) || status == 401 || status == 403 ||
         status == 404 || status == 407 || status == 408 || status == 429;
}

// Failures that mean "the target is there but answered wrongly" make the final answer 502;
// refusals and overload make it 503.
bool bad_gateway(int status) { return status != 503 && status != 429 && status != 404; }

bool printable_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

// The target's own error text, shortened, for the message the client gets.
std::string upstream_reason(const HttpResponse& r) {
  std::string why = "HTTP " + std::to_string(r.status);
  auto at = r.body.find("\"error\"");
  if (at != std::string::npos) why += ": " + r.body.substr(at, 160);
  return why;
}

// The id used in logs and sent on as x-request-id: the body's `id` or the client's x-request-id
// when they are short and printable (anything else could not travel as a header), else a new one.
std::string pick_request_id(const InferRequest& req, const net::Headers& h) {
  if (printable_id(req.id)) return req.id;
  if (auto x = h.get("x-request-id"); x && printable_id(*x)) return std::string(*x);
  return telemetry::new_request_id();
}

HttpResponse v2_error(const Status& s) { return net::error_response(http_status(s.code()), s.message()); }

}  // namespace

RouterService::RouterService(const Config& cfg, net::EventLoop& loop, net::HttpClient& client,
                             telemetry::Registry& metrics, uint64_t seed)
    : cfg_(cfg),
      loop_(loop),
      client_(client),
      metrics_(metrics),
      routing_(cfg, seed),
      inflight_(metrics.gauge("hir_requests_in_flight", "Inference requests being routed")) {
  for (const auto& t : cfg_.targets) {
    Target tg;
    tg.cfg = &t;
    tg.url = *net::Url::parse(t.url);  // checked by parse_config
    if (!t.token_env.empty()) {
      const char* tok = std::getenv(t.token_env.c_str());
      if (tok && *tok) tg.authorization = std::string("Bearer ") + tok;
      else telemetry::log_warn("target_token_missing", {{"target", t.name}, {"env", t.token_env}});
    }
    targets_.push_back(std::move(tg));
  }
  make_metrics();
}

void RouterService::make_metrics() {
  const char* kRequests = "Inference requests by model, target and outcome";
  for (const auto& m : cfg_.models) {
    const std::string& model = m.signature.name;
    model_metrics_.push_back(
        {&metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", "none"}, {"outcome", "failed"}}),
         &metrics_.counter("hir_fallbacks_total", "Requests served after at least one failed attempt", {{"model", model}})});
    for (const auto& t : cfg_.targets) {
      pair_metrics_.push_back(
          {&metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", t.name}, {"outcome", "ok"}}),
           &metrics_.counter("hir_requests_total", kRequests,
                             {{"model", model}, {"target", t.name}, {"outcome", "client_error"}}),
           &metrics_.histogram("hir_request_duration_seconds", "End-to-end latency of successful requests",
                               {{"model", model}, {"target", t.name}})});
    }
  }
  shed_ = &metrics_.counter("hir_shed_total", "Requests refused with 429 under overload");
  hedges_ = &metrics_.counter("hir_hedges_total", "Hedged requests: a second copy sent to the next step");
  poll_failures_ = &metrics_.counter("hir_load_poll_failures_total", "Load polls that got no report");
  for (const auto& t : cfg_.targets)
    target_metrics_.push_back({&metrics_.counter("hir_attempt_failures_total", "Failed attempts by target", {{"target", t.name}}),
                               &metrics_.counter("hir_cost_usd_total", "Cost of served requests in USD", {{"target", t.name}})});
}

void RouterService::start_polling() {
  polling_ = true;
  poll_disabled_.assign(cfg_.targets.size(), 0);
  poll_timers_.resize(cfg_.targets.size());
  for (size_t i = 0; i < cfg_.targets.size(); ++i)
    if (cfg_.targets[i].poll_load) poll(i);
}

void RouterService::stop_polling() {
  polling_ = false;
  for (auto& t : poll_timers_)
    if (t) t->cancel();
}

// One GET /v1/load; the next is scheduled when this one ends, so polls never pile up on a slow
// target. A target without the endpoint (404) is judged by its answers alone.
void RouterService::poll(size_t i) {
  if (!polling_ || poll_disabled_[i]) return;
  net::HttpRequest req;
  req.method = "GET";
  req.target = "/v1/load";
  const Target& tg = targets_[i];
  if (!tg.authorization.empty()) req.headers.set("Authorization", tg.authorization);
  auto t0 = SteadyClock::now();
  client_.send(tg.url, std::move(req), cfg_.routing.load_poll_timeout, [this, i, t0](Result<HttpResponse> r) {
    auto took = SteadyClock::now() - t0;
    if (r.ok() && r->status == 404) {
      poll_disabled_[i] = 1;
      telemetry::log_info("load_poll_disabled", {{"target", cfg_.targets[i].name}, {"reason", "no /v1/load"}});
      return;
    }
    auto rep = r.ok() && r->status == 200 ? protocol::parse_load_report(r->body)
                                          : Result<protocol::LoadReportMsg>(Unavailable("no report"));
    if (rep.ok()) routing_.load_report(static_cast<routing::TargetIndex>(i), *rep, took);
    else poll_failures_->inc();
    if (!polling_) return;
    poll_timers_[i] = loop_.run_after(cfg_.routing.load_poll_interval, [this, i] { poll(i); });
  });
}

RouterService::PairMetrics& RouterService::pair_metrics(const ModelConfig* m, const TargetConfig* t) {
  auto mi = static_cast<size_t>(m - cfg_.models.data());
  auto ti = static_cast<size_t>(t - cfg_.targets.data());
  return pair_metrics_[mi * cfg_.targets.size() + ti];
}

RouterService::~RouterService() = default;

const RouterService::Target* RouterService::target_of(const TargetConfig* t) const {
  for (const auto& tg : targets_)
    if (tg.cfg == t) return &tg;
  return nullptr;  // a policy handed out a target from another configuration
}

void RouterService::handle(HttpRequest&& req, net::Responder respond) {
  auto path = net::path_of(req.target);
  if ((path == "/metrics" || path == "/v1/targets") && req.method != "GET")
    return respond(net::error_response(405, "Method Not Allowed"));
  if (path == "/v1/route/explain") {
    if (req.method != "POST") return respond(net::error_response(405, "Method Not Allowed"));
    return respond(explain_response(req));
  }
  if (path == "/metrics") {
    HttpResponse r{200, {}, metrics_.render()};
    r.headers.set("Content-Type", "text/plain; version=0.0.4");
    return respond(std::move(r));
  }
  if (path == "/v1/targets") return respond(net::json_response(200, routing_.targets_json()));
  auto p = protocol::parse_v2_path(path);
  if (p.endpoint == V2Endpoint::kUnknown) return respond(net::error_response(404, "Not Found"));
  if (req.method != protocol::v2_method(p.endpoint))
    return respond(net::error_response(405, "Method Not Allowed"));

  const ModelConfig* model = nullptr;
  if (!p.model.empty()) {
    model = cfg_.find_model(p.model);
    if (!model)
      return respond(net::error_response(404, "Request for unknown model: '" + p.model + "' is not found"));
    if (!p.version.empty() &&
        std::find(model->signature.versions.begin(), model->signature.versions.end(), p.version) ==
            model->signature.versions.end())
      return respond(net::error_response(
          404, "Request for unknown model: '" + p.model + "' version " + p.version + " is not found"));
  }
  switch (p.endpoint) {
    case V2Endpoint::kServerMetadata:
      return respond(net::json_response(
          200, protocol::encode_server_metadata("hir", HIR_VERSION, {"binary_tensor_data", "hir_routing"})));
    case V2Endpoint::kLive: return respond(net::json_response(200, R"({"live":true})"));
    case V2Endpoint::kReady:
      if (!ready_) return respond(net::error_response(503, "server is shutting down"));
      return respond(net::json_response(200, R"({"ready":true})"));
    case V2Endpoint::kModelList: return respond(model_list_response());
    case V2Endpoint::kModelMetadata: return respond(metadata_response(p.model));
    case V2Endpoint::kModelReady: {
      std::string body = R"({"name":)";
      protocol::append_json_string(body, p.model);
      body += ready_ ? R"(,"ready":true})" : R"(,"ready":false})";
      return respond(net::json_response(ready_ ? 200 : 503, std::move(body)));
    }
    case V2Endpoint::kInfer: return infer(std::move(req), *model, std::move(respond));
    case V2Endpoint::kUnknown: break;
  }
  respond(net::error_response(404, "Not Found"));
}

HttpResponse RouterService::metadata_response(const std::string& model) const {
  return net::json_response(200, protocol::encode_model_metadata(cfg_.find_model(model)->signature));
}

HttpResponse RouterService::model_list_response() const {
  std::string body = R"({"models":[)";
  for (size_t i = 0; i < cfg_.models.size(); ++i) {
    if (i) body += ',';
    body += R"({"name":)";
    protocol::append_json_string(body, cfg_.models[i].signature.name);
    body += R"(,"versions":["1"]})";
  }
  body += "]}";
  return net::json_response(200, std::move(body));
}

// POST /v1/route/explain: the plan hir would follow for a request with these hints, without
// running it (and without taking a half-open probe slot).
HttpResponse RouterService::explain_response(const HttpRequest& req) {
  auto msg = protocol::parse_explain_request(req.body);
  if (!msg.ok()) return v2_error(msg.status());
  const ModelConfig* model = cfg_.find_model(msg->model);
  if (!model) return net::error_response(404, "Request for unknown model: '" + msg->model + "' is not found");
  auto hints = parse_hints(msg->parameters, req.headers);
  if (!hints.ok()) return v2_error(hints.status());
  Duration retry_after{};
  auto plan = routing_.decide(*model, *hints, true, &retry_after);
  std::string body = R"({"model":)";
  protocol::append_json_string(body, model->signature.name);
  if (!plan.ok()) {
    body += fmt::format(R"(,"routable":false,"status":{},"reason":)", http_status(plan.status().code()));
    protocol::append_json_string(body, plan.status().message());
    return net::json_response(200, body + "}");
  }
  body += R"(,"routable":true,"reason":)";
  protocol::append_json_string(body, plan->reason);
  body += fmt::format(R"(,"best_effort":{},"hedge_after_ms":{},"steps":[)", plan->best_effort ? "true" : "false",
                      plan->hedge_after ? fmt::format("{:.3f}", to_ms(*plan->hedge_after)) : std::string("null"));
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const auto& st = plan->steps[i];
    if (i) body += ',';
    body += R"({"target":)";
    protocol::append_json_string(body, st.target->name);
    body += R"(,"variant":)";
    protocol::append_json_string(body, st.variant->name);
    body += fmt::format(R"(,"class":"{}","predicted_p95_ms":{:.3f},"predicted_cost_usd":{}}})",
                        hardware_class_name(st.target->hw), to_ms(st.predicted_p95), st.predicted_cost.usd());
  }
  return net::json_response(200, body + "]}");
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

void RouterService::infer(HttpRequest&& req, const ModelConfig& model, net::Responder respond) {
  auto call = std::make_shared<Call>();
  call->start = SteadyClock::now();
  call->model = &model;
  if (auto h = req.headers.get("inference-header-content-length")) call->header_length = std::string(*h);

  // Raw binary bodies (header length 0) carry no JSON: they are checked against the signature.
  Result<InferRequest> parsed =
      (call->header_length && *call->header_length == "0")
          ? protocol::parse_raw_binary_request(req.body, model.signature)
          : protocol::parse_infer_request(req.body, call->header_length);
  if (!parsed.ok()) return respond(v2_error(parsed.status()));
  parsed->model_name = model.signature.name;
  if (Status s = validate_request(*parsed, model.signature); !s.ok()) return respond(v2_error(s));
  auto hints = parse_hints(parsed->parameters, req.headers);
  if (!hints.ok()) return respond(v2_error(hints.status()));
  Duration retry_after{};
  auto plan = routing_.decide(model, *hints, false, &retry_after);
  if (!plan.ok()) return respond(refusal(plan.status(), retry_after));

  call->id = parsed->id;
  call->request_id = pick_request_id(*parsed, req.headers);
  call->content_type = std::string(req.headers.get("content-type").value_or("application/json"));
  call->body = std::move(req.body);
  if (strip_hints(parsed->parameters) > 0) {
    // Targets must not see hir's hints (Triton rejects a string `priority`), so the body is
    // written again; binary tensors are copied as they are, not converted.
    auto enc = protocol::encode_infer_request(*parsed, call->header_length.has_value());
    call->body = std::move(enc.body);
    call->header_length.reset();
    call->content_type = "application/json";
    if (enc.json_length) {
      call->header_length = std::to_string(*enc.json_length);
      call->content_type = "application/octet-stream";
    }
  }
  auto incoming = req.headers.get("traceparent");
  auto trace = incoming ? telemetry::TraceContext::parse(*incoming) : std::nullopt;
  call->traceparent = (trace ? trace->child() : telemetry::TraceContext::generate()).header();
  call->deadline = call->start + hints->latency_budget.value_or(cfg_.server.default_budget);
  call->steps = std::move(plan->steps);
  if (plan->hedge_after && call->steps.size() > 1 && cfg_.server.threads == 1) call->hedge_after = plan->hedge_after;
  call->respond = std::move(respond);
  inflight_.add(1);
  attempt(std::move(call));
}

void RouterService::attempt(std::shared_ptr<Call> call) {
  if (call->next >= call->steps.size())
    return finish_error(call, call->bad_gateway ? 502 : call->timed_out ? 504 : 503,
                        fmt::format("all {} target(s) failed: {}", call->steps.size(), call->errors));
  auto remaining = call->deadline - SteadyClock::now();
  if (remaining <= Duration::zero())
    return finish_error(call, 504, "latency budget exhausted after " + std::to_string(call->fallbacks) +
                                       " attempt(s): " + call->errors);
  Step cand = call->steps[call->next++];
  const Target* tgp = target_of(cand.target);
  if (!tgp) return fail_attempt(call, cand, "not a configured target", 0);
  const Target& tg = *tgp;

  HttpRequest out;
  out.method = "POST";
  out.target = "/v2/models/" + cand.variant->name + "/infer";
  out.headers.set("Content-Type", call->content_type);
  if (call->header_length) out.headers.set("Inference-Header-Content-Length", *call->header_length);
  out.headers.set("x-request-id", call->request_id);
  out.headers.set("traceparent", call->traceparent);
  if (!tg.authorization.empty()) out.headers.set("Authorization", tg.authorization);
  out.body = call->body;  // kept for the next attempt

  auto t0 = SteadyClock::now();
  auto timeout = std::min<Duration>(tg.cfg->timeout, remaining);
  routing_.dispatched(cand.ti);
  ++call->outstanding;
  if (call->next == 1 && call->hedge_after) {
    // A critical request near its budget: if the primary has not answered by then, send the same
    // request to the next step too and take whichever answers first (Dean & Barroso, "The Tail at
    // Scale", 2013). The loser's answer is dropped, not cancelled on the wire.
    call->hedge_timer = loop_.run_after(*call->hedge_after, [this, call] {
      if (call->done || call->hedged || call->next >= call->steps.size()) return;
      if (call->deadline <= SteadyClock::now()) return;
      call->hedged = true;
      hedges_->inc();
      attempt(call);
    });
  }
  client_.send(tg.url, std::move(out), timeout, [this, call, cand, t0](Result<HttpResponse> r) {
    auto elapsed = SteadyClock::now() - t0;
    double ms = to_ms(elapsed);
    --call->outstanding;
    if (call->done) {  // a hedge's loser: its outcome still teaches the routing core
      auto o = !r.ok() ? Outcome::kTimeout : r->status < 300 ? Outcome::kOk : Outcome::kError;
      routing_.result(cand.ti, cand.vi, o, elapsed);
      return;
    }
    if (!r.ok()) {
      bool timeout = r.status().code() == Code::kDeadlineExceeded;
      call->timed_out |= timeout;
      routing_.result(cand.ti, cand.vi, timeout ? Outcome::kTimeout : Outcome::kRefused, elapsed);
      return fail_attempt(call, cand, r.status().message(), ms);
    }
    if (r->status >= 200 && r->status < 300) return finish_ok(call, cand, std::move(*r), ms);
    if (retryable(r->status)) {
      call->bad_gateway |= bad_gateway(r->status);
      bool busy = r->status == 503 || r->status == 429;
      routing_.result(cand.ti, cand.vi, busy ? Outcome::kOverloaded : Outcome::kError, elapsed);
      return fail_attempt(call, cand, upstream_reason(*r), ms);
    }
    routing_.result(cand.ti, cand.vi, Outcome::kOk, elapsed);  // it answered, correctly, a bad request
    pass_through(call, cand, std::move(*r));
  });
}

void RouterService::fail_attempt(std::shared_ptr<Call> call, const Step& cand,
                                 const std::string& why, double ms) {
  if (const Target* tg = target_of(cand.target))
    target_metrics_[static_cast<size_t>(tg - targets_.data())].attempt_failures->inc();
  telemetry::log_warn("attempt_failed", {{"request_id", call->request_id}, {"traceparent", call->traceparent},
                                         {"target", cand.target->name}, {"variant", cand.variant->name},
                                         {"reason", why}, {"ms", ms}});
  if (!call->errors.empty()) call->errors += "; ";
  call->errors += cand.target->name + ": " + why;
  ++call->fallbacks;
  if (call->outstanding > 0) return;  // a hedge is still on the wire: it continues the chain
  if (call->hedge_timer) call->hedge_timer->cancel();  // the fallback goes now, no hedge needed
  attempt(std::move(call));
}

// The client's own mistake, as the target judged it: its answer goes back as it is, but always
// as a JSON {"error": ...} so the v2 contract holds whatever the target sent.
void RouterService::pass_through(std::shared_ptr<Call> call, const Step& cand, HttpResponse&& r) {
  settle(*call);
  pair_metrics(call->model, cand.target).client_error->inc();
  inflight_.add(-1);
  bool json_error = !r.body.empty() && r.body.front() == '{' && r.body.find("\"error\"") != std::string::npos;
  HttpResponse out = json_error ? std::move(r)
                                : net::error_response(r.status, "target " + cand.target->name + ": HTTP " +
                                                                    std::to_string(r.status) + ": " +
                                                                    r.body.substr(0, 200));
  if (json_error) out.headers.set("Content-Type", "application/json");
  out.headers.set("x-request-id", call->request_id);
  call->respond(std::move(out));
}

void RouterService::settle(Call& call) {
  call.done = true;
  if (call.hedge_timer) call.hedge_timer->cancel();
}

void RouterService::finish_ok(std::shared_ptr<Call> call, const Step& cand, HttpResponse&& upstream,
                              double attempt_ms) {
  auto hl = upstream.headers.get("inference-header-content-length");
  auto parsed = protocol::parse_infer_response(
      upstream.body, hl ? std::optional<std::string_view>(*hl) : std::nullopt);
  if (!parsed.ok()) {
    // A target that answers 200 with garbage is broken: try the next one.
    routing_.result(cand.ti, cand.vi, Outcome::kError, from_ms(attempt_ms));
    call->bad_gateway = true;
    return fail_attempt(call, cand, "bad response: " + parsed.status().message(), attempt_ms);
  }
  InferResponse& resp = *parsed;
  Money cost = cand.target->cost_per_request +
               Money::from_usd(cand.target->cost_per_second.usd() * attempt_ms / 1000.0);
  routing_.result(cand.ti, cand.vi, Outcome::kOk, from_ms(attempt_ms));
  routing_.cost(cand.ti, cost);
  settle(*call);
  double total_ms = ms_since(call->start);
  resp.model_name = call->model->signature.name;
  resp.model_version = "1";
  resp.id = call->id;
  resp.parameters["hir_target"] = cand.target->name;
  resp.parameters["hir_variant"] = cand.variant->name;
  resp.parameters["hir_latency_ms"] = total_ms;
  resp.parameters["hir_cost_usd"] = cost.usd();
  resp.parameters["hir_fallbacks"] = static_cast<int64_t>(call->fallbacks);
  if (call->hedged) resp.parameters["hir_hedged"] = true;
  auto enc = protocol::encode_infer_response(resp);

  HttpResponse out{200, {}, std::move(enc.body)};
  if (enc.json_length) {
    out.headers.set("Content-Type", "application/octet-stream");
    out.headers.set("Inference-Header-Content-Length", std::to_string(*enc.json_length));
  } else {
    out.headers.set("Content-Type", "application/json");
  }
  out.headers.set("x-request-id", call->request_id);

  const std::string& model = call->model->signature.name;
  auto& pm = pair_metrics(call->model, cand.target);
  pm.ok->inc();
  pm.duration->observe(total_ms / 1000.0);
  target_metrics_[static_cast<size_t>(cand.target - cfg_.targets.data())].cost->inc(cost.usd());
  if (call->fallbacks > 0) model_metrics_[static_cast<size_t>(call->model - cfg_.models.data())].fallbacks->inc();
  telemetry::log_info("request", {{"request_id", call->request_id}, {"traceparent", call->traceparent}, {"model", model},
                                  {"target", cand.target->name}, {"variant", cand.variant->name},
                                  {"status", 200}, {"latency_ms", total_ms}, {"fallbacks", call->fallbacks}});
  inflight_.add(-1);
  call->respond(std::move(out));
}

void RouterService::finish_error(std::shared_ptr<Call> call, int status, const std::string& message) {
  settle(*call);
  const std::string& model = call->model->signature.name;
  model_metrics_[static_cast<size_t>(call->model - cfg_.models.data())].failed->inc();
  telemetry::log_error("request_failed", {{"request_id", call->request_id}, {"traceparent", call->traceparent}, {"model", model},
                                          {"status", status}, {"reason", message}});
  inflight_.add(-1);
  HttpResponse r = net::error_response(status, message);
  r.headers.set("x-request-id", call->request_id);
  call->respond(std::move(r));
}

}  // namespace hir::router
