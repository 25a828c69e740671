#include "protocol/hollow.h"

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HIR_HOLLOW_AVX2 1
#endif

namespace hir::protocol {
namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kNone = std::string_view::npos;

// '[' and '{' differ from each other only in bit 0x20, as do ']' and '}'.
bool opens(char c) { return (c | 0x20) == '{'; }
bool closes(char c) { return (c | 0x20) == '}'; }

// A byte simdjson's first stage would not pass unexamined: a control character or a non-ASCII
// byte (whose UTF-8 it validates). Inside data arrays the scan refuses them (whitespace aside),
// so that a header it empties is one simdjson would have taken as it was.
bool unusual(char c) { return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x80; }

// s[i] opens a string inside a data array: the index just past its closing quote, or kNone when
// it does not close or holds an unusual byte (escaped or not).
size_t skip_data_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      if (++i == s.size()) return kNone;
      c = s[i];
    } else if (c == '"') {
      return i + 1;
    }
    if (unusual(c)) return kNone;
  }
  return kNone;
}

// The first '"' in s at or after i, or kNone. A header's strings are short (keys, names, "FP32"):
// sixteen bytes are looked at in one step, where a call to memchr cost more than the search.
size_t next_quote(std::string_view s, size_t i) {
  const char* p = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  for (; i + 16 <= n; i += 16) {
    const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), quote));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i)
    if (p[i] == '"') return i;
  return kNone;
}

// s[i] is a string's opening quote: the index just past its closing quote, or kNone.
size_t skip_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    i = next_quote(s, i);
    if (i == kNone) return kNone;
    size_t backslashes = 0;
    while (backslashes < i && s[i - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return i + 1;
  }
  return kNone;
}

// next_json_special; with kCount, it also adds to *commas the commas it passes over, as lane
// counters summed before any of them could pass 255 (baseline x86-64 has no popcnt instruction).
template <bool kCount>
size_t scan_special(std::string_view s, size_t i, int64_t* commas) {
  const char* p = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bit = _mm_set1_epi8(0x20);
  const __m128i open = _mm_set1_epi8('{');
  const __m128i close = _mm_set1_epi8('}');
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i comma = _mm_set1_epi8(',');
  __m128i lanes = _mm_setzero_si128();
  int counted = 0;  // the most any lane has counted since the last drain
  auto drain = [&lanes, &counted, commas] {
    const __m128i sums = _mm_sad_epu8(lanes, _mm_setzero_si128());  // two 64-bit halves
    *commas += _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
    lanes = _mm_setzero_si128();
    counted = 0;
  };
  auto special = [&](__m128i v) {
    const __m128i folded = _mm_or_si128(v, bit);
    // Signed: bytes from 0x80 up compare below SP too, so one test finds both kinds of unusual.
    const __m128i odd = _mm_cmplt_epi8(v, space);
    return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), odd),
                        _mm_or_si128(_mm_cmpeq_epi8(folded, open), _mm_cmpeq_epi8(folded, close)));
  };
  // 32 bytes a step while nothing special is in them (most of a data array); the step that
  // holds one is left to the 16-byte loop below, which finds where.
  for (; i + 32 <= n; i += 32) {
    const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16));
    if (_mm_movemask_epi8(_mm_or_si128(special(v0), special(v1))) != 0) break;
    if constexpr (kCount) {
      lanes = _mm_sub_epi8(_mm_sub_epi8(lanes, _mm_cmpeq_epi8(v0, comma)), _mm_cmpeq_epi8(v1, comma));
      if ((counted += 2) >= 254) drain();
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int mask = _mm_movemask_epi8(special(v));
    if constexpr (kCount) {
      __m128i found = _mm_cmpeq_epi8(v, comma);
      if (mask != 0) {
        // Only the commas before the special byte: k leading lanes of all-ones from a table.
        alignas(16) static constexpr signed char kOnes[32] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                              -1, -1, -1, -1, -1, -1, -1, -1};
        const int k = __builtin_ctz(mask);
        found = _mm_and_si128(found, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kOnes + 16 - k)));
      }
      lanes = _mm_sub_epi8(lanes, found);
      if (++counted >= 254 || mask != 0) drain();
    }
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
  if constexpr (kCount) drain();
