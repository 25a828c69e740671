// JSON tensor `data` <-> wire bytes (shared/protocol-v2.md §2.1, §3: little-endian, row-major,
// BOOL one byte 0/1, BYTES elements as a 4-byte little-endian length then the bytes).
#include "protocol/tensor_data.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>
#include <vector>

#include "protocol/json_write.h"
#include "protocol/v2_codec.h"

namespace hir::protocol::detail {
namespace {

using simdjson::dom::element_type;

// Triton accepts nesting below 100 levels (TR-QA http_test.py::test_json_recursion_depth_limit).
constexpr size_t kMaxNesting = 99;
// Reserve no more than this up front: the shape is the client's claim, not yet checked.
constexpr int64_t kMaxReserve = int64_t{1} << 20;

template <class T>
using Unsigned =
    std::conditional_t<sizeof(T) == 1, uint8_t,
                       std::conditional_t<sizeof(T) == 2, uint16_t,
                                          std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;

template <class T>
void store_le(std::string& out, T v) {
  auto u = std::bit_cast<Unsigned<T>>(v);
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>(u >> (8 * i));
  out.append(b, sizeof(T));
}

template <class T>
T load_le(const char* p) {
  Unsigned<T> u = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    u = static_cast<Unsigned<T>>(u | Unsigned<T>{static_cast<uint8_t>(p[i])} << (8 * i));
  return std::bit_cast<T>(u);
}

enum class Why { kOk, kType, kRange, kFraction };

Why read_signed(const element& e, int64_t lo, int64_t hi, int64_t& out) {
  switch (e.type()) {
    case element_type::INT64:
      out = e.get_int64().value_unsafe();
      break;
    case element_type::UINT64:
      return Why::kRange;
    case element_type::DOUBLE: {
      const double d = e.get_double().value_unsafe();
      if (d != std::floor(d)) return Why::kFraction;
      if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return Why::kRange;
      out = static_cast<int64_t>(d);
      break;
    }
    default:
      return Why::kType;
  }
  return out < lo || out > hi ? Why::kRange : Why::kOk;
}

Why read_unsigned(const element& e, uint64_t hi, uint64_t& out) {
  switch (e.type()) {
    case element_type::INT64: {
      const int64_t i = e.get_int64().value_unsafe();
      if (i < 0) return Why::kRange;
      out = static_cast<uint64_t>(i);
      break;
    }
    case element_type::UINT64:
      out = e.get_uint64().value_unsafe();
      break;
    case element_type::DOUBLE: {
      const double d = e.get_double().value_unsafe();
      if (d != std::floor(d)) return Why::kFraction;
      if (d < 0 || d >= 18446744073709551616.0) return Why::kRange;
      out = static_cast<uint64_t>(d);
      break;
    }
    default:
      return Why::kType;
  }
  return out > hi ? Why::kRange : Why::kOk;
}

Why read_double(const element& e, double& out) {
  switch (e.type()) {
    case element_type::INT64:
      out = static_cast<double>(e.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      out = static_cast<double>(e.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      out = e.get_double().value_unsafe();
      break;
    default:
      return Why::kType;
  }
  return Why::kOk;
}

template <class T>
Why append_signed(const element& e, std::string& out) {
  int64_t v = 0;
  Why w = read_signed(e, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), v);
  if (w == Why::kOk) store_le(out, static_cast<T>(v));
  return w;
}

template <class T>
Why append_unsigned(const element& e, std::string& out) {
  uint64_t v = 0;
  Why w = read_unsigned(e, std::numeric_limits<T>::max(), v);
  if (w == Why::kOk) store_le(out, static_cast<T>(v));
  return w;
}

Why append_fp32(const element& e, std::string& out) {
  double d = 0;
  Why w = read_double(e, d);
  if (w != Why::kOk) return w;
  // FLT_MAX plus half an ulp: from there on the value would round to infinity.
  if (std::fabs(d) >= 0x1.ffffffp+127) return Why::kRange;
  store_le(out, static_cast<float>(d));
  return Why::kOk;
}

Why append_fp64(const element& e, std::string& out) {
  double d = 0;
  Why w = read_double(e, d);
  if (w == Why::kOk) store_le(out, d);
  return w;
}

Why append_bool(const element& e, std::string& out) {
  bool b = false;
  if (e.get_bool().get(b)) return Why::kType;
  out += static_cast<char>(b ? 1 : 0);
  return Why::kOk;
}

Why append_bytes(const element& e, std::string& out) {
  std::string_view s;
  if (e.get_string().get(s)) return Why::kType;
  store_le(out, static_cast<uint32_t>(s.size()));  // < 2^32: the JSON body itself is smaller
  out.append(s);
  return Why::kOk;
}

Why append_leaf(const element& e, DataType t, std::string& out) {
  switch (t) {
    case DataType::kBool:
      return append_bool(e, out);
    case DataType::kUint8:
      return append_unsigned<uint8_t>(e, out);
    case DataType::kUint16:
      return append_unsigned<uint16_t>(e, out);
    case DataType::kUint32:
      return append_unsigned<uint32_t>(e, out);
    case DataType::kUint64:
      return append_unsigned<uint64_t>(e, out);
    case DataType::kInt8:
      return append_signed<int8_t>(e, out);
    case DataType::kInt16:
      return append_signed<int16_t>(e, out);
    case DataType::kInt32:
      return append_signed<int32_t>(e, out);
    case DataType::kInt64:
      return append_signed<int64_t>(e, out);
    case DataType::kFp32:
      return append_fp32(e, out);
    case DataType::kFp64:
      return append_fp64(e, out);
    case DataType::kBytes:
      return append_bytes(e, out);
    case DataType::kFp16:
    case DataType::kBf16:
      break;  // rejected before the walk
  }
  return Why::kType;
}

std::string_view expected_kind(DataType t) {
  if (t == DataType::kBool) return "a boolean";
  if (t == DataType::kBytes) return "a string";
  return "a number";
}

// Walks nested `data` depth first, appending leaves and recording each level's extent.
class DataReader {
 public:
  DataReader(Tensor& t, std::string_view path, int64_t expected)
      : t_(t), path_(path), expected_(expected) {}

  Status walk(const element& e, size_t depth) {
    array arr;
    if (e.get_array().get(arr)) return leaf(e, depth);
    if (depth >= kMaxNesting) return fail("is nested deeper than 99 levels");
    if (depth >= leaf_depth_) return fail("mixes arrays and values at one depth");
    if (extents_.size() <= depth) extents_.resize(depth + 1, -1);
    int64_t n = 0;
    for (element child : arr) {
      HIR_RETURN_IF_ERROR(walk(child, depth + 1));
      ++n;
    }
    if (extents_[depth] == -1) extents_[depth] = n;
    if (extents_[depth] != n)
      return fail("is ragged: arrays at depth " + std::to_string(depth) + " have " +
                  std::to_string(extents_[depth]) + " and " + std::to_string(n) + " elements");
    return Status::Ok();
  }

  Status finish() const {
    if (count_ != expected_)
      return fail("has " + std::to_string(count_) + " elements but shape " +
                  shape_to_string(t_.shape) + " needs " + std::to_string(expected_));
    const bool nested = extents_.size() > 1;
    if (nested && extents_.size() == t_.shape.size() && Shape(extents_) != t_.shape)
      return fail("is nested as " + shape_to_string(Shape(extents_)) + " but 'shape' is " +
                  shape_to_string(t_.shape));
    return Status::Ok();
  }

 private:
  Status leaf(const element& e, size_t depth) {
    if (leaf_depth_ == kNone) leaf_depth_ = depth;
    if (depth != leaf_depth_ || extents_.size() > depth)
      return fail("mixes arrays and values at one depth");
    if (count_ >= expected_)
      return fail("has more elements than shape " + shape_to_string(t_.shape) + " holds (" +
                  std::to_string(expected_) + ")");
    const Why why = append_leaf(e, t_.datatype, t_.data);
    if (why == Why::kOk) {
      ++count_;
      return Status::Ok();
    }
    const std::string dt(datatype_name(t_.datatype));
    switch (why) {
      case Why::kType:
        return element_error("must be " + std::string(expected_kind(t_.datatype)) + " for " + dt +
                             ", got " + std::string(json_type_name(e)));
      case Why::kRange:
        return element_error("(" + preview(e) + ") is out of range for " + dt);
      case Why::kFraction:
        return element_error("(" + preview(e) + ") is not an integer for " + dt);
      case Why::kOk:
        break;
    }
    return element_error("is invalid for " + dt);
  }

  Status element_error(const std::string& what) const {
    return InvalidArgument("unable to parse '" + std::string(path_) + "': element " +
                           std::to_string(count_) + " " + what);
  }

  Status fail(const std::string& what) const {
    return InvalidArgument("'" + std::string(path_) + "' " + what);
  }

  static constexpr size_t kNone = static_cast<size_t>(-1);
  Tensor& t_;
  std::string_view path_;
  int64_t expected_;
  int64_t count_ = 0;
  std::vector<int64_t> extents_;  // -1 until the first array at that depth has been walked
  size_t leaf_depth_ = kNone;
};

template <class T>
bool all_finite(std::string_view d) {
  for (size_t i = 0; i + sizeof(T) <= d.size(); i += sizeof(T))
    if (!std::isfinite(load_le<T>(d.data() + i))) return false;
  return true;
}

// Calls f(element) for each complete BYTES element; returns false if the data is malformed.
template <class F>
bool for_each_bytes(std::string_view d, F&& f) {
  size_t off = 0;
  while (d.size() - off >= 4) {
    const uint32_t len = load_le<uint32_t>(d.data() + off);
    off += 4;
    if (d.size() - off < len) return false;
    f(d.substr(off, len));
    off += len;
  }
  return off == d.size();
}

// IEEE 754 binary16 to float, for printing only (JSON never carries FP16 from this codec).
float half_to_float(uint16_t h) {
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  float v = exp == 0    ? std::ldexp(static_cast<float>(mant), -24)
            : exp == 31 ? (mant ? std::numeric_limits<float>::quiet_NaN()
                                : std::numeric_limits<float>::infinity())
                        : std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  return (h & 0x8000) ? -v : v;
}

float bf16_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t{b} << 16); }

template <class T, class F>
void append_each(std::string& out, std::string_view d, F&& write) {
  for (size_t i = 0; i + sizeof(T) <= d.size(); i += sizeof(T)) {
    if (i > 0) out += ',';
    write(load_le<T>(d.data() + i));
  }
}

void append_elements(std::string& out, DataType type, std::string_view d) {
  auto as_int = [&out](auto v) { append_int(out, static_cast<int64_t>(v)); };
  auto as_uint = [&out](auto v) { append_uint(out, static_cast<uint64_t>(v)); };
  switch (type) {
    case DataType::kBool:
      return append_each<uint8_t>(out, d, [&out](uint8_t v) { out += v ? "true" : "false"; });
    case DataType::kUint8:
      return append_each<uint8_t>(out, d, as_uint);
    case DataType::kUint16:
      return append_each<uint16_t>(out, d, as_uint);
    case DataType::kUint32:
      return append_each<uint32_t>(out, d, as_uint);
    case DataType::kUint64:
      return append_each<uint64_t>(out, d, as_uint);
    case DataType::kInt8:
      return append_each<int8_t>(out, d, as_int);
    case DataType::kInt16:
      return append_each<int16_t>(out, d, as_int);
    case DataType::kInt32:
      return append_each<int32_t>(out, d, as_int);
    case DataType::kInt64:
      return append_each<int64_t>(out, d, as_int);
    case DataType::kFp16:
      return append_each<uint16_t>(out, d,
                                   [&out](uint16_t v) { append_float(out, half_to_float(v)); });
    case DataType::kBf16:
      return append_each<uint16_t>(out, d,
                                   [&out](uint16_t v) { append_float(out, bf16_to_float(v)); });
    case DataType::kFp32:
      return append_each<float>(out, d, [&out](float v) { append_float(out, v); });
    case DataType::kFp64:
      return append_each<double>(out, d, [&out](double v) { append_double(out, v); });
    case DataType::kBytes: {
      bool first = true;
      for_each_bytes(d, [&](std::string_view s) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, s);
      });
      return;
    }
  }
}

