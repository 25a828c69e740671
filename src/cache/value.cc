#include "cache/value.h"

#include <bit>
#include <cstring>

namespace hir::cache {
namespace {

constexpr std::string_view kMagic = "HIRC";
constexpr uint8_t kVersion = 1;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  void raw(std::string_view s) { out_.append(s); }
  void params(const Parameters& p) {
    u64(p.size());
    for (const auto& [k, v] : p) {
      str(k);
      u8(static_cast<uint8_t>(v.index()));
      std::visit([this](const auto& x) { value(x); }, v);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  void value(bool b) { u8(b ? 1 : 0); }
  void value(int64_t i) { u64(static_cast<uint64_t>(i)); }
  void value(double d) { u64(std::bit_cast<uint64_t>(d)); }
  void value(const std::string& s) { str(s); }
  std::string out_;
};

// Reads with bounds checks; the first failure sticks and later reads return zeros, so decode
// checks ok() once per structure instead of after every field.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  uint8_t u8() { return take(1) ? static_cast<uint8_t>(in_[pos_ - 1]) : 0; }
  uint64_t u64() {
    if (!take(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(in_[pos_ - 8 + i])} << (8 * i);
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    if (!ok_ || n > in_.size() - pos_) {
      fail();
      return {};
    }
    pos_ += n;
    return std::string(in_.substr(pos_ - n, n));
  }
  std::string_view raw(size_t n) { return take(n) ? in_.substr(pos_ - n, n) : std::string_view(); }
  void params(Parameters& p) {
    uint64_t n = u64();
    for (uint64_t i = 0; ok_ && i < n; ++i) {
      std::string key = str();
      switch (u8()) {
        case 0: p.emplace(std::move(key), u8() != 0); break;
        case 1: p.emplace(std::move(key), static_cast<int64_t>(u64())); break;
        case 2: p.emplace(std::move(key), std::bit_cast<double>(u64())); break;
        case 3: p.emplace(std::move(key), str()); break;
        default: fail();
      }
    }
  }
  void fail() { ok_ = false; }

 private:
  bool take(size_t n) {
    if (!ok_ || n > in_.size() - pos_) return ok_ = false;
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool known_datatype(uint8_t d) { return d <= static_cast<uint8_t>(DataType::kBytes); }

}  // namespace

std::string encode_value(const StoredValue& v) {
  Writer w;
  w.raw(kMagic);
  w.u8(kVersion);
  w.u64(static_cast<uint64_t>(v.fresh_until_ms));
  w.u64(static_cast<uint64_t>(v.stale_until_ms));
  const InferResponse& r = v.response;
  w.str(r.model_name);
  w.str(r.model_version);
  w.params(r.parameters);
  w.u64(r.outputs.size());
  for (const Tensor& t : r.outputs) {
    w.str(t.name);
    w.u8(static_cast<uint8_t>(t.datatype));
    w.u64(t.shape.size());
    for (int64_t d : t.shape) w.u64(static_cast<uint64_t>(d));
    w.params(t.parameters);
    w.str(t.data);
  }
  return w.take();
}

Result<StoredValue> decode_value(std::string_view bytes) {
  Reader r(bytes);
  if (r.raw(kMagic.size()) != kMagic) return InvalidArgument("cache value: bad magic");
  if (r.u8() != kVersion) return InvalidArgument("cache value: unknown format version");
  StoredValue v;
  v.fresh_until_ms = static_cast<int64_t>(r.u64());
  v.stale_until_ms = static_cast<int64_t>(r.u64());
  InferResponse& resp = v.response;
  resp.model_name = r.str();
  resp.model_version = r.str();
  r.params(resp.parameters);
  uint64_t n = r.u64();
  // Each output takes at least 33 bytes, so a corrupt count cannot make us reserve gigabytes.
  if (!r.ok() || n > bytes.size() / 33) return InvalidArgument("cache value: truncated");
  resp.outputs.resize(n);
  for (Tensor& t : resp.outputs) {
    t.name = r.str();
    uint8_t dt = r.u8();
    if (!known_datatype(dt)) r.fail();
    t.datatype = static_cast<DataType>(dt);
    uint64_t rank = r.u64();
    if (rank > 64) r.fail();
    for (uint64_t i = 0; r.ok() && i < rank; ++i) t.shape.push_back(static_cast<int64_t>(r.u64()));
    r.params(t.parameters);
    t.data = r.str();
    if (!r.ok()) break;
  }
  if (!r.ok()) return InvalidArgument("cache value: truncated or corrupt");
  if (!r.at_end()) return InvalidArgument("cache value: trailing bytes");
  return v;
}

InferResponse storable(const InferResponse& resp) {
  InferResponse out;
  out.model_name = resp.model_name;
  out.model_version = resp.model_version;
  for (const auto& [k, v] : resp.parameters)
    if (!k.starts_with("hir_") || k == kVariantParam) out.parameters.emplace(k, v);
  out.outputs = resp.outputs;
  return out;
}

}  // namespace hir::cache