#endif
  for (; i < n; ++i) {
    if (p[i] == '"' || opens(p[i]) || closes(p[i]) || unusual(p[i])) return i;
    if constexpr (kCount) *commas += p[i] == ',';
  }
  return n;
}

#if defined(HIR_HOLLOW_AVX2)
// scan_special with AVX2, 64 bytes a step, where the CPU has it (a JSON request's data arrays are
// kilobytes of digits, walked once per request: twice the bytes per step halve that walk). The
// same tests as the SSE2 loop, on twice the lanes; the last bytes (under 32) are left to it.
// Compiled for AVX2 (its lambdas too, which a function attribute would not reach); called only
// where the CPU has it.
#pragma GCC push_options
#pragma GCC target("avx2")
template <bool kCount>
size_t scan_special_avx2(std::string_view s, size_t i, int64_t* commas) {
  const char* p = s.data();
  const size_t n = s.size();
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i bit = _mm256_set1_epi8(0x20);
  const __m256i open = _mm256_set1_epi8('{');
  const __m256i close = _mm256_set1_epi8('}');
  const __m256i space = _mm256_set1_epi8(0x20);
  const __m256i comma = _mm256_set1_epi8(',');
  __m256i lanes = _mm256_setzero_si256();
  int counted = 0;
  auto drain = [&lanes, &counted, commas] {
    const __m256i sums = _mm256_sad_epu8(lanes, _mm256_setzero_si256());  // four 64-bit quarters
    const __m128i two = _mm_add_epi64(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    *commas += _mm_cvtsi128_si64(two) + _mm_cvtsi128_si64(_mm_srli_si128(two, 8));
    lanes = _mm256_setzero_si256();
    counted = 0;
  };
  auto special = [&](__m256i v) {
    const __m256i folded = _mm256_or_si256(v, bit);
    const __m256i odd = _mm256_cmpgt_epi8(space, v);  // signed, as in the SSE2 loop
    return _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, quote), odd),
                           _mm256_or_si256(_mm256_cmpeq_epi8(folded, open), _mm256_cmpeq_epi8(folded, close)));
  };
  for (; i + 64 <= n; i += 64) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32));
    if (!_mm256_testz_si256(_mm256_or_si256(special(v0), special(v1)), _mm256_set1_epi8(-1))) break;
    if constexpr (kCount) {
      lanes = _mm256_sub_epi8(_mm256_sub_epi8(lanes, _mm256_cmpeq_epi8(v0, comma)), _mm256_cmpeq_epi8(v1, comma));
      if ((counted += 2) >= 254) drain();
    }
  }
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(special(v)));
    if constexpr (kCount) {
      __m256i found = _mm256_cmpeq_epi8(v, comma);
      if (mask != 0) {
        // Only the commas before the special byte: k leading lanes of all-ones from a table.
        alignas(32) static constexpr signed char kOnes[64] = {
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
        const int k = __builtin_ctz(mask);
        found = _mm256_and_si256(found, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kOnes + 32 - k)));
      }
      lanes = _mm256_sub_epi8(lanes, found);
      if (++counted >= 254 || mask != 0) drain();
    }
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
  if constexpr (kCount) drain();
  return scan_special<kCount>(s, i, commas);
}
#pragma GCC pop_options

// Asked of the CPU once, when the library loads.
const bool kCpuHasAvx2 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}();
bool g_avx2 = kCpuHasAvx2;  // set_wide_scan's; written only by tests, before they scan
#endif

// scan_special on the widest vectors the CPU has.
template <bool kCount>
size_t scan(std::string_view s, size_t i, int64_t* commas) {
#if defined(HIR_HOLLOW_AVX2)
  if (g_avx2) return scan_special_avx2<kCount>(s, i, commas);
#endif
  return scan_special<kCount>(s, i, commas);
}