// ---- The DOM-free reader of numeric `data` (read_json_numbers) ----
//
// A JSON image is mostly numbers, and reading it through the DOM cost a worker ~330 instructions
// per number (simdjson's tape, then the walk above, callgrind): most of a request's work. This
// reader takes the array's text as hollow_data_arrays cut it out and converts each number where
// it stands. It accepts only what it can read exactly as simdjson and the walk would; anything
// else it declines, and the caller reads the DOM as before.

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// The helpers below are forced inline into the loop over a tensor's numbers (leaves): called,
// their reference arguments made every digit a load and a store (callgrind).

// The value of the n (1 to 8) digits in x's low bytes, each byte 0 to 9, the first digit the
// lowest byte; the bytes above them are ignored. Shift the n digits to the top (zeros lead), pair
// neighbours into two-digit numbers (in bytes 0, 2, 4 and 6), then weigh the pairs by 10^6,
// 10^4, 10^2 and 1 in two multiplications.
[[gnu::always_inline]] inline uint64_t digits_value(uint64_t x, unsigned n) {
  uint64_t d = x << (8 * (8 - n));
  d = d * 10 + (d >> 8);
  return (((d & 0x000000FF000000FF) * (100 + (1000000ULL << 32))) +
          (((d >> 16) & 0x000000FF000000FF) * (1 + (10000ULL << 32)))) >>
         32;
}

