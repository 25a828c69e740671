// Shared helpers for the cache tests: a clock the test moves by hand, and request/response
// builders.
#pragma once

#include <atomic>
#include <cstring>
#include <string>

#include "core/tensor.h"
#include "core/time.h"
#include "testing/tensors.h"

namespace hir::cache::testing {

class ManualClock final : public Clock {
 public:
  TimePoint now() const override { return TimePoint(Duration(ns_.load())); }
  void advance(Duration d) { ns_.fetch_add(d.count()); }
  // Wall-clock milliseconds that move with this clock, for values in Redis.
  int64_t unix_ms() const { return 1'700'000'000'000 + ns_.load() / 1'000'000; }

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

inline std::string fp32_le(std::initializer_list<float> values) { return ::hir::testing::le<float>(values); }

inline Tensor tensor(std::string name, DataType dt, Shape shape, std::string data) {
  return ::hir::testing::make_tensor(std::move(name), dt, std::move(shape), std::move(data));
}

// A small classifier request: one FP32 input [1,4], asking for "probabilities".
inline InferRequest request(std::string model = "fmnist", float first = 0.5f) {
  InferRequest r;
  r.id = "req-1";
  r.model_name = std::move(model);
  r.model_version = "1";
  r.inputs.push_back(tensor("input", DataType::kFp32, {1, 4}, fp32_le({first, 0.25f, -1.0f, 2.0f})));
  RequestedOutput o;
  o.name = "probabilities";
  r.outputs.push_back(o);
  return r;
}

inline InferResponse response(std::string model = "fmnist", float p = 0.75f) {
  InferResponse r;
  r.id = "req-1";
  r.model_name = std::move(model);
  r.model_version = "1";
  r.parameters["hir_target"] = std::string("edge-1");
  r.parameters["note"] = std::string("kept");
  r.outputs.push_back(tensor("probabilities", DataType::kFp32, {1, 2}, fp32_le({p, 1.0f - p})));
  r.binary = {true};
  return r;
}

}  // namespace hir::cache::testing
