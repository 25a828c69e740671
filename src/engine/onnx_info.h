// What an ONNX file declares about its graph's inputs and outputs, read without OpenCV.
//
// OpenCV's dnn::Net does not say what input shape a model expects, and a probe run needs one, so
// the declared shapes are read straight from the protobuf (onnx/onnx.proto: ModelProto.graph →
// GraphProto.input/output → ValueInfoProto.type.tensor_type.shape). Only the fields needed here
// are decoded; everything else is skipped by wire type. Pure: no I/O, no exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hir {

struct OnnxTensorInfo {
  std::string name;
  int elem_type = 0;           // onnx.TensorProto.DataType: 1 = FLOAT
  std::vector<int64_t> dims;   // -1 where the dimension is symbolic ("N") or not given
};

struct OnnxGraphInfo {
  int64_t opset = 0;  // the default ("ai.onnx") domain's opset version
  std::vector<OnnxTensorInfo> inputs;   // graph inputs that are not initializers
  std::vector<OnnxTensorInfo> outputs;
};

inline constexpr int kOnnxFloat = 1;

// InvalidArgument when the bytes are not a well-formed ONNX ModelProto (as far as decoded).
Result<OnnxGraphInfo> read_onnx_info(std::string_view model_bytes);

}  // namespace hir