// How many of the 8 bytes at p are leading decimal digits (8 when all are), and their value:
// eight bytes are looked at in one step, so a run of digits costs about the same at any length.
// XOR with '0' maps digits to 0..9; any byte with a high nibble left, or a low nibble of 10 or
// more (which adding 6 carries into the high nibble), is not a digit. A carry out of a byte can
// only spoil the bytes after it, and only the first non-digit counts.
[[gnu::always_inline]] inline unsigned digit_run8(const char* p, uint64_t& value) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  const uint64_t x = v ^ 0x3030303030303030;
  const uint64_t bad = ((x + 0x0606060606060606) | x) & 0xF0F0F0F0F0F0F0F0;
  const unsigned n = bad != 0 ? static_cast<unsigned>(__builtin_ctzll(bad)) / 8 : 8;
  if (n == 0) {
    value = 0;
    return 0;
  }
  value = digits_value(x, n);
  return n;
}

// 10^n for the n digits (0 to 8) that digit_run8 reads at once.
constexpr uint64_t kScale[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// Digits from p on, into m (m = m × 10^k + digits); returns how many. m is meaningful only
// while the number's digits total 19 or fewer.
[[gnu::always_inline]] inline size_t read_digits(const char*& p, const char* end, uint64_t& m) {
  size_t count = 0;
  while (end - p >= 8) {
    uint64_t run = 0;
    const unsigned n = digit_run8(p, run);
    m = m * kScale[n] + run;
    p += n;
    count += n;
    if (n < 8) return count;
  }
  for (; p != end && digit(*p); ++p, ++count) m = m * 10 + static_cast<uint64_t>(*p - '0');
  return count;
}

// One JSON number (RFC 8259 §6) as its text spells it: value = ±digits × 10^exp10 while `exact`.
struct NumberToken {
  const char* begin = nullptr;
  const char* end = nullptr;
  bool negative = false;
  bool integral = true;  // no fraction and no exponent: simdjson makes it an INT64 or UINT64
  bool exact = true;     // at most 19 digits, so `digits` holds them all
  uint64_t digits = 0;
  int64_t exp10 = 0;
};

// Reads the number at p, which must follow the grammar exactly ("01", "1.", ".5", "+1", "1e"
// and "-" do not); p is left just past it.
[[gnu::always_inline]] inline bool scan_number(const char*& p, const char* end, NumberToken& n) {
  n.begin = p;
  if (p != end && *p == '-') {
    n.negative = true;
    ++p;
  }
  const char* first = p;
  size_t count = read_digits(p, end, n.digits);
  if (count == 0 || (count > 1 && *first == '0')) return false;
  if (p != end && *p == '.') {
    n.integral = false;
    const size_t fraction = read_digits(++p, end, n.digits);
    if (fraction == 0) return false;
    count += fraction;
    n.exp10 = -static_cast<int64_t>(fraction);
  }
  if (p != end && (*p | 0x20) == 'e') {
    n.integral = false;
    bool minus = false;
    if (++p != end && (*p == '+' || *p == '-')) minus = *p++ == '-';
    const char* e_first = p;
    int64_t e = 0;
    for (; p != end && digit(*p); ++p)
      if (e < 100000) e = e * 10 + (*p - '0');
    // simdjson's reading of a number longer than 19 digits stops taking exponent digits at
    // 65536; far below that, every double is 0 or infinite anyway: such a number is declined.
    if (p == e_first || e >= 10000) return false;
    n.exp10 += minus ? -e : e;
  }
  n.exact = count <= 19;
  n.end = p;
  return true;
}

// The spellings nearly every image uses, "d…d" and "d…d.d…d" with at most 7 digits in all and
// no exponent, read from one 8-byte load: where the bytes hold the whole number and what follows
// it, the fraction's digits are shifted down over the dot and the digits converted as one run.
// It fills n exactly as scan_number would and leaves p past the number; anything else (fewer
// than 8 bytes left, an exponent, a leading zero, more digits) returns false with p and n
// untouched, for scan_number to read. Little-endian only: the byte order of the load matters.
[[gnu::always_inline]] inline bool short_number(const char*& p, const char* end, NumberToken& n) {
  if constexpr (std::endian::native != std::endian::little) return false;
  const char* q = p;
  const bool negative = q != end && *q == '-';
  q += negative;
  if (end - q < 8) return false;
  uint64_t v;
  std::memcpy(&v, q, 8);
  const uint64_t x = v ^ 0x3030303030303030;
  // As digit_run8: a non-digit byte's high nibble is set; a carry out of a byte spoils only the
  // bytes after it, and that byte is itself a non-digit, so the first two found here are right
  // (the dot carries nothing).
  const uint64_t nondigit = ((x + 0x0606060606060606) | x) & 0xF0F0F0F0F0F0F0F0;
  if (nondigit == 0) return false;
  const unsigned i = static_cast<unsigned>(__builtin_ctzll(nondigit)) >> 3;  // integer digits
  if (i == 0 || (i > 1 && q[0] == '0')) return false;
  // Masks of the k low bytes from a table: a variable shift costs several instructions here.
  static constexpr uint64_t kLow[8] = {0,          0xFF,           0xFFFF,           0xFFFFFF,
                                       0xFFFFFFFF, 0xFFFFFFFFFF,   0xFFFFFFFFFFFF,   0xFFFFFFFFFFFFFF};
  uint64_t run = x & kLow[i];
  unsigned stop = i;  // the byte just past the number
  unsigned count = i;
  if (q[i] == '.') {
    const uint64_t later = nondigit & ~kLow[i] & ~(uint64_t{0xFF} << (8 * i));  // past the dot
    if (later == 0) return false;
    stop = static_cast<unsigned>(__builtin_ctzll(later)) >> 3;
    if (stop == i + 1) return false;  // "1." is scan_number's to refuse
    run |= (x >> 8) & kLow[stop - 1] & ~kLow[i];
    count = stop - 1;
  }
  if ((q[stop] | 0x20) == 'e') return false;
  n.integral = count == stop;
  n.exp10 = -static_cast<int64_t>(count - i);  // the fraction's digits
  n.digits = digits_value(run, count);
  n.begin = p;
  n.end = q + stop;
  n.negative = negative;
  n.exact = true;
  p = n.end;
  return true;
}

// The powers of ten a double holds exactly (Clinger's fast path).
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The double simdjson would give: correctly rounded. Declines "-0" (simdjson's reading of it as
// an integer or a double decides its sign), integers beyond 2^53 and non-finite results.
[[gnu::always_inline]] inline bool token_double(const NumberToken& n, double& out) {
  constexpr uint64_t kExactInt = uint64_t{1} << 53;
  if (n.integral) {
    if (!n.exact || n.digits > kExactInt || (n.negative && n.digits == 0)) return false;
    const auto v = static_cast<double>(n.digits);
    out = n.negative ? -v : v;
    return true;
  }
  // Clinger's fast path: an integer and a power of ten that a double holds exactly, one
  // correctly rounded IEEE operation between them (in double precision, not x87's extended).
  static_assert(FLT_EVAL_METHOD == 0, "double arithmetic must round to double");
  if (n.exact && n.digits <= kExactInt && n.exp10 >= -22 && n.exp10 <= 22) {
    double v = static_cast<double>(n.digits);
    v = n.exp10 < 0 ? v / kPow10[-n.exp10] : v * kPow10[n.exp10];
    out = n.negative ? -v : v;
    return true;
  }
  // Everything else: the standard library's correctly rounded reading of the same text, as
  // simdjson's is. Past 100 characters the two readers' limits (simdjson keeps 768 digits) are
  // not worth matching: declined.
  if (n.end - n.begin > 100) return false;
  auto [ptr, ec] = std::from_chars(n.begin, n.end, out);
  return ec == std::errc{} && ptr == n.end && std::isfinite(out);
}

template <class T>
[[gnu::always_inline]] inline bool token_value(const NumberToken& n, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    double d = 0;
    if (!token_double(n, d)) return false;
    // As append_fp32: FLT_MAX plus half an ulp rounds to infinity.
    if constexpr (std::is_same_v<T, float>)
      if (std::fabs(d) >= 0x1.ffffffp+127) return false;
    out = static_cast<T>(d);
    return true;
  } else {
    // As read_signed/read_unsigned for an INT64 element; UINT64-sized and fractional spellings
    // ("3.0") are left to them.
    if (!n.integral || !n.exact || n.digits > uint64_t{std::numeric_limits<int64_t>::max()})
      return false;
    const int64_t v = n.negative ? -static_cast<int64_t>(n.digits) : static_cast<int64_t>(n.digits);
    if constexpr (std::is_signed_v<T>) {
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
    } else {
      if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) return false;
    }
    out = static_cast<T>(v);
    return true;
  }
}

