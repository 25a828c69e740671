// The admin API's JSON: reading target and variant bodies (simdjson through protocol's reader, so
// every error names its field) and writing records back.
#include <fmt/format.h>

#include <optional>
#include <set>

#include "core/json_string.h"
#include "net/client.h"
#include "protocol/json_read.h"
#include "router/config.h"
#include "router/admin_api.h"

namespace hir::router {

using protocol::detail::element;
using protocol::detail::object;

namespace {

// The YAML file's bounds (router/config.cc): a price at most $1,000,000, a time at most an hour.
constexpr double kMaxUsd = 1e6, kMaxMs = 3.6e6;

Status read_double(const element& e, std::string_view field, double lo, double hi, double& out) {
  double d = 0;
  if (e.get_double().get(d) != simdjson::SUCCESS) return protocol::detail::type_error(field, "a number", e);
  if (!(d >= lo && d <= hi)) return InvalidArgument(fmt::format("'{}' must be within {}..{}, got {}", field, lo, hi, d));
  out = d;
  return Status::Ok();
}

Status read_bool(const element& e, std::string_view field, bool& out) {
  if (e.get_bool().get(out) != simdjson::SUCCESS) return protocol::detail::type_error(field, "a boolean", e);
  return Status::Ok();
}

Status read_string(const element& e, std::string_view field, std::string& out) {
  std::string_view v;
  HIR_RETURN_IF_ERROR(protocol::detail::as_string(e, field, v));
  out = std::string(v);
  return Status::Ok();
}

Status read_class(const element& e, std::string_view field, bool allow_empty, std::string& out) {
  HIR_RETURN_IF_ERROR(read_string(e, field, out));
  if ((allow_empty && out.empty()) || store::is_hardware_class(out)) return Status::Ok();
  return InvalidArgument(fmt::format("'{}' must be one of mcu, edge-cpu, edge-gpu, cloud, got '{}'", field, out));
}

// Every member must be one the record knows: a misspelt field is an error, not silently ignored.
// And each at most once: simdjson's lookup takes the first of duplicates where most JSON tools
// take the last, so either reading could surprise someone (as the YAML file, yaml_fields.h).
Status known_fields(const object& o, const std::set<std::string_view>& known) {
  std::set<std::string_view> seen;
  for (auto [key, value] : o) {
    if (!known.contains(key)) return InvalidArgument(fmt::format("unknown field '{}'", std::string_view(key)));
    if (!seen.insert(key).second) return InvalidArgument(fmt::format("duplicate field '{}'", std::string_view(key)));
  }
  return Status::Ok();
}

void append_number(std::string& out, double v) { out += fmt::format("{}", v); }

}  // namespace

Result<store::TargetRecord> parse_target_body(std::string_view body, store::TargetRecord t) {
  protocol::detail::ParsedJson doc(body, "admin request");
  if (!doc.status().ok()) return doc.status();
  const object& o = doc.root();
  HIR_RETURN_IF_ERROR(known_fields(o, {"name", "url", "class", "cost_per_request_usd", "cost_per_second_usd",
                                       "failure_domain", "concurrency", "queue_capacity", "token_env", "timeout_ms",
                                       "expected_rtt_ms", "poll_load", "drained"}));
  using protocol::detail::member;
  if (auto e = member(o, "name")) HIR_RETURN_IF_ERROR(read_string(*e, "name", t.name));
  if (auto e = member(o, "url")) HIR_RETURN_IF_ERROR(read_string(*e, "url", t.url));
  if (auto e = member(o, "class")) HIR_RETURN_IF_ERROR(read_class(*e, "class", false, t.hw_class));
  if (member(o, "url") || member(o, "class")) {
    // An MCU pool's url is its device addresses, space-separated (config.h join_devices).
    if (t.hw_class == "mcu" && names_mcu_devices(t.url)) {
      TargetConfig probe;
      if (Status s = make_mcu_pool(probe, split_devices(t.url)); !s.ok()) return InvalidArgument("'url': " + s.message());
    } else if (auto u = net::Url::parse(t.url); !u.ok()) {
      return InvalidArgument("'url': " + u.status().message());
    }
  }
  double usd = 0;
  if (auto e = member(o, "cost_per_request_usd")) {
    HIR_RETURN_IF_ERROR(read_double(*e, "cost_per_request_usd", 0, kMaxUsd, usd));
    t.cost_per_request = Money::from_usd(usd);
  }
  if (auto e = member(o, "cost_per_second_usd")) {
    HIR_RETURN_IF_ERROR(read_double(*e, "cost_per_second_usd", 0, kMaxUsd, usd));
    t.cost_per_second = Money::from_usd(usd);
  }
  if (auto e = member(o, "failure_domain")) HIR_RETURN_IF_ERROR(read_string(*e, "failure_domain", t.failure_domain));
  int64_t n = 0;
  if (auto e = member(o, "concurrency")) {
    HIR_RETURN_IF_ERROR(protocol::detail::as_int(*e, "concurrency", 1, kMaxTargetConcurrency, n));
    t.concurrency = static_cast<uint32_t>(n);
  }
  if (auto e = member(o, "queue_capacity")) {
    HIR_RETURN_IF_ERROR(protocol::detail::as_int(*e, "queue_capacity", 0, 1 << 24, n));
    t.queue_capacity = static_cast<uint32_t>(n);
  }
  if (auto e = member(o, "token_env")) {
    HIR_RETURN_IF_ERROR(read_string(*e, "token_env", t.token_env));
    if (!t.token_env.empty()) HIR_RETURN_IF_ERROR(check_token_env(t.token_env));
  }
  if (auto e = member(o, "timeout_ms")) HIR_RETURN_IF_ERROR(read_double(*e, "timeout_ms", 0, kMaxMs, t.timeout_ms));
  if (auto e = member(o, "expected_rtt_ms")) HIR_RETURN_IF_ERROR(read_double(*e, "expected_rtt_ms", 0, kMaxMs, t.expected_rtt_ms));
  if (auto e = member(o, "poll_load")) HIR_RETURN_IF_ERROR(read_bool(*e, "poll_load", t.poll_load));
  if (auto e = member(o, "drained")) HIR_RETURN_IF_ERROR(read_bool(*e, "drained", t.drained));
  if (t.name.empty()) return InvalidArgument("missing 'name'");
  HIR_RETURN_IF_ERROR(check_name("'name'", t.name));
  if (t.url.empty()) return InvalidArgument("missing 'url'");
  if (t.timeout_ms <= 0) return InvalidArgument("'timeout_ms' must be > 0");
  return t;
}

Result<store::VariantRecord> parse_variant_body(std::string_view body, store::VariantRecord v) {
  protocol::detail::ParsedJson doc(body, "admin request");
  if (!doc.status().ok()) return doc.status();
  const object& o = doc.root();
  HIR_RETURN_IF_ERROR(known_fields(o, {"name", "position", "accuracy", "accuracy_by_band", "size_bytes", "class",
                                       "expected_service_ms", "targets", "drained"}));
  using protocol::detail::member;
  if (auto e = member(o, "name")) HIR_RETURN_IF_ERROR(read_string(*e, "name", v.name));
  int64_t n = 0;
  if (auto e = member(o, "position")) {
    HIR_RETURN_IF_ERROR(protocol::detail::as_int(*e, "position", -1, 1 << 20, n));
    v.position = static_cast<int>(n);
  }
  if (auto e = member(o, "accuracy")) {
    HIR_RETURN_IF_ERROR(read_double(*e, "accuracy", 0, 1, v.accuracy));
  }
  if (auto e = member(o, "accuracy_by_band")) {
    protocol::detail::array a;
    HIR_RETURN_IF_ERROR(protocol::detail::as_array(*e, "accuracy_by_band", a));
    v.accuracy_by_band.clear();
    for (element x : a) {
      double d = 0;
      HIR_RETURN_IF_ERROR(read_double(x, "accuracy_by_band[]", 0, 1, d));
      v.accuracy_by_band.push_back(d);
    }
  }
  if (auto e = member(o, "size_bytes")) HIR_RETURN_IF_ERROR(protocol::detail::as_int(*e, "size_bytes", 0, INT64_MAX, v.size_bytes));
  if (auto e = member(o, "class")) HIR_RETURN_IF_ERROR(read_class(*e, "class", true, v.hw_class));
  if (auto e = member(o, "expected_service_ms"))
    HIR_RETURN_IF_ERROR(read_double(*e, "expected_service_ms", 0, kMaxMs, v.expected_service_ms));
  if (auto e = member(o, "targets")) {
    protocol::detail::array a;
    HIR_RETURN_IF_ERROR(protocol::detail::as_array(*e, "targets", a));
    v.targets.clear();
    for (element x : a) {
      std::string name;
      HIR_RETURN_IF_ERROR(read_string(x, "targets[]", name));
      v.targets.push_back(std::move(name));
    }
  }
  if (auto e = member(o, "drained")) HIR_RETURN_IF_ERROR(read_bool(*e, "drained", v.drained));
  if (v.name.empty()) return InvalidArgument("missing 'name'");
  HIR_RETURN_IF_ERROR(check_name("'name'", v.name));
  // As the configuration file: a variant no target serves could never be chosen.
  if (v.targets.empty()) return InvalidArgument("'targets' needs at least one target name");
  return v;
}

std::string target_json(const store::TargetRecord& t) {
  std::string out = R"({"name":)";
  append_json_string(out, t.name);
  out += R"(,"url":)";
  append_json_string(out, t.url);
  out += R"(,"class":)";
  append_json_string(out, t.hw_class);
  out += R"(,"cost_per_request_usd":)";
  append_number(out, t.cost_per_request.usd());
  out += R"(,"cost_per_second_usd":)";
  append_number(out, t.cost_per_second.usd());
  out += R"(,"failure_domain":)";
  append_json_string(out, t.failure_domain);
  out += fmt::format(R"(,"concurrency":{},"queue_capacity":{},"token_env":)", t.concurrency, t.queue_capacity);
  append_json_string(out, t.token_env);  // the variable's name, never its value
  out += R"(,"timeout_ms":)";
  append_number(out, t.timeout_ms);
  out += R"(,"expected_rtt_ms":)";
  append_number(out, t.expected_rtt_ms);
  out += fmt::format(R"(,"poll_load":{},"drained":{}}})", t.poll_load, t.drained);
  return out;
}

std::string variant_json(const store::VariantRecord& v) {
  std::string out = R"({"model":)";
  append_json_string(out, v.model);
  out += R"(,"name":)";
  append_json_string(out, v.name);
  out += fmt::format(R"(,"position":{},"accuracy":{},"accuracy_by_band":[)", v.position, v.accuracy);
  for (size_t i = 0; i < v.accuracy_by_band.size(); ++i) {
    if (i) out += ',';
    append_number(out, v.accuracy_by_band[i]);
  }
  out += fmt::format(R"(],"size_bytes":{},"class":)", v.size_bytes);
  append_json_string(out, v.hw_class);
  out += R"(,"expected_service_ms":)";
  append_number(out, v.expected_service_ms);
  out += R"(,"targets":[)";
  for (size_t i = 0; i < v.targets.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, v.targets[i]);
  }
  out += fmt::format(R"(],"drained":{}}})", v.drained);
  return out;
}

// Compares the records as their JSON shows them, so that a field added to a record is logged
// without a second list of fields to keep in step with target_json and variant_json.
FieldChanges changed_fields(std::string_view before_json, std::string_view after_json) {
  FieldChanges out;
  if (after_json.empty()) return out;
  protocol::detail::ParsedJson after(after_json, "admin record");
  if (!after.status().ok()) return out;
  std::optional<protocol::detail::ParsedJson> before;
  if (!before_json.empty()) before.emplace(before_json, "admin record");
  out.values = "{";
  for (auto [key, value] : after.root()) {
    std::string now = simdjson::minify(value);
    if (before && before->status().ok()) {
      auto was = protocol::detail::member(before->root(), key);
      if (was && simdjson::minify(*was) == now) continue;
    }
    if (!out.names.empty()) {
      out.names += ',';
      out.values += ',';
    }
    out.names += key;
    append_json_string(out.values, key);
    out.values += ':' + now;
  }
  out.values += '}';
  return out;
}

}  // namespace hir::router
