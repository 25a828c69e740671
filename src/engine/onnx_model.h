// An ONNX model run in process through OpenCV's dnn module (the edge and cloud workers' runtime).
//
// Contract:
//  * The model has exactly one FP32 input [N, F...] and one FP32 output [N, K...] with a dynamic
//    (or 1) leading batch dimension; F and K are the products of the remaining dimensions. F is
//    read from the file's declared input shape, K from a probe run at load.
//  * Thread-safety: NONE. A cv::dnn::Net keeps per-run state (layer buffers, the bound input), so
//    one OnnxModel must be used by one thread at a time. A worker with several threads loads the
//    model once per thread, or calls clone() (which re-parses the bytes kept in memory).
//  * OpenCV's own thread pool is set to one thread, process-wide, on the first load: parallelism
//    comes from one model per worker thread, and a nested pool would fight the io threads for the
//    cores (shared/STACK.md: ~2 µs per small MLP single-threaded).
//  * Nothing throws: OpenCV's exceptions become Status values.
//  * Changing the batch size between runs makes OpenCV re-plan its buffers (a little slower once).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace hir {

class OnnxModel {
 public:
  // NotFound when the file cannot be read; InvalidArgument when it is not a model OpenCV can load
  // and run, or its input/output are not as the contract above says.
  static Result<std::unique_ptr<OnnxModel>> load(const std::string& onnx_path);
  // The same from bytes already in memory; `origin` names the model in error messages.
  static Result<std::unique_ptr<OnnxModel>> load_from_bytes(std::string bytes, std::string origin);

  ~OnnxModel();
  OnnxModel(const OnnxModel&) = delete;
  OnnxModel& operator=(const OnnxModel&) = delete;

  // A second, independent instance of the same model for another thread.
  Result<std::unique_ptr<OnnxModel>> clone() const;

  // Runs `batch` rows of `features` floats each (row-major, batch * features values at `input`,
  // which must stay valid for the call only) and returns batch * output_size() floats.
  // InvalidArgument for batch < 1 or features != input_size(); Internal if OpenCV fails.
  Result<std::vector<float>> run(const float* input, int batch, int features);

  int input_size() const { return input_size_; }    // F: floats per input row (784 for fmnist)
  int output_size() const { return output_size_; }  // K: floats per output row (10 for fmnist)
  const std::string& input_name() const { return input_name_; }
  const std::string& output_name() const { return output_name_; }
  const std::string& origin() const { return origin_; }  // the path, for logs

 private:
  struct Impl;  // holds the cv::dnn::Net: OpenCV stays out of this header
  OnnxModel(std::unique_ptr<Impl> impl, std::string origin);

  std::unique_ptr<Impl> impl_;
  std::string origin_;
  std::string input_name_;
  std::string output_name_;
  int input_size_ = 0;
  int output_size_ = 0;
};

}  // namespace hir
