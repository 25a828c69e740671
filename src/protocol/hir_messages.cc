#include "protocol/hir_messages.h"

#include "protocol/json_read.h"

namespace hir::protocol {

using namespace detail;

namespace {

Status read_count(const object& o, std::string_view key, uint32_t& out) {
  auto e = member(o, key);
  if (!e) return {};
  int64_t v = 0;
  HIR_RETURN_IF_ERROR(as_int(*e, key, 0, UINT32_MAX, v));
  out = static_cast<uint32_t>(v);
  return {};
}

Status read_number(const element& e, std::string_view key, double& out) {
  double d = 0;
  if (e.get_double().get(d) != simdjson::SUCCESS) return type_error(key, "a number", e);
  out = d;
  return {};
}

}  // namespace

Result<LoadReportMsg> parse_load_report(std::string_view body) {
  ParsedJson doc(body, "load report");
  if (!doc.status().ok()) return doc.status();
  const object& o = doc.root();
  LoadReportMsg r;
  HIR_RETURN_IF_ERROR(read_count(o, "in_flight", r.in_flight));
  HIR_RETURN_IF_ERROR(read_count(o, "queue_depth", r.queue_depth));
  HIR_RETURN_IF_ERROR(read_count(o, "queue_capacity", r.queue_capacity));
  HIR_RETURN_IF_ERROR(read_count(o, "concurrency", r.concurrency));
  if (r.concurrency == 0) r.concurrency = 1;
  if (auto e = member(o, "busy_fraction")) HIR_RETURN_IF_ERROR(read_number(*e, "busy_fraction", r.busy_fraction));
  if (auto e = member(o, "ready")) {
    bool b = true;
    if (e->get_bool().get(b) != simdjson::SUCCESS) return type_error("ready", "a boolean", *e);
    r.ready = b;
  }
  if (auto e = member(o, "models")) {
    object models;
    HIR_RETURN_IF_ERROR(as_object(*e, "models", models));
    for (auto [name, stats] : models) {
      object so;
      HIR_RETURN_IF_ERROR(as_object(stats, "models." + std::string(name), so));
      if (auto p = member(so, "p95_ms")) {
        double v = 0;
        HIR_RETURN_IF_ERROR(read_number(*p, "p95_ms", v));
        r.model_p95_ms.emplace_back(std::string(name), v);
      }
    }
  }
  return r;
}

Result<ExplainRequestMsg> parse_explain_request(std::string_view body) {
  ParsedJson doc(body, "explain request");
  if (!doc.status().ok()) return doc.status();
  const object& o = doc.root();
  ExplainRequestMsg r;
  element e;
  HIR_RETURN_IF_ERROR(required(o, "model", "model", e));
  std::string_view model;
  HIR_RETURN_IF_ERROR(as_string(e, "model", model));
  r.model = std::string(model);
  if (auto p = member(o, "parameters")) HIR_RETURN_IF_ERROR(as_parameters(*p, "parameters", r.parameters));
  return r;
}

}  // namespace hir::protocol
