// A model's config.yaml in a Triton-layout repository, and the check of what hir-worker can serve.
//
//   name: fmnist-small
//   platform: onnxruntime_onnx
//   max_batch_size: 256            # >0: shapes exclude the leading batch dimension
//   inputs:
//     - {name: input, datatype: FP32, shape: [784]}
//   outputs:
//     - {name: probabilities, datatype: FP32, shape: [10]}
//
// Parsing never throws: yaml-cpp's exceptions are caught here and become InvalidArgument.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace hir::worker {

struct ModelConfig {
  std::string name;
  std::string platform;
  int64_t max_batch_size = 0;
  std::vector<TensorSpec> inputs;   // shapes as written: without the batch dimension when batching
  std::vector<TensorSpec> outputs;
};

// Parses config.yaml text. `source` names the file in error messages.
Result<ModelConfig> parse_model_config(std::string_view yaml_text, std::string_view source);
Result<ModelConfig> load_model_config(const std::filesystem::path& file);

// hir-worker serves ONNX models with exactly one FP32 input and one FP32 output whose shapes have
// fixed dimensions (besides the batch one): what the OpenCV dnn engine runs today. Anything else
// is Unimplemented, with a message that says which rule failed.
Status check_supported(const ModelConfig& c);

// How requests map onto the engine's rows (batch × features in, batch × outputs out). With
// max_batch_size > 0 the request's leading dimension is the batch. With max_batch_size 0 the
// config's shape is the whole tensor: its first dimension is the ONNX batch dimension when it has
// two or more, else the tensor is one row. Only for configs that pass check_supported().
struct RowLayout {
  int features = 0;  // floats per input row
  int outputs = 0;   // floats per output row
};
RowLayout row_layout(const ModelConfig& c);
// The number of rows in a (validated) request input of this shape.
int64_t batch_of(const ModelConfig& c, const Shape& input_shape);
// The output tensor's shape for `batch` rows.
Shape output_shape(const ModelConfig& c, int64_t batch);

// The v2 metadata of a model: a batching model (max_batch_size > 0) shows a leading -1, as Triton
// does. `versions` are the version names served (ascending).
ModelSignature signature_of(const ModelConfig& c, std::vector<std::string> versions);

}  // namespace hir::worker
