// JSON text output shared by every encoder: strings, numbers, parameters, small bodies.
#include "protocol/json_write.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "protocol/v2_codec.h"

namespace hir::protocol {
namespace detail {

template <class T>
static void append_number(std::string& out, T v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_int(std::string& out, int64_t v) { append_number(out, v); }
void append_uint(std::string& out, uint64_t v) { append_number(out, v); }
// "-0" would read back as the integer 0 and lose the sign, so negative zero keeps a fraction.
void append_float(std::string& out, float v) {
  if (v == 0 && std::signbit(v)) return void(out += "-0.0");
  append_number(out, v);
}
void append_double(std::string& out, double v) {
  if (v == 0 && std::signbit(v)) return void(out += "-0.0");
  append_number(out, v);
}

void append_shape(std::string& out, std::span<const int64_t> shape, int64_t first) {
  out += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    append_int(out, i == 0 && first >= 0 ? first : shape[i]);
  }
  out += ']';
}

void append_key(std::string& out, std::string_view key) {
  append_json_string(out, key);
  out += ':';
}

size_t open_response_bound(std::string_view id, std::string_view model_name, std::string_view model_version) {
  // {"id":…,"model_name":…,"model_version":… is 37 bytes around the strings
  return 40 + json_string_bound(id.size()) + json_string_bound(model_name.size()) +
         json_string_bound(model_version.size());
}

void write_open_response(TextWriter& w, std::string_view id, std::string_view model_name,
                         std::string_view model_version) {
  w.put('{');
  if (!id.empty()) {
    w.put("\"id\":");
    w.json_string(id);
    w.put(',');
  }
  w.put("\"model_name\":");
  w.json_string(model_name);
  if (!model_version.empty()) {
    w.put(",\"model_version\":");
    w.json_string(model_version);
  }
}

void open_response(std::string& out, std::string_view id, std::string_view model_name,
                   std::string_view model_version) {
  TextWriter w(out, open_response_bound(id, model_name, model_version));
  write_open_response(w, id, model_name, model_version);
}

}  // namespace detail

namespace {

// A double parameter, at most 32 bytes: its shortest form (at most 24), ".0" when that reads as
// an integer, or NaN and the infinities as strings.
void write_param_double(TextWriter& w, double v) {
  if (std::isnan(v)) return w.put("\"NaN\"");
  if (std::isinf(v)) return w.put(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  if (v == 0 && std::signbit(v)) return w.put("-0.0");
  char*& p = w.cursor();
  char* const start = p;
  p = std::to_chars(p, p + 26, v).ptr;
  // Keep the value a double when read back: "5" would come back as an integer.
  if (std::none_of(start, p, [](char c) { return c == '.' || c == 'e' || c == 'E'; })) w.put(".0");
}

// units x 10^-scale as a JSON number with a fraction ("0.0000025", "12.5", "3.0"): the digits
// of |units|, the point put `scale` from the right, trailing zeros of the fraction dropped but one.
// At most 42 bytes: a sign, "0.", 18 zeros and 20 digits.
void write_decimal(TextWriter& w, Decimal d) {
  if (d.units == 0) return w.put("0.0");
  const int scale = std::clamp(d.scale, 0, 18);
  char digits[24];
  const uint64_t magnitude = d.units < 0 ? 0 - static_cast<uint64_t>(d.units) : static_cast<uint64_t>(d.units);
  const auto end = std::to_chars(digits, digits + sizeof digits, magnitude).ptr;
  const auto n = static_cast<int>(end - digits);
  char* p = w.cursor();
  if (d.units < 0) *p++ = '-';
  const int whole = n - scale;  // digits before the point; <= 0: "0." and zeros first
  if (whole <= 0) {
    *p++ = '0';
  } else {
    std::memcpy(p, digits, static_cast<size_t>(whole));
    p += whole;
  }
  *p++ = '.';
  for (int i = whole; i < 0; ++i) *p++ = '0';
  const int from = std::max(whole, 0);
  int last = n;  // the fraction's end once its trailing zeros are dropped
  while (last > from + 1 && digits[last - 1] == '0') --last;
  if (last > from) {
    std::memcpy(p, digits + from, static_cast<size_t>(last - from));
    p += last - from;
  } else {
    *p++ = '0';
  }
  w.cursor() = p;
}

}  // namespace

namespace detail {

size_t param_value_bound(const ParamView& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) return json_string_bound(s->size());
  return 48;  // a number, at most write_decimal's 42 bytes
}

void write_param_value(TextWriter& w, const ParamView& v) {
  if (const auto* b = std::get_if<bool>(&v)) {
    w.put(*b ? "true" : "false");
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    w.number(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    write_param_double(w, *d);
  } else if (const auto* x = std::get_if<Decimal>(&v)) {
    write_decimal(w, *x);
  } else {
    w.json_string(std::get<std::string_view>(v));
  }
}

void append_param_value(std::string& out, const ParamView& v) {
  TextWriter w(out, param_value_bound(v));
  write_param_value(w, v);
}

void append_param_value(std::string& out, const ParamValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return append_json_string(out, *s);
  if (const auto* b = std::get_if<bool>(&v)) return append_param_value(out, ParamView(*b));
  if (const auto* i = std::get_if<int64_t>(&v)) return append_param_value(out, ParamView(*i));
  append_param_value(out, ParamView(std::get<double>(v)));
}

}  // namespace detail

void append_parameters(std::string& out, const Parameters& p) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : p) {
    if (!first) out += ',';
    first = false;
    detail::append_key(out, key);
    detail::append_param_value(out, value);
  }
  out += '}';
}

std::string error_body(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out += '}';
  return out;
}

std::string encode_server_metadata(std::string_view name, std::string_view version,
                                   const std::vector<std::string>& extensions) {
  std::string out = "{\"name\":";
  append_json_string(out, name);
  out += ",\"version\":";
  append_json_string(out, version);
  out += ",\"extensions\":[";
  for (size_t i = 0; i < extensions.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, extensions[i]);
  }
  out += "]}";
  return out;
}

}  // namespace hir::protocol