// A short spelling (short_number) straight to a float or double, as token_value would give it:
// with at most 7 digits and 6 decimals Clinger's fast path always holds and nothing is out of
// range, so the checks for other numbers are skipped. An integral "-0" is left to token_value,
// which declines it.
template <class T>
[[gnu::always_inline]] inline bool short_float(const char*& p, const char* end, T& out) {
  static_assert(FLT_EVAL_METHOD == 0, "double arithmetic must round to double");
  const char* q = p;
  NumberToken n;
  if (!short_number(q, end, n) || (n.integral && n.negative && n.digits == 0)) return false;
  const double v = static_cast<double>(n.digits) / kPow10[-n.exp10];  // exact for integers
  out = static_cast<T>(n.negative ? -v : v);
  p = q;
  return true;
}

// Zero, the commonest value in an image (its background), spelled as Python writes it ("0.0")
// or as to_chars does ("0"), with the comma after it: one 4-byte compare instead of a number's
// reading. p is left at the comma. Both read as +0.0, as short_float reads them.
[[gnu::always_inline]] inline bool zero_then_comma(const char*& p, const char* end) {
  if constexpr (std::endian::native != std::endian::little) return false;
  if (end - p < 4) return false;
  uint32_t w;
  std::memcpy(&w, p, 4);
  if (w == 0x2C302E30) {  // "0.0,"
    p += 3;
    return true;
  }
  if ((w & 0xFFFF) == 0x2C30) {  // "0,"
    p += 1;
    return true;
  }
  return false;
}

