#include "worker/emulated_speed.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace hir::worker {
namespace {

class SlowedModel final : public BatchModel {
 public:
  SlowedModel(std::unique_ptr<BatchModel> inner, Duration per_row)
      : inner_(std::move(inner)), per_row_(per_row) {}

  Result<std::vector<float>> run(const float* input, int batch, int features) override {
    // The steady clock, not the executor's: this is real time spent on a real thread.
    const auto until = std::chrono::steady_clock::now() + per_row_ * std::max(batch, 1);
    auto out = inner_->run(input, batch, features);
    std::this_thread::sleep_until(until);
    return out;
  }
  int output_size() const override { return inner_->output_size(); }

 private:
  std::unique_ptr<BatchModel> inner_;
  Duration per_row_;
};

}  // namespace

ModelLoader with_emulated_service(ModelLoader inner, Duration per_row) {
  if (per_row <= Duration::zero()) return inner;
  return [inner = std::move(inner), per_row](const Slot& slot) -> Result<std::unique_ptr<BatchModel>> {
    auto m = inner(slot);
    if (!m.ok()) return m.status();
    return std::unique_ptr<BatchModel>(std::make_unique<SlowedModel>(std::move(*m), per_row));
  };
}

}  // namespace hir::worker
