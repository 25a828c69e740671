#include "net/fast_head.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "net/wire.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hir::net::wire {
namespace {

// Byte classes, one table: what each part of a plain head may hold.
enum : uint8_t {
  kToken = 1,   // tchar (RFC 9110 §5.6.2): methods and field names
  kTarget = 2,  // a request target's bytes as taken here: visible ASCII
  kText = 4,    // a field value's or reason phrase's bytes as taken here: HTAB, SP, visible ASCII
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = kTarget | kText;
  t[' '] = kText;
  t['\t'] = kText;
  for (int c = '0'; c <= '9'; ++c) t[c] |= kToken;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kToken;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kToken;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] |= kToken;
  return t;
}
constexpr std::array<uint8_t, 256> kClass = make_classes();

bool is(char c, uint8_t cls) { return (kClass[static_cast<unsigned char>(c)] & cls) != 0; }

#if defined(__SSE2__)
// Sixteen bytes at a time (SSE2, which every x86-64 has), each test a 16-bit mask of the bytes
// that pass. Signed byte compares: a byte from 0x80 up is negative, so below every lower bound.
__m128i in_range(__m128i x, char lo, char hi) {
  return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
}
// Letters, digits and '-': nearly every byte of real methods and field names.
int name_bytes(__m128i x) {
  const __m128i letter = in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i digit = in_range(x, '0', '9');
  const __m128i dash = _mm_cmpeq_epi8(x, _mm_set1_epi8('-'));
  return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), dash));
}
// The bytes of x in the common part of class Cls (each one of its bytes).
template <uint8_t Cls>
int fast_mask(__m128i x) {
  if constexpr (Cls == kToken) return name_bytes(x);
  if constexpr (Cls == kTarget) return _mm_movemask_epi8(in_range(x, '!', '~'));  // all of it
  if constexpr (Cls == kText) return _mm_movemask_epi8(in_range(x, ' ', '~'));    // all but HTAB
}
#endif

// A cursor over the head, which ends with its blank line's CRLF.
struct Cursor {
  const char* p;
  const char* end;

