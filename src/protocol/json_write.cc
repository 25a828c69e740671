// JSON text output shared by every encoder: strings, numbers, parameters, small bodies.
#include "protocol/json_write.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>

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

void append_shape(std::string& out, const Shape& shape) {
  out += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    append_int(out, shape[i]);
  }
  out += ']';
}

void append_key(std::string& out, std::string_view key) {
  append_json_string(out, key);
  out += ':';
}

}  // namespace detail

namespace {

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4 table), or 0 when ill-formed.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned char { return i + k < s.size() ? s[i + k] : 0; };
  const unsigned char c = at(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return is_cont(at(1)) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return at(1) >= lo && at(1) <= hi && is_cont(at(2)) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return at(1) >= lo && at(1) <= hi && is_cont(at(2)) && is_cont(at(3)) ? 4 : 0;
  }
  return 0;
}

// JSON string escapes (RFC 8259 §7): the quote, the backslash and control characters.
void append_escaped_char(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  out += "\\u00";
  out += kHex[c >> 4];
  out += kHex[c & 0xF];
}

bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void append_escaped_valid(std::string& out, std::string_view s) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!needs_escape(c)) continue;
    out.append(s.data() + run, i - run);
    append_escaped_char(out, c);
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
}

void append_escaped_repairing(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\\ufffd";  // the replacement character for an ill-formed byte
      ++i;
    } else if (n == 1 && needs_escape(static_cast<unsigned char>(s[i]))) {
      append_escaped_char(out, static_cast<unsigned char>(s[i++]));
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
}

void append_param_double(std::string& out, double v) {
  if (std::isnan(v)) return append_json_string(out, "NaN");
  if (std::isinf(v)) return append_json_string(out, v > 0 ? "Infinity" : "-Infinity");
  const size_t start = out.size();
  detail::append_double(out, v);
  // Keep the value a double when read back: "5" would come back as an integer.
  if (out.find_first_of(".eE", start) == std::string::npos) out += ".0";
}

}  // namespace

namespace detail {

void append_param_value(std::string& out, const ParamValue& v) {
  if (const auto* b = std::get_if<bool>(&v)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    detail::append_int(out, *i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    append_param_double(out, *d);
  } else {
    append_json_string(out, std::get<std::string>(v));
  }
}

}  // namespace detail

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  if (simdjson::validate_utf8(s.data(), s.size())) {
    append_escaped_valid(out, s);
  } else {
    append_escaped_repairing(out, s);
  }
  out += '"';
}

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
