// JSON tensor `data` <-> wire bytes (shared/protocol-v2.md §2.1, §3: little-endian, row-major,
// BOOL one byte 0/1, BYTES elements as a 4-byte little-endian length then the bytes).
#include "protocol/tensor_data.h"

#include <algorithm>
#include <bit>
#include <cmath>
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

void append_elements(std::string& out, const Tensor& t) {
  const std::string_view d = t.data;
  auto as_int = [&out](auto v) { append_int(out, static_cast<int64_t>(v)); };
  auto as_uint = [&out](auto v) { append_uint(out, static_cast<uint64_t>(v)); };
  switch (t.datatype) {
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

}  // namespace

Status read_json_data(const element& data, std::string_view path, Tensor& t) {
  if (t.datatype == DataType::kFp16 || t.datatype == DataType::kBf16)
    // Triton answers 400 here (TR-SRC ReadDataFromJson); KServe does the same.
    return InvalidArgument("receiving " + std::string(datatype_name(t.datatype)) +
                           " data via JSON is not supported; send '" + t.name +
                           "' as binary data (parameters.binary_data_size)");
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

bool json_can_carry(const Tensor& t) {
  switch (t.datatype) {
    case DataType::kFp16:
    case DataType::kBf16:
      return false;
    case DataType::kFp32:
      return all_finite<float>(t.data);
    case DataType::kFp64:
      return all_finite<double>(t.data);
    case DataType::kBytes: {
      bool text = true;
      const bool well_formed = for_each_bytes(t.data, [&text](std::string_view s) {
        text = text && simdjson::validate_utf8(s.data(), s.size());
      });
      return well_formed && text;
    }
    default:
      return true;
  }
}

void append_json_data(std::string& out, const Tensor& t) {
  out += '[';
  append_elements(out, t);
  out += ']';
}

}  // namespace hir::protocol::detail
