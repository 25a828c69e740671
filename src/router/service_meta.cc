// RouterService's side work, apart from the request path in service.cc: the model metadata and
// list endpoints, POST /v1/route/explain, and polling each target's load report.
#include <fmt/format.h>

#include "protocol/hir_messages.h"
#include "protocol/v2_codec.h"
#include "router/service.h"
#include "telemetry/log.h"

namespace hir::router {

using net::HttpRequest;
using net::HttpResponse;

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

}  // namespace hir::router
