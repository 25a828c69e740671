#include "backends/mcu_codec.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "hirfw/kernels.h"

namespace hir::backends {

static_assert(std::endian::native == std::endian::little,
              "tensor wire bytes are little-endian and copied as they are");

namespace {

Status bad_input(const std::string& why, size_t input_size) {
  return InvalidArgument("MCU target: " + why + "; the device takes one image: shape [1," +
                         std::to_string(input_size) + "] or [" + std::to_string(input_size) +
                         "], datatype FP32 (pixel/255) or UINT8 (pixels)");
}

}  // namespace

Status pixels_from_request(const InferRequest& req, size_t input_size, uint8_t* out) {
  if (req.inputs.size() != 1)
    return bad_input("expected 1 input, got " + std::to_string(req.inputs.size()), input_size);
  const Tensor& t = req.inputs[0];
  const auto n = static_cast<int64_t>(input_size);
  const bool flat = t.shape.size() == 1 && t.shape[0] == n;
  const bool batch1 = t.shape.size() == 2 && t.shape[0] == 1 && t.shape[1] == n;
  if (!flat && !batch1) {
    std::string why = "input '" + t.name + "' has shape " + shape_to_string(t.shape);
    if (t.shape.size() == 2 && t.shape[1] == n && t.shape[0] > 1) why += " (a batch: send one image per request)";
    return bad_input(why, input_size);
  }
  if (t.datatype == DataType::kUint8) {
    if (t.data.size() != input_size)
      return bad_input("input '" + t.name + "' holds " + std::to_string(t.data.size()) + " bytes", input_size);
    std::memcpy(out, t.data.data(), input_size);
    return Status::Ok();
  }
  if (t.datatype != DataType::kFp32)
    return bad_input("input '" + t.name + "' has datatype " + std::string(datatype_name(t.datatype)), input_size);
  if (t.data.size() != input_size * sizeof(float))
    return bad_input("input '" + t.name + "' holds " + std::to_string(t.data.size()) + " bytes", input_size);
  for (size_t i = 0; i < input_size; ++i) {
    float x;
    std::memcpy(&x, t.data.data() + i * sizeof x, sizeof x);
    if (!std::isfinite(x))
      return bad_input("input '" + t.name + "' element " + std::to_string(i) + " is not finite", input_size);
    // Values are pixel/255 (docs/frame-protocol.md, INFER payload); out-of-range ones saturate.
    const float px = std::round(x * 255.0f);
    out[i] = static_cast<uint8_t>(px < 0.0f ? 0.0f : (px > 255.0f ? 255.0f : px));
  }
  return Status::Ok();
}

Status check_result(const hirfw_result_msg& r, size_t output_size) {
  if (r.n_logits == 0 || r.n_logits != output_size || r.n_logits > HIRFW_MAX_OUTPUTS)
    return Internal("RESULT has " + std::to_string(r.n_logits) + " logits, the device's model " +
                    std::to_string(output_size));
  int best = 0;
  for (int i = 1; i < r.n_logits; ++i)
    if (r.logits[i] > r.logits[best]) best = i;
  if (r.top_class != best)
    return Internal("RESULT class " + std::to_string(r.top_class) + " is not the argmax of its logits");
  if (!std::isfinite(r.out_scale) || r.out_scale <= 0.0f)
    return Internal("RESULT output scale is not a positive number");
  // A scale so large that dequantized logits overflow gives NaN probabilities: refused like any
  // other reply that makes no sense, rather than answered as a 200.
  float probs[HIRFW_MAX_OUTPUTS];
  hirfw_softmax_dequant(r.logits, r.n_logits, r.out_scale, r.out_zp, probs);
  for (int i = 0; i < r.n_logits; ++i)
    if (!std::isfinite(probs[i])) return Internal("RESULT logits do not dequantize to finite probabilities");
  return Status::Ok();
}

void result_probabilities(const hirfw_result_msg& r, float* probs) {
  hirfw_softmax_dequant(r.logits, r.n_logits, r.out_scale, r.out_zp, probs);
}

InferResponse make_response(const std::string& request_id, const std::string& model_name,
                            const hirfw_result_msg& r, const std::string& output_name) {
  float probs[HIRFW_MAX_OUTPUTS];
  result_probabilities(r, probs);
  InferResponse resp;
  resp.id = request_id;
  resp.model_name = model_name;
  Tensor& t = resp.outputs.emplace_back();
  t.name = output_name;
  t.datatype = DataType::kFp32;
  t.shape = {1, r.n_logits};
  t.data.assign(reinterpret_cast<const char*>(probs), sizeof(float) * r.n_logits);
  resp.binary.push_back(false);
  return resp;
}

routing::LoadReport load_report_from_status(const hirfw_status_msg& s, double busy_fraction) {
  routing::LoadReport r;
  r.in_flight = (s.flags & HIRFW_STATUS_BUSY) ? 1 : 0;
  r.queue_depth = 0;     // the device queues nothing: a second INFER is answered busy
  r.queue_capacity = 0;  // 0: "no queue to fill"; the pool's own queue is reported separately
  r.concurrency = 1;
  r.busy_fraction = busy_fraction < 0 ? 0 : (busy_fraction > 1 ? 1 : busy_fraction);
  return r;
}

routing::Outcome outcome_of(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return routing::Outcome::kOk;
    case Code::kDeadlineExceeded: return routing::Outcome::kTimeout;
    case Code::kResourceExhausted: return routing::Outcome::kOverloaded;
    case Code::kUnavailable: return routing::Outcome::kRefused;
    default: return routing::Outcome::kError;
  }
}

}  // namespace hir::backends
