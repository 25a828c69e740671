// simdjson DOM access with errors as values. Every accessor names the field it failed on, so a
// client sees which part of its body was wrong (shared/protocol-v2.md §2.3 asks for a clear
// {"error": ...}; Triton's own messages are often vaguer).
#include "protocol/json_read.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace hir::protocol::detail {
namespace {

using simdjson::dom::element_type;

// A parser that grew past this for one large body is dropped afterwards, so an idle thread does
// not keep tens of MiB of tape around.
constexpr size_t kKeepCapacity = size_t{16} << 20;

thread_local simdjson::dom::parser t_parser;
thread_local bool t_parser_busy = false;

// Integral doubles are accepted as integers (a client may send 3.0 for 3); anything with a
// fraction or beyond int64 is not.
bool double_to_int(double d, int64_t& out) {
  if (!(d == std::floor(d))) return false;  // also rejects NaN
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
  out = static_cast<int64_t>(d);
  return true;
}

Status param_value(const element& e, std::string_view path, ParamValue& out) {
  switch (e.type()) {
    case element_type::BOOL:
      out = e.get_bool().value_unsafe();
      return Status::Ok();
    case element_type::INT64:
      out = e.get_int64().value_unsafe();
      return Status::Ok();
    case element_type::UINT64:  // beyond int64: keep it as a number, approximately
      out = static_cast<double>(e.get_uint64().value_unsafe());
      return Status::Ok();
    case element_type::DOUBLE:
      out = e.get_double().value_unsafe();
      return Status::Ok();
    case element_type::STRING:
      out = std::string(e.get_string().value_unsafe());
      return Status::Ok();
    default:
      return type_error(path, "a string, number or boolean", e);
  }
}

}  // namespace

ParsedJson::ParsedJson(std::string_view text, std::string_view what) {
  if (!t_parser_busy) {
    t_parser_busy = true;
    parser_ = &t_parser;
  } else {
    own_ = std::make_unique<simdjson::dom::parser>();
    parser_ = own_.get();
  }
  element doc;
  // realloc_if_needed=true: simdjson copies the text into its reused, padded buffer.
  auto err = parser_->parse(text.data(), text.size(), true).get(doc);
  if (err) {
    status_ = InvalidArgument("failed to parse the " + std::string(what) +
                              " JSON: " + simdjson::error_message(err));
    return;
  }
  if (doc.get_object().get(root_))
    status_ = InvalidArgument("the " + std::string(what) + " JSON must be an object, got " +
                              std::string(json_type_name(doc)));
}

ParsedJson::~ParsedJson() {
  if (own_) return;
  if (t_parser.capacity() > kKeepCapacity) t_parser = simdjson::dom::parser{};
  t_parser_busy = false;
}

std::string_view json_type_name(const element& e) {
  switch (e.type()) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
      return "an integer";
    case element_type::DOUBLE:
      return "a floating-point number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "an unknown value";
}

Status type_error(std::string_view path, std::string_view expected, const element& e) {
  return InvalidArgument(quote(path) + " must be " + std::string(expected) + ", got " +
                         std::string(json_type_name(e)));
}

std::optional<element> member(const object& o, std::string_view key) {
  element e;
  if (o.at_key(key).get(e)) return std::nullopt;
  return e;
}

Status required(const object& o, std::string_view key, std::string_view path, element& out) {
  if (o.at_key(key).get(out)) return InvalidArgument("missing " + quote(path));
  return Status::Ok();
}

Status as_object(const element& e, std::string_view path, object& out) {
  if (e.get_object().get(out)) return type_error(path, "an object", e);
  return Status::Ok();
}

Status as_array(const element& e, std::string_view path, array& out) {
  if (e.get_array().get(out)) return type_error(path, "an array", e);
  return Status::Ok();
}

Status as_string(const element& e, std::string_view path, std::string_view& out) {
  if (e.get_string().get(out)) return type_error(path, "a string", e);
  return Status::Ok();
}

Status as_int(const element& e, std::string_view path, int64_t lo, int64_t hi, int64_t& out) {
  bool ok = false;
  switch (e.type()) {
    case element_type::INT64:
      out = e.get_int64().value_unsafe();
      ok = true;
      break;
    case element_type::DOUBLE:
      ok = double_to_int(e.get_double().value_unsafe(), out);
      break;
    case element_type::UINT64:
      break;  // > INT64_MAX: out of every range we accept
    default:
      return type_error(path, "an integer", e);
  }
  if (!ok || out < lo || out > hi)
    return InvalidArgument(quote(path) + " must be an integer in [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "], got " + preview(e));
  return Status::Ok();
}

Status as_shape(const element& e, std::string_view path, int64_t min_dim, Shape& out) {
  array dims;
  HIR_RETURN_IF_ERROR(as_array(e, path, dims));
  out.clear();
  size_t i = 0;
  for (element d : dims) {
    int64_t v = 0;
    if (d.get_int64().get(v) || v < min_dim) {  // the path is built only for the message
      HIR_RETURN_IF_ERROR(as_int(d, std::string(path) + "[" + std::to_string(i) + "]", min_dim,
                                 INT64_MAX, v));
    }
    out.push_back(v);
    ++i;
  }
  return Status::Ok();
}

Status as_parameters(const element& e, std::string_view path, Parameters& out) {
  object o;
  HIR_RETURN_IF_ERROR(as_object(e, path, o));
  out.clear();
  for (auto field : o) {
    ParamValue v;
    if (Status s = param_value(field.value, {}, v); !s.ok())  // the path only for the message
      return param_value(field.value, std::string(path) + "." + std::string(field.key), v);
    out.insert_or_assign(std::string(field.key), std::move(v));
  }
  return Status::Ok();
}

Result<size_t> forwarded_json_length(std::string_view body, std::optional<std::string_view> header) {
  if (!header) return body.size();
  std::string_view v = *header;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() ||
      n > uint64_t{std::numeric_limits<int32_t>::max()} || n > body.size() || n == 0)
    return InvalidArgument("unusable Inference-Header-Content-Length");
  return static_cast<size_t>(n);
}

std::string preview(const element& e) {
  constexpr size_t kMax = 40;
  std::string s = simdjson::minify(e);
  if (s.size() > kMax) {
    s.resize(kMax);
    s += "...";
  }
  return s;
}

}  // namespace hir::protocol::detail
