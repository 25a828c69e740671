// RouterService's side work, apart from the request path in service.cc: the model metadata and
// list endpoints and POST /v1/route/explain.
#include <fmt/format.h>

#include "protocol/hir_messages.h"
#include "protocol/v2_codec.h"
#include "router/service.h"
#include "telemetry/log.h"

namespace hir::router {

using net::HttpRequest;
using net::HttpResponse;

HttpResponse RouterService::metadata_response(const Generation& gen, const std::string& model) const {
  return net::json_response(200, protocol::encode_model_metadata(gen.cfg->find_model(model)->signature));
}

HttpResponse RouterService::model_list_response(const Generation& gen) const {
  // KServe's shape, as hir-worker answers: {"models": ["name", ...]}.
  const Config& cfg = *gen.cfg;
  std::string body = R"({"models":[)";
  for (size_t i = 0; i < cfg.models.size(); ++i) {
    if (i) body += ',';
    protocol::append_json_string(body, cfg.models[i].signature.name);
  }
  body += "]}";
  return net::json_response(200, std::move(body));
}

// POST /v1/route/explain: the plan hir would follow for a request with these hints, without
// running it (and without taking a half-open probe slot).
HttpResponse RouterService::explain_response(const GenPtr& gen, const HttpRequest& req) {
  auto msg = protocol::parse_explain_request(req.body);
  if (!msg.ok()) return v2_error(msg.status());
  const ModelConfig* model = gen->cfg->find_model(msg->model);
  if (!model) return net::error_response(404, "Request for unknown model: " + quote(msg->model) + " is not found");
  auto hints = parse_hints(msg->parameters, req.headers);
  if (!hints.ok()) return v2_error(hints.status());
  Duration retry_after{};
  auto plan = gen->routing->decide(*model, *hints, true, &retry_after);
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