  // Consumes bytes of class Cls; returns how many. Sixteen bytes at a time while they are in the
  // common part of the class (fast_mask), stopping exactly on the first byte outside it, so that
  // the byte loop after it usually looks at one byte: the one that ends the run. (The byte loop
  // alone cost ~8 instructions a byte; eight bytes a word with the byte loop for the word's tail
  // was no better on real, short names.)
  template <uint8_t Cls>
  size_t run() {
    const char* s = p;
#if defined(__SSE2__)
    while (end - p >= 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const unsigned out = ~static_cast<unsigned>(fast_mask<Cls>(x)) & 0xFFFFu;
      if (out != 0) {
        p += __builtin_ctz(out);
        break;
      }
      p += 16;
    }
#endif
    while (p < end && is(*p, Cls)) ++p;
    return static_cast<size_t>(p - s);
  }
  bool eat(char c) {
    if (p >= end || *p != c) return false;
    ++p;
    return true;
  }
  bool crlf() { return end - p >= 2 && p[0] == '\r' && p[1] == '\n' && (p += 2, true); }
  // "HTTP/1.0" or "HTTP/1.1" → 10 or 11; 0 otherwise.
  int version() {
    if (end - p < 8 || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1')) return 0;
    const int v = p[7] == '1' ? 11 : 10;
    p += 8;
    return v;
  }
};

// Left uninitialised in Fields' array: only the first `count` are ever read.
struct Field {
  const char* name;
  const char* value;
  uint32_t name_len, value_len;
};

// The fields up to and including the blank line, with what framing needs of them. False for
// anything left to Beast.
struct Fields {
  Field items[kMaxFields];
  size_t count = 0;
  bool has_length = false;
  uint64_t length = 0;
  bool close = false, keep_alive = false;
};

// The field left to Beast that a name starting with `first` could be, if any.
std::string_view beast_only(char first) {
  switch (first | 0x20) {
    case 't': return "transfer-encoding";
    case 'e': return "expect";
    case 'u': return "upgrade";
    case 'p': return "proxy-connection";
    default: return {};
  }
}

bool read_fields(Cursor& c, const HeadLimits& limits, Fields& f) {
  for (;;) {
    if (c.crlf()) return true;  // the blank line
    if (f.count == kMaxFields) return false;
    const char* name = c.p;
    const size_t name_len = c.run<kToken>();
    if (name_len == 0 || !c.eat(':')) return false;  // also a folded line (starts with SP/HTAB)
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t')) ++c.p;
    const char* value = c.p;
    c.run<kText>();
    const char* value_end = c.p;
    if (!c.crlf()) return false;  // a byte outside the plain set, or a bare CR or LF
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
    const std::string_view n(name, name_len), v(value, static_cast<size_t>(value_end - value));
    f.items[f.count++] = Field{name, value, static_cast<uint32_t>(n.size()), static_cast<uint32_t>(v.size())};
    // Only names that affect framing are looked at; the first letter rules out most.
    switch (name[0] | 0x20) {
      case 'c':
        if (iequals(n, "content-length")) {
          if (f.has_length || v.empty() || v.size() > 19) return false;
          uint64_t x = 0;
          for (char d : v) {
            if (d < '0' || d > '9') return false;
            x = x * 10 + static_cast<uint64_t>(d - '0');
          }
          if (x > limits.body_limit) return false;
          f.has_length = true;
          f.length = x;
        } else if (iequals(n, "connection")) {
          if (iequals(v, "close")) f.close = true;
          else if (iequals(v, "keep-alive")) f.keep_alive = true;
          else return false;
        }
        break;
      default:
        // Fields whose handling is Beast's: their presence sends the whole head there.
        if (const std::string_view only = beast_only(name[0]); !only.empty() && iequals(n, only)) return false;
        break;
    }
  }
}

// The bytes a head may span: what is buffered, up to half the header limit (a head near the
// limit is Beast's to judge). A head not wholly within them fails to parse, and goes to Beast.
Cursor span_of(std::string_view in, const HeadLimits& limits) {
  const size_t n = std::min(in.size(), limits.header_limit / 2);
  return Cursor{in.data(), in.data() + n};
}

// The fields lie in one stretch of the input, in order: copied in one piece, and indexed.
void store(const Fields& f, Headers& out) {
  if (f.count == 0) return out.adopt({}, 0);
  const char* const base = f.items[0].name;
  const Field& last = f.items[f.count - 1];
  out.adopt(std::string_view(base, static_cast<size_t>(last.value + last.value_len - base)), f.count);
  for (size_t i = 0; i < f.count; ++i) {
    const Field& x = f.items[i];
    out.add_adopted(static_cast<size_t>(x.name - base), x.name_len, static_cast<size_t>(x.value - base),
                    x.value_len);
  }
}

bool keep_alive(int version, const Fields& f) { return version == 11 ? !f.close : f.keep_alive; }

}  // namespace

bool read_request_head(std::string_view in, const HeadLimits& limits, HttpRequest& out, Head& h) {
  Cursor c = span_of(in, limits);
  const char* method = c.p;
  const size_t method_len = c.run<kToken>();
  if (method_len == 0 || !c.eat(' ')) return false;
  const char* target = c.p;
  const size_t target_len = c.run<kTarget>();
  if (target_len == 0 || !c.eat(' ')) return false;
  const int version = c.version();
  if (version == 0 || !c.crlf()) return false;
  Fields f;
  if (!read_fields(c, limits, f)) return false;
  out.method.assign(method, method_len);
  out.target.assign(target, target_len);
  store(f, out.headers);
  h.bytes = static_cast<size_t>(c.p - in.data());
  h.version = version;
  h.content_length = f.has_length ? f.length : 0;
  h.keep_alive = keep_alive(version, f);
  return true;
}

bool read_response_head(std::string_view in, const HeadLimits& limits, HttpResponse& out, Head& h) {
  Cursor c = span_of(in, limits);
  const int version = c.version();
  if (version == 0 || !c.eat(' ')) return false;
  if (c.end - c.p < 4 || c.p[0] < '2' || c.p[0] > '5' || c.p[1] < '0' || c.p[1] > '9' || c.p[2] < '0' ||
      c.p[2] > '9' || c.p[3] != ' ')
    return false;
  const int status = (c.p[0] - '0') * 100 + (c.p[1] - '0') * 10 + (c.p[2] - '0');
  if (status == 204 || status == 304) return false;
  c.p += 4;
  c.run<kText>();  // the reason phrase, which nothing reads
  if (!c.crlf()) return false;
  Fields f;
  if (!read_fields(c, limits, f) || !f.has_length) return false;
  out.status = status;
  store(f, out.headers);
  h.bytes = static_cast<size_t>(c.p - in.data());
  h.version = version;
  h.content_length = f.length;
  h.keep_alive = keep_alive(version, f);
  return true;
}

}  // namespace hir::net::wire
