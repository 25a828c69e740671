#include "engine/onnx_model.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>

#include "engine/onnx_info.h"

namespace hir {

struct OnnxModel::Impl {
  std::string bytes;  // kept so that clone() needs no file system
  cv::dnn::Net net;
};

namespace {

// Product of the dimensions after the batch one; -1 if any is symbolic or the product overflows.
int64_t per_row(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] <= 0 || n > std::numeric_limits<int>::max() / dims[i]) return -1;
    n *= dims[i];
  }
  return n;
}

Status check_tensor(const OnnxTensorInfo& t, const char* what, const std::string& origin) {
  if (t.elem_type != kOnnxFloat) {
    return InvalidArgument(origin + ": " + what + " '" + t.name + "' is not FP32");
  }
  if (t.dims.empty()) {
    return InvalidArgument(origin + ": " + what + " '" + t.name + "' has no batch dimension");
  }
  return Status::Ok();
}

Result<std::vector<float>> forward(cv::dnn::Net& net, const std::string& in_name,
                                   const std::string& out_name, const float* input, int batch,
                                   int features) {
  try {
    // The Mat wraps the caller's buffer (no copy); setInput copies it into the net.
    const int dims[2] = {batch, features};
    cv::Mat blob(2, dims, CV_32F, const_cast<float*>(input));
    net.setInput(blob, in_name);
    cv::Mat out = net.forward(out_name);
    if (out.type() != CV_32F || out.dims < 1 || out.size[0] != batch || !out.isContinuous()) {
      return Internal("unexpected output from OpenCV: type " + std::to_string(out.type()) +
                      ", leading dimension " + std::to_string(out.dims ? out.size[0] : 0));
    }
    // Copied out: the Mat aliases the net's buffers, which the next run overwrites.
    const auto* p = out.ptr<float>();
    return std::vector<float>(p, p + out.total());
  } catch (const cv::Exception& e) {
    return Internal(std::string("OpenCV: ") + e.what());
  } catch (const std::exception& e) {
    return Internal(std::string("inference failed: ") + e.what());
  }
}

}  // namespace

OnnxModel::OnnxModel(std::unique_ptr<Impl> impl, std::string origin)
    : impl_(std::move(impl)), origin_(std::move(origin)) {}

OnnxModel::~OnnxModel() = default;

Result<std::unique_ptr<OnnxModel>> OnnxModel::load(const std::string& onnx_path) {
  std::ifstream in(onnx_path, std::ios::binary);
  if (!in) return NotFound(onnx_path + ": cannot open");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return NotFound(onnx_path + ": read error");
  return load_from_bytes(std::move(buf).str(), onnx_path);
}

Result<std::unique_ptr<OnnxModel>> OnnxModel::load_from_bytes(std::string bytes, std::string origin) {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] {
    cv::setNumThreads(1);
    // OpenCV's dnn makes its layer registry, and the mutex that guards it, on first use behind a
    // double-checked pointer that is not atomic: executor threads loading their models at once
    // race on it (ThreadSanitizer, docs/perf/proxy.md "Twelfth pass"). Made here, once, first.
    cv::dnn::LayerParams params;
    (void)cv::dnn::LayerFactory::createLayerInstance("Identity", params);
  });

  auto info = read_onnx_info(bytes);
  if (!info.ok()) return InvalidArgument(origin + ": " + info.status().message());
  if (info->inputs.size() != 1 || info->outputs.size() != 1) {
    return InvalidArgument(origin + ": want one input and one output, the graph has " +
                           std::to_string(info->inputs.size()) + " and " +
                           std::to_string(info->outputs.size()));
  }
  const OnnxTensorInfo& in = info->inputs[0];
  HIR_RETURN_IF_ERROR(check_tensor(in, "input", origin));
  HIR_RETURN_IF_ERROR(check_tensor(info->outputs[0], "output", origin));
  const int64_t features = per_row(in.dims);
  if (features <= 0) {
    return InvalidArgument(origin + ": input '" + in.name + "' has no fixed per-row size");
  }

  auto impl = std::make_unique<Impl>();
  impl->bytes = std::move(bytes);
  try {
    impl->net = cv::dnn::readNetFromONNX(impl->bytes.data(), impl->bytes.size());
    if (impl->net.empty()) return InvalidArgument(origin + ": OpenCV loaded an empty network");
    impl->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    impl->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  } catch (const cv::Exception& e) {
    return InvalidArgument(origin + ": OpenCV cannot load it: " + e.what());
  } catch (const std::exception& e) {
    return InvalidArgument(origin + ": cannot load: " + e.what());
  }

  std::unique_ptr<OnnxModel> model(new OnnxModel(std::move(impl), std::move(origin)));
  model->input_name_ = in.name;
  model->output_name_ = info->outputs[0].name;
  model->input_size_ = static_cast<int>(features);

  // The probe: some graphs load and then fail on every forward (shared/STACK.md: a reshape built
  // from x.size(0)), so a model only counts as loaded once it has run.
  std::vector<float> zeros(static_cast<size_t>(features), 0.0f);
  auto probe = forward(model->impl_->net, model->input_name_, model->output_name_, zeros.data(), 1,
                       model->input_size_);
  if (!probe.ok()) {
    return InvalidArgument(model->origin_ + ": probe run failed: " + probe.status().message());
  }
  if (probe->empty()) return InvalidArgument(model->origin_ + ": probe run gave no output");
  model->output_size_ = static_cast<int>(probe->size());
  return model;
}

Result<std::unique_ptr<OnnxModel>> OnnxModel::clone() const {
  return load_from_bytes(impl_->bytes, origin_);
}

Result<std::vector<float>> OnnxModel::run(const float* input, int batch, int features) {
  if (input == nullptr) return InvalidArgument(origin_ + ": no input");
  if (batch < 1) return InvalidArgument(origin_ + ": batch must be at least 1");
  if (features != input_size_) {
    return InvalidArgument(origin_ + ": " + std::to_string(features) + " features per row, the model takes " +
                           std::to_string(input_size_));
  }
  auto out = forward(impl_->net, input_name_, output_name_, input, batch, features);
  if (!out.ok()) return out;
  if (out->size() != static_cast<size_t>(batch) * static_cast<size_t>(output_size_)) {
    return Internal(origin_ + ": output has " + std::to_string(out->size()) + " values, want " +
                    std::to_string(batch) + " x " + std::to_string(output_size_));
  }
  return out;
}

}  // namespace hir