// A value in [0, 1) with 1 to 15 decimals, "0.d…d", as normalized pixels and probabilities are
// written (a float's shortest form takes up to 9 digits after its leading zeros, as in
// "0.0043788864"): its decimals from one 8-byte load, or two, with no integer part to find.
// Anything else (an exponent, 16 decimals or more, too few bytes left) is left to short_float.
// Gives what short_float and token_value give: the decimals as an integer (below 10^15, so a
// double holds it exactly) over an exact power of ten.
template <class T>
[[gnu::always_inline]] inline bool fraction_float(const char*& p, const char* end, T& out) {
  static_assert(FLT_EVAL_METHOD == 0, "double arithmetic must round to double");
  if constexpr (std::endian::native != std::endian::little) return false;
  if (end - p < 10 || p[0] != '0' || p[1] != '.') return false;
  uint64_t decimals = 0;
  unsigned f = digit_run8(p + 2, decimals);
  if (f == 8) {
    // The next 8 bytes: the rest of a longer fraction.
    uint64_t more = 0;
    if (end - p < 18) return false;
    const unsigned g = digit_run8(p + 10, more);
    if (g == 8) return false;  // 16 decimals or more
    decimals = decimals * kScale[g] + more;
    f += g;
  }
  // "0.", or an exponent.
  if (f == 0 || (p[2 + f] | 0x20) == 'e') return false;
  out = static_cast<T>(static_cast<double>(decimals) / kPow10[f]);
  p += 2 + f;
  return true;
}

