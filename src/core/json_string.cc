#include "core/json_string.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hir {

size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned c = p[0];
  const auto avail = static_cast<size_t>(end - p);
  auto cont = [](unsigned b, unsigned lo = 0x80, unsigned hi = 0xBF) { return b >= lo && b <= hi; };
  if (c < 0xC2) return 0;  // a continuation byte, or C0/C1 (always overlong)
  if (c < 0xE0) return avail >= 2 && cont(p[1]) ? 2 : 0;
  if (c < 0xF0) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return avail >= 3 && cont(p[1], lo, hi) && cont(p[2]) ? 3 : 0;
  }
  if (c < 0xF5) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return avail >= 4 && cont(p[1], lo, hi) && cont(p[2]) && cont(p[3]) ? 4 : 0;
  }
  return 0;
}

namespace {

// True when none of the 8 bytes in w needs a closer look: no control character, quote, backslash
// or non-ASCII byte. Byte order does not matter. The "haszero" and "hasless" word tricks of Sean
// Anderson's Bit Twiddling Hacks, which are exact as yes/no answers.
bool plain_word(uint64_t w) {
  constexpr uint64_t k01 = 0x0101010101010101u;
  constexpr uint64_t k80 = 0x8080808080808080u;
  auto has_zero = [](uint64_t x) { return (x - k01) & ~x; };  // & k80 below
  const uint64_t control = (w - k01 * 0x20) & ~w;             // a byte < 0x20
  const uint64_t quote = has_zero(w ^ (k01 * '"'));
  const uint64_t backslash = has_zero(w ^ (k01 * '\\'));
  return ((w | control | quote | backslash) & k80) == 0;
}

uint64_t load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
uint32_t load4(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

#if defined(__SSE2__)
// plain_word's test on 16 bytes at once: a byte below SP, or from 0x80 up (negative as a signed
// byte, so also below SP), a quote or a backslash is not plain.
bool plain16(__m128i v) {
  const __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return _mm_movemask_epi8(bad) == 0;
}
__m128i load16(const char* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
#endif

// True when no byte of s needs a closer look (plain_word's test on every byte). Fixed-size loads
// only, which compile to moves: a string shorter than 8 bytes is covered by two overlapping
// 4-byte loads, or by its first, middle and last bytes (a call to memcpy for a few bytes cost
// more than the test; keys and short names are most of what is written). With SSE2 (every x86-64)
// the test takes 16 bytes at a time, a string of 8 to 16 bytes in one go from two overlapping
// 8-byte loads: the word test cost about 4 instructions a byte, most of a log line's writing.
bool all_plain(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  if (n < 8) {
    if (n >= 4) return plain_word(load4(p) | uint64_t{load4(p + n - 4)} << 32);
    uint64_t w = 0x6161616161616161u;  // "aaaaaaaa": a plain byte where the string has none
    if (n != 0) w = (w << 24) | uint64_t{static_cast<unsigned char>(p[0])} |
                    uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
                    uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
    return plain_word(w);
  }
#if defined(__SSE2__)
  if (n <= 16) {
    return plain16(_mm_set_epi64x(static_cast<int64_t>(load8(p + n - 8)), static_cast<int64_t>(load8(p))));
  }
  for (size_t i = 0; i + 16 <= n; i += 16)
    if (!plain16(load16(p + i))) return false;
  return plain16(load16(p + n - 16));
#else
  for (size_t i = 0; i + 8 <= n; i += 8)
    if (!plain_word(load8(p + i))) return false;
  return plain_word(load8(p + n - 8));
#endif
}

// Copies n bytes, n <= 16, with fixed-size moves (overlapping ones where n is not a power of two).
void copy_short(char* d, const char* p, size_t n) {
  if (n >= 8) {
    const uint64_t a = load8(p), b = load8(p + n - 8);
    std::memcpy(d, &a, 8);
    std::memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    const uint32_t a = load4(p), b = load4(p + n - 4);
    std::memcpy(d, &a, 4);
    std::memcpy(d + n - 4, &b, 4);
  } else if (n != 0) {
    d[0] = p[0];
    d[n / 2] = p[n / 2];
    d[n - 1] = p[n - 1];
  }
}

constexpr size_t kShort = 64;  // longer strings take the general path, which copies runs

// The escape for a byte that cannot stand as itself: two bytes or six (\u00XX).
template <class Sink>
void put_escape(Sink& sink, unsigned char c) {
  switch (c) {
    case '"': return sink.put("\\\"", 2);
    case '\\': return sink.put("\\\\", 2);
    case '\b': return sink.put("\\b", 2);
    case '\f': return sink.put("\\f", 2);
    case '\n': return sink.put("\\n", 2);
    case '\r': return sink.put("\\r", 2);
    case '\t': return sink.put("\\t", 2);
    default: break;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
  sink.put(u, sizeof u);
}

// Where the escaping loop writes: a string it appends to, or memory sized beforehand.
struct StringSink {
  std::string& out;
  void put(const char* p, size_t n) { out.append(p, n); }
};
struct RawSink {
  char* d;
  void put(const char* p, size_t n) {
    std::memcpy(d, p, n);
    d += n;
  }
};

// Plain bytes and well-formed sequences are not copied one by one: they accumulate in
// [copied, p) and go out in one piece when something must be written differently (or at the end).
// Eight plain ASCII bytes are recognised with one word test; a word that fails it is walked byte by
// byte to its end before the next test, which keeps text dense in escapes or UTF-8 cheap too.
// Writes s's escaped contents, without the quotes.
template <class Sink>
void put_escaped(Sink& sink, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  const auto* copied = p;
  auto flush = [&] {
    if (p != copied) sink.put(reinterpret_cast<const char*>(copied), static_cast<size_t>(p - copied));
  };
  while (p < end) {
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, sizeof w);
      if (plain_word(w)) {
        p += 8;
        continue;
      }
    } else {
      // The last 1-7 bytes, padded with a plain byte: short strings (keys, names, ids) are
      // mostly tail, and one word test beats walking them byte by byte.
      uint64_t w = 0x6161616161616161u;  // "aaaaaaaa"
      std::memcpy(&w, p, static_cast<size_t>(end - p));
      if (plain_word(w)) {
        p = end;
        break;
      }
    }
    const auto* const stop = end - p >= 8 ? p + 8 : end;
    while (p < stop) {  // a multi-byte sequence may end past `stop`; that is fine
      const unsigned c = *p;
      if (c < 0x80) {
        if (c >= 0x20 && c != '"' && c != '\\') {
          ++p;
          continue;
        }
        flush();
        put_escape(sink, static_cast<unsigned char>(c));
      } else {
        if (const size_t n = utf8_sequence_length(p, end); n != 0) {
          p += n;
          continue;
        }
        flush();
        sink.put("\\ufffd", 6);  // one replacement character per ill-formed byte
      }
      copied = ++p;
    }
  }
  flush();
}

// A plain string's literal at d: the quotes around a copy.
char* write_plain(char* d, std::string_view s) {
  d[0] = '"';
  if (s.size() <= 16) copy_short(d + 1, s.data(), s.size());  // an empty view may hold no pointer
  else std::memcpy(d + 1, s.data(), s.size());
  d[s.size() + 1] = '"';
  return d + s.size() + 2;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Most strings written are short and plain — keys, names, ids, a log line's fields — and go
  // out with one size change and one copy once a few word tests have passed them.
  if (s.size() <= kShort && all_plain(s)) {
    const size_t at = out.size();
    out.resize(at + s.size() + 2);
    write_plain(out.data() + at, s);
    return;
  }
  out += '"';
  StringSink sink{out};
  put_escaped(sink, s);
  out += '"';
}

char* write_json_string(char* d, std::string_view s) {
  if (all_plain(s)) return write_plain(d, s);
  *d++ = '"';
  RawSink sink{d};
  put_escaped(sink, s);
  *sink.d = '"';
  return sink.d + 1;
}

}  // namespace hir
