// Triton's raw binary request (shared/protocol-v2.md §3): `Inference-Header-Content-Length: 0` and
// a body of only the single input's bytes; the tensor's shape is deduced from the model and the
// size.
#include <limits>

#include "protocol/v2_codec.h"

namespace hir::protocol {
namespace {


// At most one variable dimension besides the batch dimension, whose index is returned (or -1).
Result<int> variable_dimension(const Shape& shape, size_t first, const std::string& model) {
  int var = -1;
  for (size_t i = first; i < shape.size(); ++i) {
    if (shape[i] >= 0) continue;
    if (var >= 0)
      return InvalidArgument(
          "a raw binary request needs an input with at most one variable-size "
          "dimension; model " +
          model + " expects " + shape_to_string(shape));
    var = static_cast<int>(i);
  }
  return var;
}

// BYTES: the input must hold one element, and the whole body is its content.
Status fill_bytes(std::string_view body, size_t first, const std::string& model, Tensor& t) {
  for (size_t i = first; i < t.shape.size(); ++i) {
    if (t.shape[i] != 1 && t.shape[i] != -1)
      return InvalidArgument("a raw binary request for a BYTES input needs shape [1]; model " +
                             model + " expects " + shape_to_string(t.shape));
    t.shape[i] = 1;
  }
  if (body.size() > std::numeric_limits<uint32_t>::max())
    return InvalidArgument("a BYTES element is limited to 2^32-1 bytes");
  const auto n = static_cast<uint32_t>(body.size());
  t.data.reserve(body.size() + 4);
  for (int i = 0; i < 4; ++i) t.data += static_cast<char>(n >> (8 * i));
  t.data.append(body);
  return Status::Ok();
}

// Fixed-width types: a variable dimension takes whatever the body size implies.
Status fill_fixed(std::string_view body, int var, Tensor& t) {
  if (var >= 0) t.shape[static_cast<size_t>(var)] = 1;
  Result<int64_t> fixed = element_count(t.shape);
  if (!fixed.ok())
    return InvalidArgument("input " + quote(t.name) + ": " + fixed.status().message());
  const auto width = static_cast<int64_t>(datatype_size(t.datatype));
  if (*fixed > std::numeric_limits<int64_t>::max() / width)
    return InvalidArgument("byte size overflow for input " + quote(t.name));
  const auto unit = static_cast<uint64_t>(*fixed * width);
  if (var >= 0) {
    if (unit == 0 || body.size() % unit != 0)
      return InvalidArgument("raw binary data of " + std::to_string(body.size()) +
                             " bytes does not fit input " + quote(t.name) + " " +
                             std::string(datatype_name(t.datatype)) + " " +
                             shape_to_string(t.shape) + " with one variable dimension");
    t.shape[static_cast<size_t>(var)] = static_cast<int64_t>(body.size() / unit);
  }
  t.data.assign(body);
  return check_tensor_data(t);
}

}  // namespace

Result<InferRequest> parse_raw_binary_request(std::string_view body, const ModelSignature& sig) {
  const std::string model = quote(sig.name);
  if (sig.inputs.size() != 1)
    return InvalidArgument("a raw binary request needs a model with exactly 1 input; model " +
                           model + " has " + std::to_string(sig.inputs.size()));
  const TensorSpec& spec = sig.inputs[0];
  Tensor t{spec.name, spec.datatype, spec.shape, {}, {}};
  size_t first = 0;
  if (sig.max_batch_size > 0 && !t.shape.empty()) {
    t.shape[0] = 1;  // a batching model sees batch 1 (TR-DOC extension_binary_data.md)
    first = 1;
  }
  Result<int> var = variable_dimension(t.shape, first, model);
  if (!var.ok()) return var.status();
  if (t.datatype == DataType::kBytes) {
    HIR_RETURN_IF_ERROR(fill_bytes(body, first, model, t));
  } else {
    HIR_RETURN_IF_ERROR(fill_fixed(body, *var, t));
  }
  InferRequest req;
  req.model_name = sig.name;
  req.inputs.push_back(std::move(t));
  req.parameters["binary_data_output"] = true;  // all outputs come back raw
  return req;
}

}  // namespace hir::protocol
