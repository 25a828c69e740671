// Routing and the endpoints that answer at once; the infer path is in infer.cc.
#include "worker/handler.h"

#include <cstdio>

#include "protocol/v2_codec.h"
#include "worker/routes.h"

namespace hir::worker {
namespace {

void append_number(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  out += buf;
}

net::HttpResponse status_response(const Status& s) {
  return net::error_response(http_status(s.code()), s.message());
}

}  // namespace

WorkerHandler::WorkerHandler(const Catalog& catalog, Executor& executor,
                             telemetry::Registry& registry, const Clock& clock)
    : catalog_(catalog),
      executor_(executor),
      clock_(clock),
      metrics_(registry, catalog, executor),
      started_(clock.now()) {}

void WorkerHandler::handle(net::HttpRequest&& req, net::Responder respond) {
  const Route route = parse_route(net::path_of(req.target));
  if (route.endpoint == Endpoint::kNotFound)
    return respond(net::error_response(404, route.error));
  const std::string_view method = allowed_method(route.endpoint);
  if (req.method != method) return respond(net::method_not_allowed(method));
  switch (route.endpoint) {
    case Endpoint::kServerMetadata:
      return respond(net::json_response(
          200, protocol::encode_server_metadata(kServerName, kServerVersion,
                                                {"binary_tensor_data"})));
    case Endpoint::kLive: return respond(net::json_response(200, "{\"live\":true}"));
    case Endpoint::kReady: return respond(server_ready());
    case Endpoint::kModelList: return respond(model_list());
    case Endpoint::kModelMetadata: return respond(model_metadata(route.model, route.version));
    case Endpoint::kModelReady: return respond(model_ready(route.model, route.version));
    case Endpoint::kModelConfig: return respond(model_config(route.model, route.version));
    case Endpoint::kInfer:
      return infer(route.model, route.version, std::move(req), std::move(respond));
    case Endpoint::kLoad: return respond(net::json_response(200, load_json()));
    case Endpoint::kMetrics: {
      net::HttpResponse r;
      r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = metrics_.render();
      return respond(std::move(r));
    }
    case Endpoint::kNotFound: break;
  }
  respond(net::error_response(404, "Not Found"));
}

net::HttpResponse WorkerHandler::server_ready() const {
  if (ready()) return net::json_response(200, "{\"ready\":true}");
  // KServe answers 503 while not ready; the JSON still says why, as every error here does.
  return net::json_response(503, "{\"ready\":false,\"error\":\"models are loading\"}");
}

net::HttpResponse WorkerHandler::model_list() const {
  // KServe's shape: {"models": ["name", ...]}, every model in the repository.
  std::string body = "{\"models\":[";
  bool first = true;
  for (const RepositoryModel& m : catalog_.models()) {
    if (!first) body += ',';
    first = false;
    protocol::append_json_string(body, m.config.name);
  }
  body += "]}";
  return net::json_response(200, std::move(body));
}

net::HttpResponse WorkerHandler::model_metadata(const std::string& model,
                                                const std::string& version) const {
  auto v = catalog_.find(model, version);
  if (!v.ok()) return status_response(v.status());
  return net::json_response(200, protocol::encode_model_metadata(catalog_.signature(*v->model)));
}

net::HttpResponse WorkerHandler::model_config(const std::string& model, const std::string& version) const {
  auto v = catalog_.find(model, version);
  if (!v.ok()) return status_response(v.status());
  return net::json_response(200, protocol::encode_model_config(catalog_.signature(*v->model)));
}

net::HttpResponse WorkerHandler::model_ready(const std::string& model,
                                             const std::string& version) const {
  auto v = catalog_.find(model, version);
  if (!v.ok()) return status_response(v.status());
  std::string body = "{\"name\":";
  protocol::append_json_string(body, model);
  switch (catalog_.state(v->slot)) {
    case VersionState::kReady: return net::json_response(200, body + ",\"ready\":true}");
    case VersionState::kLoading:
      return net::json_response(503, body + ",\"ready\":false,\"error\":\"Model version " +
                                         v->version_name + " is loading\"}");
    case VersionState::kFailed: break;
  }
  return net::json_response(503, body + ",\"ready\":false,\"error\":\"Model version " +
                                     v->version_name + " failed to load\"}");
}

std::string WorkerHandler::load_json() const {
  const LoadSnapshot s = executor_.snapshot();
  std::string out = "{\"in_flight\":" + std::to_string(s.in_flight) +
                    ",\"queue_depth\":" + std::to_string(s.queue_depth) +
                    ",\"queue_capacity\":" + std::to_string(s.queue_capacity) +
                    ",\"concurrency\":" + std::to_string(s.concurrency) + ",\"busy_fraction\":";
  append_number(out, s.busy_fraction);
  out += ",\"models\":{";
  bool first = true;
  for (const auto& [name, m] : s.models) {
    if (!first) out += ',';
    first = false;
    protocol::append_json_string(out, name);
    out += ":{\"requests\":" + std::to_string(m.requests) + ",\"p50_ms\":";
    append_number(out, m.p50_ms);
    out += ",\"p95_ms\":";
    append_number(out, m.p95_ms);
    out += '}';
  }
  out += "},\"uptime_s\":";
  append_number(out, std::chrono::duration<double>(clock_.now() - started_).count());
  out += ",\"ready\":";
  out += ready() ? "true" : "false";
  out += '}';
  return out;
}

}  // namespace hir::worker
