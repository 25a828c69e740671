#include "router/admin_api.h"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "core/json_string.h"
#include "core/percent.h"
#include "protocol/json_read.h"
#include "telemetry/log.h"

namespace hir::router {

using net::HttpRequest;
using net::HttpResponse;

namespace {

constexpr std::string_view kPrefix = "/v1/admin/";

// The store's codes as HTTP: add of an existing name is a conflict, not a bad request.
HttpResponse store_error(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument: return net::error_response(400, s.message());
    case Code::kNotFound: return net::error_response(404, s.message());
    case Code::kFailedPrecondition: return net::error_response(409, s.message());
    case Code::kUnavailable: case Code::kDeadlineExceeded: return net::error_response(503, s.message());
    default: return net::error_response(500, s.message());
  }
}

// The path's segments, percent-decoded as the v2 paths are; nullopt when one does not decode (a
// broken escape, or one that decodes to '/', which no name holds).
std::optional<std::vector<std::string>> split_path(std::string_view rest) {
  std::vector<std::string> parts;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto part = percent_decode(rest.substr(0, slash));
    if (!part) return std::nullopt;
    parts.push_back(std::move(*part));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return parts;
}

using net::method_not_allowed;

// The reason an error answer gives: its {"error": ...}.
std::string error_of(const HttpResponse& r) {
  protocol::detail::ParsedJson doc(r.body, "admin answer");
  if (!doc.status().ok()) return {};
  auto e = protocol::detail::member(doc.root(), "error");
  std::string_view why;
  if (!e || e->get_string().get(why) != simdjson::SUCCESS) return {};
  return std::string(why);
}

template <typename T, typename F>
std::string json_list(const std::vector<T>& items, F&& one) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += one(items[i]);
  }
  return out + "]";
}

// What a drain or undrain sets, as the record's JSON has it.
std::string drained_json(std::string_view action) {
  return action == "drain" ? R"({"drained":true})" : R"({"drained":false})";
}

std::string ledger_json(const store::LedgerCounters& c) {
  return fmt::format(R"({{"accepted":{},"written":{},"overflowed":{},"lost":{},"batches":{},"write_errors":{},"queued":{}}})",
                     c.accepted, c.written, c.overflowed, c.lost, c.batches, c.write_errors, c.queued);
}

}  // namespace

bool admin_key_matches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view kBearer = "bearer ";  // the scheme's case does not matter (RFC 9110 §11.1)
  if (key.empty()) return false;
  // Walk the whole key whatever the input, so the time says nothing about how much matched.
  size_t diff = authorization.size() ^ (kBearer.size() + key.size());
  for (size_t i = 0; i < kBearer.size() + key.size(); ++i) {
    char want = i < kBearer.size() ? kBearer[i] : key[i - kBearer.size()];
    char got = i < authorization.size() ? authorization[i] : '\0';
    if (i < kBearer.size() && got >= 'A' && got <= 'Z') got = static_cast<char>(got - 'A' + 'a');
    diff |= static_cast<unsigned char>(want ^ got);
  }
  return diff == 0;
}

AdminApi::AdminApi(store::Store* store, std::string key, Reload reload, LedgerStats ledger)
    : store_(store), key_(std::move(key)), reload_(std::move(reload)), ledger_(std::move(ledger)) {}

void AdminApi::log_refused(std::string_view method, std::string_view target, const HttpResponse& answer) {
  if (method == "GET" || answer.status < 400) return;
  // The path holds names the client chose: cut short as other client text in the log is.
  telemetry::log_info("admin_refused", {{"method", clip(method)}, {"path", clip(net::path_of(target))},
                                        {"status", answer.status}, {"reason", error_of(answer)}});
}