// A float as shortest-form writers (C++'s to_chars, Python's repr) put a small one:
// [-]d[.d…d]e±dd, a nonzero digit, up to 7 decimals and a 1- or 2-digit exponent
// ("1.6314436e-05"); a worker's probabilities come back like this, and hir reads them when it
// checks a JSON answer. The digits are at most 8, so when the power of ten is within ±22 the
// value is Clinger's one correctly rounded operation, exactly as token_double computes it;
// anything else (more digits, a longer exponent, fewer than 16 bytes left) is left to
// scan_number.
template <class T>
[[gnu::always_inline]] inline bool exponent_float(const char*& p, const char* end, T& out) {
  static_assert(FLT_EVAL_METHOD == 0, "double arithmetic must round to double");
  if constexpr (std::endian::native != std::endian::little) return false;
  if (end - p < 16) return false;
  const bool negative = *p == '-';
  const char* r = p + negative;
  const unsigned lead = static_cast<unsigned char>(*r - '1');
  if (lead > 8) return false;  // not '1' to '9'
  uint64_t digits = lead + 1;
  unsigned f = 0;
  if (*++r == '.') {
    uint64_t decimals = 0;
    f = digit_run8(r + 1, decimals);
    if (f == 0 || f == 8) return false;  // "1.e5", or 8 decimals or more
    digits = digits * kScale[f] + decimals;
    r += 1 + f;
  }
  if ((*r | 0x20) != 'e') return false;
  ++r;
  const bool minus = *r == '-';
  r += minus || *r == '+';
  if (!digit(*r)) return false;
  int e = *r++ - '0';
  if (digit(*r)) e = e * 10 + (*r++ - '0');
  if (digit(*r)) return false;  // 3 exponent digits or more
  const int exp10 = (minus ? -e : e) - static_cast<int>(f);
  if (exp10 < -22 || exp10 > 22) return false;
  double d = static_cast<double>(digits);
  d = exp10 < 0 ? d / kPow10[-exp10] : d * kPow10[exp10];
  out = static_cast<T>(negative ? -d : d);
  p = r;
  return true;
}

