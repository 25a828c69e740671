// HTTP message helpers and the wire format of message heads. No Asio here on purpose: this file
// compiles in a second, unlike the Beast translation units.
#include "net/http.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/json_string.h"
#include "core/text_writer.h"
#include "net/wire.h"

namespace hir::net {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const Slot& x : slots_)
    if (wire::iequals(name_of(x), name))
      return std::string_view(text_.data() + x.value_at, x.value_len);
  return std::nullopt;
}

void Headers::reserve(size_t count, size_t bytes) {
  slots_.reserve(count);
  text_.reserve(bytes);
}

bool Headers::inside(std::string_view s) const {
  return !s.empty() && s.data() >= text_.data() && s.data() < text_.data() + text_.size();
}

uint32_t Headers::put(std::string_view a, std::string_view b) {
  if (inside(a) || inside(b)) {
    // A view into this very text (h.set("a", *h.get("b"))): growing the text may move it.
    const std::string copy_a(a), copy_b(b);
    return put(copy_a, copy_b);
  }
  const size_t at = text_.size();
  text_.append(a.data(), a.size());
  text_.append(b.data(), b.size());
  return static_cast<uint32_t>(at);
}

void Headers::set(std::string_view name, std::string_view value) {
  size_t found = 0;
  while (found < slots_.size() && !wire::iequals(name_of(slots_[found]), name)) ++found;
  if (found == slots_.size()) {
    add(name, value);
    return;
  }
  // Later ones of the same name go; the first keeps its place and its spelling.
  size_t kept = found + 1;
  for (size_t i = found + 1; i < slots_.size(); ++i)
    if (!wire::iequals(name_of(slots_[i]), name)) slots_[kept++] = slots_[i];
  slots_.resize(kept);
  // The old value's bytes stay, unused, until the text is dropped.
  slots_[found].value_at = put({}, value);
  slots_[found].value_len = static_cast<uint32_t>(value.size());
}

void Headers::add(std::string_view name, std::string_view value) {
  if (slots_.capacity() == 0) reserve(kTypicalCount, kTypicalBytes);
  Slot x;
  x.name_len = static_cast<uint32_t>(name.size());
  x.value_len = static_cast<uint32_t>(value.size());
  x.name_at = put(name, value);
  x.value_at = x.name_at + x.name_len;
  slots_.push_back(x);
}

HttpResponse error_response(int status, std::string_view message) {
  std::string body = "{\"error\":";
  append_json_string(body, message);
  body += '}';
  return json_response(status, std::move(body));
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r = error_response(405, "Method Not Allowed");
  r.headers.set("Allow", std::string(allow));
  return r;
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

std::string_view path_of(std::string_view target) {
  // Sixteen bytes a step (SSE2, which every x86-64 has), the rest one at a time: a byte loop
  // cost ~8 instructions a byte on every request's ~30-byte target, and find_first_of looks
  // each byte up in the set with a call of its own.
  const char* const p = target.data();
  const size_t n = target.size();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i query = _mm_set1_epi8('?'), fragment = _mm_set1_epi8('#');
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int hit = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, query), _mm_cmpeq_epi8(x, fragment)));
    if (hit != 0) return target.substr(0, i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(hit))));
  }
#endif
  while (i < n && p[i] != '?' && p[i] != '#') ++i;
  return target.substr(0, i);
}

namespace wire {

namespace {

// Eight bytes at once (the SWAR byte tests of Bit Twiddling Hacks): equal ignoring ASCII case
// when every differing byte differs only in bit 0x20 and is a letter in both words. A header
// lookup that finds its name compares it whole, 10 to 31 bytes.
bool iequals_word(uint64_t x, uint64_t y) {
  constexpr uint64_t k01 = 0x0101010101010101u, k20 = k01 * 0x20, k7f = k01 * 0x7f, k80 = k01 * 0x80;
  const uint64_t d = x ^ y;
  if (d == 0) return true;
  if (d & ~k20) return false;
  // Letters of x, lowered: bytes in 'a'..'z'. Bit 7 is masked first so that no sum carries
  // into the next byte; a byte with it set is no letter.
  const uint64_t l = (x | k20) & k7f;
  const uint64_t at_least_a = (l + k01 * (0x80 - 'a')) & k80;
  const uint64_t above_z = (l + k01 * (0x80 - 'z' - 1)) & k80;
  const uint64_t letter = at_least_a & ~above_z & ~(x & k80);
  return ((d << 2) & k80 & ~letter) == 0;  // bit 0x20 of d, moved to bit 7
}

}  // namespace

bool iequals_same_size(const char* a, const char* b, size_t n) {
  auto word = [](const char* p, size_t bytes) {
    uint64_t w = 0;
    std::memcpy(&w, p, bytes);
    return w;
  };
  if (n >= 8) {
    // Whole words, then the last eight bytes again (overlapping the words before: equality of
    // every byte is all that is asked).
    size_t i = 0;
    for (; n - i >= 8; i += 8)
      if (!iequals_word(word(a + i, 8), word(b + i, 8))) return false;
    return i == n || iequals_word(word(a + n - 8, 8), word(b + n - 8, 8));
  }
  if (n >= 4)  // the first four bytes and the last four
    return iequals_word(word(a, 4), word(b, 4)) && iequals_word(word(a + n - 4, 4), word(b + n - 4, 4));
  for (size_t i = 0; i < n; ++i) {
    // Only a pair differing in bit 0x20 can match without being equal.
    const char x = a[i], y = b[i];
    if (x != y && ((x ^ y) != 0x20 || lower(x) != lower(y))) return false;
  }
  return true;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

// True when no byte of w is CR, LF or NUL: the "haszero" word test of Bit Twiddling Hacks on w
// and on w with each of them XORed out, exact as a yes/no answer.
bool no_cr_lf_nul(uint64_t w) {
  constexpr uint64_t k01 = 0x0101010101010101u;
  constexpr uint64_t k80 = 0x8080808080808080u;
  auto has_zero = [](uint64_t x) { return (x - k01) & ~x & k80; };
  return (has_zero(w) | has_zero(w ^ (k01 * '\r')) | has_zero(w ^ (k01 * '\n'))) == 0;
}

// The bytes a header name may not hold: one table lookup per byte instead of six comparisons.
constexpr std::array<bool, 256> kNotInName = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : {':', ' ', '\t', '\r', '\n', '\0'}) t[c] = true;
  return t;
}();

}  // namespace

