// The executor's engine seam bound to hir::OnnxModel.
#include "engine/onnx_model.h"
#include "worker/executor.h"

namespace hir::worker {
namespace {

class OnnxBatchModel final : public BatchModel {
 public:
  explicit OnnxBatchModel(std::unique_ptr<OnnxModel> m) : model_(std::move(m)) {}
  Result<std::vector<float>> run(const float* input, int batch, int features) override {
    return model_->run(input, batch, features);
  }
  int output_size() const override { return model_->output_size(); }

 private:
  std::unique_ptr<OnnxModel> model_;
};

}  // namespace

ModelLoader onnx_model_loader() {
  return [](const Slot& slot) -> Result<std::unique_ptr<BatchModel>> {
    auto m = OnnxModel::load(slot.onnx_path.string());
    if (!m.ok()) return m.status();
    const std::string where = "model '" + slot.model + "' (" + slot.onnx_path.string() + "): ";
    if (slot.features > 0 && (*m)->input_size() != slot.features)
      return InvalidArgument(where + "the file takes " + std::to_string((*m)->input_size()) +
                             " floats per row but config.yaml says " +
                             std::to_string(slot.features));
    if (slot.outputs > 0 && (*m)->output_size() != slot.outputs)
      return InvalidArgument(where + "the file returns " + std::to_string((*m)->output_size()) +
                             " floats per row but config.yaml says " +
                             std::to_string(slot.outputs));
    return std::unique_ptr<BatchModel>(std::make_unique<OnnxBatchModel>(std::move(*m)));
  };
}

}  // namespace hir::worker
