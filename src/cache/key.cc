#include "cache/key.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <memory>
#include <vector>

namespace hir::cache {
namespace {

// Field tags keep a string from one field from being read as another's (for instance an input
// name that happens to equal an output name) even before the length prefixes.
enum Tag : uint8_t {
  kModel = 1, kVersion, kRequestParams, kOutputs, kOutput, kInputs, kInput, kParam,
};

struct StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

class Hasher {
 public:
  Hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_.get()); }

  void tag(Tag t) { raw(&t, 1); }
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));  // little-endian
    raw(b, 8);
  }
  void str(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  CacheKey digest() const {
    XXH128_hash_t h = XXH3_128bits_digest(state_.get());
    return {h.high64, h.low64};
  }

 private:
  void raw(const void* p, size_t n) { XXH3_128bits_update(state_.get(), p, n); }
  std::unique_ptr<XXH3_state_t, StateDeleter> state_;
};

// A number is hashed the same whether JSON spelled it 2 or 2.0: the codec reads the first as an
// integer and the second as a double, but they mean the same to a model.
void param_value(Hasher& h, const ParamValue& v) {
  if (const bool* b = std::get_if<bool>(&v)) {
    h.u64(0);
    h.u64(*b ? 1 : 0);
  } else if (const int64_t* i = std::get_if<int64_t>(&v)) {
    h.u64(1);
    h.u64(static_cast<uint64_t>(*i));
  } else if (const double* d = std::get_if<double>(&v)) {
    double x = *d;
    if (x >= -9.2e18 && x <= 9.2e18 && static_cast<double>(static_cast<int64_t>(x)) == x) {
      h.u64(1);
      h.u64(static_cast<uint64_t>(static_cast<int64_t>(x)));
    } else {
      h.u64(2);
      h.u64(std::bit_cast<uint64_t>(x));
    }
  } else {
    h.u64(3);
    h.str(std::get<std::string>(v));
  }
}

// Parameters is an ordered map, so iteration is already canonical. The count is hashed first so
// the end of the list is unambiguous.
void params(Hasher& h, const Parameters& p, const std::set<std::string, std::less<>>& skip) {
  uint64_t n = 0;
  for (const auto& kv : p) n += skip.count(kv.first) ? 0 : 1;
  h.tag(kParam);
  h.u64(n);
  for (const auto& [k, v] : p) {
    if (skip.count(k)) continue;
    h.str(k);
    param_value(h, v);
  }
}

template <class T>
std::vector<const T*> by_name(const std::vector<T>& items) {
  std::vector<const T*> out;
  out.reserve(items.size());
  for (const auto& t : items) out.push_back(&t);
  std::stable_sort(out.begin(), out.end(), [](const T* a, const T* b) { return a->name < b->name; });
  return out;
}

const std::set<std::string, std::less<>> kOutputSkip = {"binary_data"};
const std::set<std::string, std::less<>> kInputSkip = {"binary_data_size"};

}  // namespace

std::string CacheKey::hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return std::string(buf, 32);
}

const std::set<std::string, std::less<>>& default_ignored_params() {
  static const std::set<std::string, std::less<>> kIgnored = {
      "latency_budget_ms", "priority", "complexity", "min_accuracy", "max_cost_usd",
      "timeout", "binary_data_output"};
  return kIgnored;
}

CacheKey make_key(const InferRequest& req, const KeyOptions& opts) {
  Hasher h;
  h.tag(kModel);
  h.str(req.model_name);
  h.tag(kVersion);
  h.str(req.model_version);
  h.tag(kRequestParams);
  params(h, req.parameters, opts.ignored_params);
  h.tag(kOutputs);
  h.u64(req.outputs.size());
  for (const RequestedOutput* o : by_name(req.outputs)) {
    h.tag(kOutput);
    h.str(o->name);
    params(h, o->parameters, kOutputSkip);
  }
  h.tag(kInputs);
  h.u64(req.inputs.size());
  for (const Tensor* t : by_name(req.inputs)) {
    h.tag(kInput);
    h.str(t->name);
    h.u64(static_cast<uint64_t>(t->datatype));
    h.u64(t->shape.size());
    for (int64_t d : t->shape) h.u64(static_cast<uint64_t>(d));
    params(h, t->parameters, kInputSkip);
    h.str(t->data);
  }
  return h.digest();
}

}  // namespace hir::cache