std::optional<HttpResponse> AdminApi::refused(const HttpRequest& req) const {
  std::optional<HttpResponse> no;
  if (key_.empty()) {
    no = net::error_response(403, "the admin API is disabled: set HIR_ADMIN_KEY for hir serve to enable it");
  } else if (auto auth = req.headers.get("authorization"); !auth || !admin_key_matches(*auth, key_)) {
    no = net::error_response(401, "admin API: missing or wrong 'Authorization: Bearer <HIR_ADMIN_KEY>'");
    no->headers.set("WWW-Authenticate", "Bearer");
  }
  // A call that passes is checked again by handle() (after queueing): only a refusal logs.
  if (no) log_refused(req.method, req.target, *no);
  return no;
}

HttpResponse AdminApi::handle(const HttpRequest& req) {
  if (auto no = refused(req)) return std::move(*no);
  std::string_view path = net::path_of(req.target);
  HttpResponse r = path.starts_with(kPrefix) ? route(req, path.substr(kPrefix.size())) : net::error_response(404, "Not Found");
  log_refused(req.method, req.target, r);
  return r;
}

HttpResponse AdminApi::route(const HttpRequest& req, std::string_view rest) {
  auto decoded = split_path(rest);
  if (!decoded) return net::error_response(404, "Not Found");
  const std::vector<std::string>& p = *decoded;
  if (p.size() == 1 && p[0] == "ledger") {
    if (req.method != "GET") return method_not_allowed("GET");
    auto c = ledger_ ? ledger_() : std::nullopt;
    if (!c) return net::error_response(404, "no usage ledger: hir serve runs without a database");
    return net::json_response(200, ledger_json(*c));
  }
  if (!store_) return net::error_response(503, "the registry is the configuration file: hir serve runs without a database (--database none)");
  if (p.size() == 1 && p[0] == "registry") {
    if (req.method != "GET") return method_not_allowed("GET");
    auto snap = store_->load_registry();
    if (!snap.ok()) return store_error(snap.status());
    std::string body = fmt::format(R"({{"registry_version":{},"models":)", snap->version);
    body += json_list(snap->models, [](const store::ModelRecord& m) {
      std::string o = R"({"name":)";
      append_json_string(o, m.name);
      return o + "}";
    });
    body += R"(,"targets":)" + json_list(snap->targets, target_json);
    body += R"(,"variants":)" + json_list(snap->variants, variant_json) + "}";
    return net::json_response(200, std::move(body));
  }
  if (!p.empty() && p[0] == "targets" && p.size() <= 3)
    return targets(req, p.size() > 1 ? p[1] : "", p.size() > 2 ? p[2] : "");
  if (p.size() >= 3 && p.size() <= 5 && p[0] == "models" && p[2] == "variants")
    return variants(req, p[1], p.size() > 3 ? p[3] : "", p.size() > 4 ? p[4] : "");
  return net::error_response(404, "Not Found");
}

HttpResponse AdminApi::changed(int status, std::string_view key, const Change& c) {
  // Rebuild this replica's routing core now; the others see the new version on their next poll.
  // A failed reload is not the change's failure: the poll retries it.
  (void)reload_();
  auto v = store_->registry_version();
  const int64_t version = v.ok() ? *v : -1;
  // Who changed what is otherwise seen only as a new registry_version: the line names the record
  // and the fields, with their new values (records hold no secret), never the request's body.
  const FieldChanges f = changed_fields(c.before, c.after);
  telemetry::log_info("admin_change", {{"action", c.action}, {"class", c.kind}, {"model", c.model}, {"name", c.name},
                                       {"fields", f.names}, {"values", f.values}, {"registry_version", version}});
  std::string body = fmt::format(R"({{"registry_version":{})", version);
  if (!key.empty()) body += fmt::format(R"(,"{}":{})", key, c.after);
  return net::json_response(status, body + "}");
}