// s[i] is '[': the index of its matching ']', or kNone. Objects have no place in tensor data.
// commas, when given, receives the array's commas when it is flat (no bracket or string inside),
// else -1: the scan that finds its end counts them on the way, where a merge of JSON requests
// would otherwise scan the text once more to check its element count (batch.h).
size_t skip_array(std::string_view s, size_t i, int64_t* commas) {
  int depth = 0;
  int64_t count = 0;
  bool flat = commas != nullptr;
  for (;;) {
    i = flat && depth == 1 ? scan<true>(s, i, &count) : next_json_special(s, i);
    if (i == s.size()) return kNone;
    const char c = s[i];
    if (c == '"') {
      flat = false;
      i = skip_data_string(s, i);
      if (i == kNone) return kNone;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (unusual(c)) return kNone;
    if (c == '[') {
      if (++depth > kMaxDepth) return kNone;
      flat = flat && depth == 1;
    } else if (c == ']') {
      if (--depth == 0) {
        if (commas) *commas = flat ? count : -1;
        return i;
      }
    } else {
      return kNone;  // '{' or '}'
    }
    ++i;
  }
}

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

}  // namespace

bool set_wide_scan(bool on) {
#if defined(HIR_HOLLOW_AVX2)
  g_avx2 = on && kCpuHasAvx2;
  return g_avx2;
#else
  (void)on;
  return false;
#endif
}

// A data array is mostly digits, commas and dots: 32 or 64 bytes are looked at in one step where
// SSE2 or AVX2 is there.
size_t next_json_special(std::string_view s, size_t i) { return scan<false>(s, i, nullptr); }

bool nothing_after_root(std::string_view s) {
  size_t i = skip_space(s, 0);
  if (i >= s.size() || !opens(s[i])) return false;
  int depth = 0;
  for (;;) {
    i = next_json_special(s, i);
    if (i >= s.size()) return false;  // the root never closes
    const char c = s[i];
    if (c == '"') {
      i = skip_string(s, i);
      if (i == kNone) return false;
      continue;
    }
    if (opens(c)) {
      ++depth;
    } else if (closes(c) && --depth == 0) {
      return skip_space(s, i + 1) == s.size();
    }
    ++i;  // past a bracket, or an unusual byte (whitespace among them) between values
  }
}

bool hollow_data_arrays(std::string_view s, std::string& out, std::vector<std::string_view>* contents,
                        std::vector<int64_t>* commas) {
  out.clear();
  if (contents) contents->clear();
  if (commas) commas->clear();
  // What each open container is; a string right after '{' or after ',' in an object is a key.
  bool in_object[kMaxDepth];
  int depth = 0;
  bool expect_key = false;
  size_t copied = 0;  // s[copied, i) is still to be appended to out
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (opens(c)) {
      if (depth == kMaxDepth) return false;
      in_object[depth++] = c == '{';
      expect_key = c == '{';
      ++i;
    } else if (closes(c)) {
      if (depth == 0 || in_object[depth - 1] != (c == '}')) return false;
      --depth;
      expect_key = false;
      ++i;
    } else if (c == ',') {
      expect_key = depth > 0 && in_object[depth - 1];
      ++i;
    } else if (c == '"') {
      const size_t start = i;
      i = skip_string(s, i);
      if (i == kNone) return false;
      if (!expect_key) continue;
      expect_key = false;
      const std::string_view key = s.substr(start + 1, i - start - 2);
      i = skip_space(s, i);
      if (i >= s.size() || s[i] != ':') return false;
      i = skip_space(s, i + 1);
      if (key != "data" || i >= s.size() || s[i] != '[') continue;
      int64_t count = -1;
      const size_t end = skip_array(s, i, commas ? &count : nullptr);
      if (end == kNone) return false;
      out.append(s.data() + copied, i + 1 - copied);  // through the '['
      if (contents) contents->push_back(s.substr(i + 1, end - i - 1));
      if (commas) commas->push_back(count);
      copied = end;                                   // from the ']'
      i = end + 1;
    } else {
      ++i;  // numbers, literals, ':' and whitespace
    }
  }
  if (depth != 0) return false;
  out.append(s.data() + copied, s.size() - copied);
  return true;
}

}  // namespace hir::protocol
