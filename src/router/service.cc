#include "router/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "protocol/v2_codec.h"
#include "protocol/v2_path.h"
#include "telemetry/log.h"
#include "telemetry/trace.h"

namespace hir::router {

using net::HttpRequest;
using net::HttpResponse;
using protocol::V2Endpoint;

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
  Plan plan;
  size_t next = 0;
  int fallbacks = 0;
  TimePoint start;
  TimePoint deadline;
  std::string errors;  // "target: reason; ..." for the final error message
  bool timed_out = false;
  bool bad_gateway = false;
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

RouterService::RouterService(const Config& cfg, net::HttpClient& client,
                             telemetry::Registry& metrics, std::unique_ptr<RoutingPolicy> policy)
    : cfg_(cfg),
      client_(client),
      metrics_(metrics),
      policy_(std::move(policy)),
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
  for (const auto& t : cfg_.targets)
    target_metrics_.push_back({&metrics_.counter("hir_attempt_failures_total", "Failed attempts by target", {{"target", t.name}}),
                               &metrics_.counter("hir_cost_usd_total", "Cost of served requests in USD", {{"target", t.name}})});
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
  if (path == "/metrics") {
    HttpResponse r{200, {}, metrics_.render()};
    r.headers.set("Content-Type", "text/plain; version=0.0.4");
    return respond(std::move(r));
  }
  if (path == "/v1/targets") return respond(targets_response());
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

HttpResponse RouterService::targets_response() const {
  std::string body = R"({"targets":[)";
  for (size_t i = 0; i < cfg_.targets.size(); ++i) {
    const auto& t = cfg_.targets[i];
    if (i) body += ',';
    body += R"({"name":)";
    protocol::append_json_string(body, t.name);
    body += R"(,"url":)";
    protocol::append_json_string(body, t.url);
    body += fmt::format(R"(,"class":"{}","cost_per_request_usd":{},"cost_per_second_usd":{}}})",
                        hardware_class_name(t.hw), t.cost_per_request.usd(), t.cost_per_second.usd());
  }
  body += "]}";
  return net::json_response(200, std::move(body));
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
  auto plan = policy_->plan(model, *hints);
  if (!plan.ok()) return respond(v2_error(plan.status()));

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
  call->plan = std::move(*plan);
  call->respond = std::move(respond);
  inflight_.add(1);
  attempt(std::move(call));
}

void RouterService::attempt(std::shared_ptr<Call> call) {
  if (call->next >= call->plan.attempts.size())
    return finish_error(call, call->bad_gateway ? 502 : call->timed_out ? 504 : 503,
                        fmt::format("all {} target(s) failed: {}", call->plan.attempts.size(), call->errors));
  auto remaining = call->deadline - SteadyClock::now();
  if (remaining <= Duration::zero())
    return finish_error(call, 504, "latency budget exhausted after " + std::to_string(call->fallbacks) +
                                       " attempt(s): " + call->errors);
  Candidate cand = call->plan.attempts[call->next++];
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
  client_.send(tg.url, std::move(out), timeout, [this, call, cand, t0](Result<HttpResponse> r) {
    double ms = ms_since(t0);
    if (!r.ok()) {
      if (r.status().code() == Code::kDeadlineExceeded) call->timed_out = true;
      return fail_attempt(call, cand, r.status().message(), ms);
    }
    if (r->status >= 200 && r->status < 300) return finish_ok(call, std::move(*r), ms);
    if (retryable(r->status)) {
      call->bad_gateway |= bad_gateway(r->status);
      return fail_attempt(call, cand, upstream_reason(*r), ms);
    }
    pass_through(call, cand, std::move(*r));
  });
}

void RouterService::fail_attempt(std::shared_ptr<Call> call, const Candidate& cand,
                                 const std::string& why, double ms) {
  if (const Target* tg = target_of(cand.target))
    target_metrics_[static_cast<size_t>(tg - targets_.data())].attempt_failures->inc();
  telemetry::log_warn("attempt_failed", {{"request_id", call->request_id}, {"traceparent", call->traceparent},
                                         {"target", cand.target->name}, {"variant", cand.variant->name},
                                         {"reason", why}, {"ms", ms}});
  if (!call->errors.empty()) call->errors += "; ";
  call->errors += cand.target->name + ": " + why;
  ++call->fallbacks;
  attempt(std::move(call));
}

// The client's own mistake, as the target judged it: its answer goes back as it is, but always
// as a JSON {"error": ...} so the v2 contract holds whatever the target sent.
void RouterService::pass_through(std::shared_ptr<Call> call, const Candidate& cand, HttpResponse&& r) {
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

void RouterService::finish_ok(std::shared_ptr<Call> call, HttpResponse&& upstream, double attempt_ms) {
  const Candidate& cand = call->plan.attempts[call->next - 1];
  auto hl = upstream.headers.get("inference-header-content-length");
  auto parsed = protocol::parse_infer_response(
      upstream.body, hl ? std::optional<std::string_view>(*hl) : std::nullopt);
  if (!parsed.ok()) {
    // A target that answers 200 with garbage is broken: try the next one.
    call->bad_gateway = true;
    return fail_attempt(call, cand, "bad response: " + parsed.status().message(), attempt_ms);
  }
  InferResponse& resp = *parsed;
  Money cost = cand.target->cost_per_request +
               Money::from_usd(cand.target->cost_per_second.usd() * attempt_ms / 1000.0);
  double total_ms = ms_since(call->start);
  resp.model_name = call->model->signature.name;
  resp.model_version = "1";
  resp.id = call->id;
  resp.parameters["hir_target"] = cand.target->name;
  resp.parameters["hir_variant"] = cand.variant->name;
  resp.parameters["hir_latency_ms"] = total_ms;
  resp.parameters["hir_cost_usd"] = cost.usd();
  resp.parameters["hir_fallbacks"] = static_cast<int64_t>(call->fallbacks);
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