HttpResponse AdminApi::targets(const HttpRequest& req, std::string_view name, std::string_view action) {
  const std::string& m = req.method;
  if (name.empty()) {
    if (m == "GET") {
      auto all = store_->list_targets();
      if (!all.ok()) return store_error(all.status());
      return net::json_response(200, R"({"targets":)" + json_list(*all, target_json) + "}");
    }
    if (m != "POST") return method_not_allowed("GET, POST");
    // A new target names its class, as in the configuration file (no silent edge-cpu).
    store::TargetRecord fresh;
    fresh.hw_class.clear();
    auto t = parse_target_body(req.body, fresh);
    if (t.ok() && t->hw_class.empty()) t = InvalidArgument("missing 'class'");
    if (!t.ok()) return net::error_response(400, t.status().message());
    if (Status s = store_->add_target(*t); !s.ok()) return store_error(s);
    return changed(201, "target", {"create", "target", "", t->name, "", target_json(*t)});
  }
  if (!action.empty()) {
    if (action != "drain" && action != "undrain") return net::error_response(404, "Not Found");
    if (m != "POST") return method_not_allowed("POST");
    if (Status s = store_->set_target_drained(name, action == "drain"); !s.ok()) return store_error(s);
    return changed(200, "", {"update", "target", "", name, "", drained_json(action)});
  }
  if (m == "DELETE") {
    if (Status s = store_->remove_target(name); !s.ok()) return store_error(s);
    return changed(200, "", {"delete", "target", "", name, "", ""});
  }
  if (m == "GET") {
    auto cur = store_->get_target(name);
    if (!cur.ok()) return store_error(cur.status());
    return net::json_response(200, target_json(*cur));
  }
  if (m != "PUT") return method_not_allowed("GET, PUT, DELETE");
  // Fields the body leaves out keep their stored values, as they are when the change is written
  // (one transaction: a concurrent drain is kept, not undone).
  std::string before;  // as the transaction read it, for the log line
  auto t = store_->modify_target(name, [&req, &before](const store::TargetRecord& cur) {
    before = target_json(cur);
    return parse_target_body(req.body, cur);
  });
  if (!t.ok()) return store_error(t.status());
  return changed(200, "target", {"update", "target", "", name, std::move(before), target_json(*t)});
}

HttpResponse AdminApi::variants(const HttpRequest& req, std::string_view model, std::string_view name,
                                std::string_view action) {
  const std::string& m = req.method;
  if (name.empty()) {
    if (m == "GET") {
      auto all = store_->list_variants(model);
      if (!all.ok()) return store_error(all.status());
      return net::json_response(200, R"({"variants":)" + json_list(*all, variant_json) + "}");
    }
    if (m != "POST") return method_not_allowed("GET, POST");
    store::VariantRecord base;
    base.model = std::string(model);
    auto v = parse_variant_body(req.body, base);
    if (!v.ok()) return net::error_response(400, v.status().message());
    if (Status s = store_->add_variant(*v); !s.ok()) return store_error(s);
    // Read back: the store assigns the position (-1 asks for the last place).
    auto stored = store_->get_variant(model, v->name);
    return changed(201, "variant", {"create", "variant", model, v->name, "", variant_json(stored.ok() ? *stored : *v)});
  }
  if (!action.empty()) {
    if (action != "drain" && action != "undrain") return net::error_response(404, "Not Found");
    if (m != "POST") return method_not_allowed("POST");
    if (Status s = store_->set_variant_drained(model, name, action == "drain"); !s.ok()) return store_error(s);
    return changed(200, "", {"update", "variant", model, name, "", drained_json(action)});
  }
  if (m == "DELETE") {
    if (Status s = store_->remove_variant(model, name); !s.ok()) return store_error(s);
    return changed(200, "", {"delete", "variant", model, name, "", ""});
  }
  if (m == "GET") {
    auto cur = store_->get_variant(model, name);
    if (!cur.ok()) return store_error(cur.status());
    return net::json_response(200, variant_json(*cur));
  }
  if (m != "PUT") return method_not_allowed("GET, PUT, DELETE");
  std::string before;
  auto v = store_->modify_variant(model, name, [&req, &before](const store::VariantRecord& cur) {
    before = variant_json(cur);
    return parse_variant_body(req.body, cur);
  });
  if (!v.ok()) return store_error(v.status());
  return changed(200, "variant", {"update", "variant", model, name, std::move(before), variant_json(*v)});
}

}  // namespace hir::router