const char* skip_json_space(const char* p, const char* end) {
  while (p != end && json_space(*p)) ++p;
  return p;
}

// The walk of DataReader over text: the same nesting rules, every failure a refusal.
template <class T>
class NumberText {
 public:
  NumberText(std::string_view text, Tensor& t, int64_t expected)
      : p_(text.data()), end_(text.data() + text.size()), t_(t), expected_(expected) {}

  bool read() {
    // n elements need at least 2n-1 bytes; a larger claim is refused before any allocation.
    if (expected_ > static_cast<int64_t>((end_ - p_) / 2 + 1)) return false;
    // The claim is the client's: room for at most 1 MiB at first, more as elements arrive.
    grow(kFirstRoom);
    if (!elements(0)) return false;
    if (count_ != expected_) return false;
    const bool nested = depths_ > 1;
    if (nested && depths_ == t_.shape.size() &&
        !std::equal(extents_, extents_ + depths_, t_.shape.begin()))
      return false;
    return true;
  }

 private:
  static constexpr size_t kMaxDepth = 64;  // hollow_data_arrays follows no deeper
  static constexpr size_t kNone = static_cast<size_t>(-1);
  static constexpr int64_t kFirstRoom = kMaxReserve / static_cast<int64_t>(sizeof(T));

  // Makes room for `room` elements (never more than expected_), keeping those read.
  void grow(int64_t room) {
    room_ = std::min(expected_, room);
    t_.data.resize(static_cast<size_t>(room_) * sizeof(T));
    out_ = t_.data.data();
  }

  // The array at `depth` has been opened; reads its elements and its end (the text's end for
  // the outermost, whose brackets are not in the text).
  bool elements(size_t depth) {
    if (depth >= kMaxDepth || depth >= leaf_depth_) return false;
    if (depths_ <= depth) extents_[depths_++] = -1;
    int64_t n = 0;
    p_ = skip_json_space(p_, end_);
    if (p_ != end_ && *p_ == '[') {
      for (;;) {
        if (p_ == end_ || *p_ != '[') return false;
        ++p_;
        if (!elements(depth + 1)) return false;
        ++n;
        p_ = skip_json_space(p_, end_);
        if (p_ == end_ || *p_ != ',') break;
        p_ = skip_json_space(p_ + 1, end_);
      }
    } else if (!closes(depth)) {
      if (!leaves(depth + 1, n)) return false;
    }
    if (!close(depth)) return false;
    if (extents_[depth] == -1) extents_[depth] = n;
    return extents_[depth] == n;
  }

  // The numbers of an array whose elements are at `depth`, up to (not through) its end. A
  // bracket among them mixes arrays and values at one depth, which the walk refuses too. The
  // loop works on locals: stores through char* could otherwise alias the members.
  bool leaves(size_t depth, int64_t& n) {
    if (leaf_depth_ == kNone) leaf_depth_ = depth;
    if (depth != leaf_depth_ || depths_ > depth) return false;
    const char* p = p_;
    const char* const end = end_;
    const int64_t count = count_;
    int64_t k = 0;
    for (;;) {
      NumberToken token;
      T v{};
      if (count + k == expected_) return false;
      if constexpr (std::is_floating_point_v<T>) {
        // The exponent form before the short one: a worker's small probabilities
        // ("1.6314436e-05") are most of an answer's numbers, and short_number reads one of them
        // through its digits before it declines; exponent_float declines a short number at its
        // first byte ('0') or where the exponent should start.
        if (!zero_then_comma(p, end) && !fraction_float(p, end, v) && !exponent_float(p, end, v) &&
            !short_float(p, end, v) && (!scan_number(p, end, token) || !token_value(token, v)))
          return false;
      } else {
        if (!short_number(p, end, token) && !scan_number(p, end, token)) return false;
        if (!token_value(token, v)) return false;
      }
      if (count + k == room_) grow(2 * room_);
      char* dst = out_ + static_cast<size_t>(count + k) * sizeof(T);
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(dst, &v, sizeof(T));
      } else {
        auto u = std::bit_cast<Unsigned<T>>(v);
        for (size_t i = 0; i < sizeof(T); ++i) dst[i] = static_cast<char>(u >> (8 * i));
      }
      ++k;
      if (p != end && *p == ',') {
        ++p;
      } else {
        p = skip_json_space(p, end);
        if (p == end || *p != ',') break;
        ++p;
      }
      if (p != end && json_space(*p)) p = skip_json_space(p, end);
    }
    p_ = p;
    count_ = count + k;
    n = k;
    return true;
  }

  // At the array's end: the text's end (outermost) or a ']'.
  bool closes(size_t depth) const { return depth == 0 ? p_ == end_ : p_ != end_ && *p_ == ']'; }
  // Consumes the array's end.
  bool close(size_t depth) {
    if (!closes(depth)) return false;
    if (depth != 0) ++p_;
    return true;
  }

  const char* p_;
  const char* end_;
  Tensor& t_;
  char* out_ = nullptr;
  int64_t room_ = 0;  // elements t_.data has room for
  int64_t expected_;
  int64_t count_ = 0;
  int64_t extents_[kMaxDepth] = {};
  size_t depths_ = 0;
  size_t leaf_depth_ = kNone;
};

