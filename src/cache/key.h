// The fallback cache's key: a 128-bit XXH3 hash over what decides a model's answer.
//
// Hashed, each field length-prefixed so no two different requests share a byte stream:
//   model name, model version (as given: "" means the server's choice),
//   the request parameters that can change the answer (all but the ignored set below),
//   the requested outputs sorted by name, each with its parameters (binary_data excluded),
//   the inputs sorted by name, each with name, datatype, shape, parameters (binary_data_size
//   excluded) and the wire bytes of its data.
// The codec turns JSON and binary-extension inputs into the same wire bytes, so the same input
// in either form gives the same key. Excluded on purpose: the request id, routing hints
// (latency_budget_ms, priority, complexity, min_accuracy, max_cost_usd), Triton's `timeout`,
// binary_data_output and every per-output binary_data flag: they change how or where a request
// is served, never what the model returns. The response format is chosen again at each serve.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "core/tensor.h"

namespace hir::cache {

struct CacheKey {
  uint64_t hi = 0;
  uint64_t lo = 0;

  friend bool operator==(const CacheKey&, const CacheKey&) = default;
  std::string hex() const;  // 32 lowercase hex digits, hi first: the Redis key's suffix
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const { return static_cast<size_t>(k.lo ^ (k.hi * 0x9e3779b97f4a7c15ULL)); }
};

// Request-level parameter names left out of the key by default (see above).
const std::set<std::string, std::less<>>& default_ignored_params();

struct KeyOptions {
  std::set<std::string, std::less<>> ignored_params = default_ignored_params();
};

// Pure and thread-safe. Inputs and outputs are taken in name order, so their order in the
// request does not matter; an empty outputs list ("every output") differs from any explicit list.
CacheKey make_key(const InferRequest& req, const KeyOptions& opts = {});

}  // namespace hir::cache
