// Engine stand-ins for the executor and handler tests: a deterministic model, and a gate that
// holds every run until the test opens it (a "blocked executor").
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "worker/executor.h"

namespace hir::worker::testing {

// Holds runs while closed. Shared by every model instance a loader makes.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --waiting_;
  }
  // Blocks until n runs are held at the gate.
  void wait_for_waiting(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

// out[r][k] = (k + 1) * sum(row r): easy to check, sensitive to every input value.
class FakeModel final : public BatchModel {
 public:
  FakeModel(int outputs, std::shared_ptr<Gate> gate) : outputs_(outputs), gate_(std::move(gate)) {}
  Result<std::vector<float>> run(const float* input, int batch, int features) override {
    if (gate_) gate_->pass();
    std::vector<float> out;
    for (int r = 0; r < batch; ++r) {
      float sum = 0;
      for (int f = 0; f < features; ++f) sum += input[r * features + f];
      for (int k = 0; k < outputs_; ++k) out.push_back(static_cast<float>(k + 1) * sum);
    }
    return out;
  }
  int output_size() const override { return outputs_; }

 private:
  int outputs_;
  std::shared_ptr<Gate> gate_;
};

inline ModelLoader fake_loader(std::shared_ptr<Gate> gate = nullptr) {
  return [gate](const Slot& slot) -> Result<std::unique_ptr<BatchModel>> {
    if (slot.onnx_path.string().find("fail") != std::string::npos)
      return InvalidArgument("cannot load " + slot.onnx_path.string());
    return std::unique_ptr<BatchModel>(std::make_unique<FakeModel>(slot.outputs, gate));
  };
}

}  // namespace hir::worker::testing