bool header_safe(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  bool bad = false;
  for (char c : name) bad |= kNotInName[static_cast<unsigned char>(c)];
  return !bad && value_safe(value);
}

bool value_safe(std::string_view value) {
  // Every header of every message passes here: eight bytes per step (three memchr calls over
  // short values cost ~3x as much).
  const char* p = value.data();
  const char* const end = p + value.size();
  for (; end - p >= 8; p += 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (!no_cr_lf_nul(w)) return false;
  }
  for (; p < end; ++p)
    if (*p == '\r' || *p == '\n' || *p == '\0') return false;
  return true;
}

namespace {

// Framing headers are the transport's job; a handler's copy would contradict ours.
bool framing_header(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection");
}

// What a head holds besides its fields, at most: the status line (a reason phrase is at most 31
// bytes) or the request line (its method and target aside), Host or Server (their values
// aside), Content-Length, Connection, the blank line.
constexpr size_t kHeadFrame = 128;

// The bytes a head will take at most: HeadWriter's bound.
size_t head_size(const Headers& h) {
  size_t n = kHeadFrame;
  for (const auto [k, v] : h) n += k.size() + v.size() + 4;
  return n;
}

// A head written at the end of `out` in one go (core/text_writer.h), bounded by head_size.
class HeadWriter : public TextWriter {
 public:
  using TextWriter::TextWriter;
  void field(std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
  void number_field(std::string_view name, size_t n) {
    put(name);
    put(": ");
    number(n);
    put("\r\n");
  }
};

}  // namespace

void append_response_head(std::string& out, const HttpResponse& res, int version,
                          bool keep_alive, std::string_view server_name) {
  // A 1xx here would leave the client waiting for a final answer that never comes.
  const int status = (res.status >= 200 && res.status <= 999) ? res.status : 500;
  HeadWriter w(out, head_size(res.headers) + res.prewritten.size() + server_name.size());
  w.put(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  const char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                        static_cast<char>('0' + status % 10)};
  w.put(std::string_view(code, 3));
  w.put(" ");
  w.put(reason_phrase(status));
  w.put("\r\n");
  w.put(res.prewritten);  // its maker's promise: checked where it was written
  bool has_server = false;
  for (const auto [k, v] : res.headers) {
    if (framing_header(k) || !header_safe(k, v)) continue;
    has_server = has_server || iequals(k, "Server");
    w.field(k, v);
  }
  if (!has_server && !server_name.empty()) w.field("Server", server_name);
  // RFC 9110 §8.6: no Content-Length on 204; on 304 it would describe the cached body.
  if (status != 204 && status != 304) w.number_field("Content-Length", res.body.size());
  if (!keep_alive) {
    w.field("Connection", "close");
  } else if (version == 10) {
    w.field("Connection", "keep-alive");
  }
  w.put("\r\n");
}

void append_request_head(std::string& out, const HttpRequest& req, std::string_view target,
                         std::string_view host) {
  HeadWriter w(out, head_size(req.headers) + req.method.size() + target.size() + host.size());
  w.put(req.method.empty() ? std::string_view("GET") : std::string_view(req.method));
  w.put(" ");
  w.put(target.empty() ? std::string_view("/") : target);
  w.put(" HTTP/1.1\r\n");
  w.field("Host", host);
  for (const auto [k, v] : req.headers) {
    // Connection passes through so that a caller can ask for close; the pool then honours it.
    if (iequals(k, "Host") || iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding") ||
        !header_safe(k, v))
      continue;
    w.field(k, v);
  }
  w.number_field("Content-Length", req.body.size());
  w.put("\r\n");
}

}  // namespace wire

}  // namespace hir::net