template <class T>
bool read_numbers_as(std::string_view text, Tensor& t, int64_t expected) {
  return NumberText<T>(text, t, expected).read();
}

}  // namespace

bool read_json_numbers(std::string_view text, Tensor& t) {
  Result<int64_t> expected = element_count(t.shape);
  if (!expected.ok()) return false;
  switch (t.datatype) {
    case DataType::kUint8:
      return read_numbers_as<uint8_t>(text, t, *expected);
    case DataType::kUint16:
      return read_numbers_as<uint16_t>(text, t, *expected);
    case DataType::kUint32:
      return read_numbers_as<uint32_t>(text, t, *expected);
    case DataType::kUint64:
      return read_numbers_as<uint64_t>(text, t, *expected);
    case DataType::kInt8:
      return read_numbers_as<int8_t>(text, t, *expected);
    case DataType::kInt16:
      return read_numbers_as<int16_t>(text, t, *expected);
    case DataType::kInt32:
      return read_numbers_as<int32_t>(text, t, *expected);
    case DataType::kInt64:
      return read_numbers_as<int64_t>(text, t, *expected);
    case DataType::kFp32:
      return read_numbers_as<float>(text, t, *expected);
    case DataType::kFp64:
      return read_numbers_as<double>(text, t, *expected);
    case DataType::kBool:
    case DataType::kBytes:
    case DataType::kFp16:
    case DataType::kBf16:
      break;
  }
  return false;
}

Status read_json_data(const element& data, std::string_view path, Tensor& t) {
  if (t.datatype == DataType::kFp16 || t.datatype == DataType::kBf16)
    // Triton answers 400 here (TR-SRC ReadDataFromJson); KServe does the same.
    return InvalidArgument("receiving " + std::string(datatype_name(t.datatype)) +
                           " data via JSON is not supported; send " + quote(t.name) +
                           " as binary data (parameters.binary_data_size)");
  Result<int64_t> expected = element_count(t.shape);
  if (!expected.ok()) return expected.status();
  t.data.clear();
  const auto width = static_cast<int64_t>(datatype_size(t.datatype));
  if (width > 0)
    t.data.reserve(static_cast<size_t>(std::min(*expected, kMaxReserve / width) * width));
  DataReader reader(t, path, *expected);
  HIR_RETURN_IF_ERROR(reader.walk(data, 0));
  return reader.finish();
}

bool finite_values(DataType type, std::string_view data) {
  if (type == DataType::kFp32) return all_finite<float>(data);
  if (type == DataType::kFp64) return all_finite<double>(data);
  return true;
}

bool json_can_carry(DataType type, std::string_view data) {
  switch (type) {
    case DataType::kFp16:
    case DataType::kBf16:
      return false;
    case DataType::kFp32:
      return all_finite<float>(data);
    case DataType::kFp64:
      return all_finite<double>(data);
    case DataType::kBytes: {
      bool text = true;
      const bool well_formed = for_each_bytes(data, [&text](std::string_view s) {
        text = text && simdjson::validate_utf8(s.data(), s.size());
      });
      return well_formed && text;
    }
    default:
      return true;
  }
}

void append_json_data(std::string& out, DataType type, std::string_view data) {
  out += '[';
  append_elements(out, type, data);
  out += ']';
}

}  // namespace hir::protocol::detail
