#include "worker/model_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace hir::worker {
namespace {

std::string where(std::string_view source, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  std::string s(source);
  if (m.line >= 0) s += ":" + std::to_string(m.line + 1);
  return s;
}

Result<TensorSpec> parse_tensor(const YAML::Node& n, std::string_view source, std::string_view what,
                                size_t index) {
  const std::string here = where(source, n) + ": " + std::string(what) + "[" +
                           std::to_string(index) + "]";
  if (!n.IsMap()) return InvalidArgument(here + " must be a map {name, datatype, shape}");
  TensorSpec t;
  if (!n["name"] || !n["name"].IsScalar() || n["name"].Scalar().empty())
    return InvalidArgument(here + ": missing 'name'");
  t.name = n["name"].Scalar();
  if (!n["datatype"] || !n["datatype"].IsScalar())
    return InvalidArgument(here + ": missing 'datatype'");
  auto dt = parse_datatype(n["datatype"].Scalar());
  if (!dt) return InvalidArgument(here + ": unknown datatype '" + n["datatype"].Scalar() + "'");
  t.datatype = *dt;
  const YAML::Node shape = n["shape"];
  if (!shape || !shape.IsSequence()) return InvalidArgument(here + ": 'shape' must be a list");
  for (const YAML::Node& d : shape) {
    const auto dim = d.as<int64_t>();  // throws BadConversion on text; caught by the caller
    if (dim < -1 || dim == 0)
      return InvalidArgument(here + ": dimension " + std::to_string(dim) + " is not allowed");
    t.shape.push_back(dim);
  }
  return t;
}

Status parse_tensors(const YAML::Node& list, std::string_view source, std::string_view what,
                     std::vector<TensorSpec>& out) {
  if (!list) return InvalidArgument(std::string(source) + ": missing '" + std::string(what) + "'");
  if (!list.IsSequence())
    return InvalidArgument(std::string(source) + ": '" + std::string(what) + "' must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    auto t = parse_tensor(list[i], source, what, i);
    if (!t.ok()) return t.status();
    out.push_back(std::move(*t));
  }
  return Status::Ok();
}

Result<ModelConfig> parse_root(const YAML::Node& root, std::string_view source) {
  if (!root.IsMap()) return InvalidArgument(std::string(source) + ": expected a YAML map");
  ModelConfig c;
  if (root["name"]) c.name = root["name"].as<std::string>();
  if (root["platform"]) c.platform = root["platform"].as<std::string>();
  if (root["max_batch_size"]) c.max_batch_size = root["max_batch_size"].as<int64_t>();
  if (c.max_batch_size < 0)
    return InvalidArgument(std::string(source) + ": max_batch_size must be >= 0");
  HIR_RETURN_IF_ERROR(parse_tensors(root["inputs"], source, "inputs", c.inputs));
  HIR_RETURN_IF_ERROR(parse_tensors(root["outputs"], source, "outputs", c.outputs));
  return c;
}

}  // namespace

Result<ModelConfig> parse_model_config(std::string_view yaml_text, std::string_view source) {
  // yaml-cpp reports every problem by throwing; this is the boundary where that stops.
  try {
    return parse_root(YAML::Load(std::string(yaml_text)), source);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source) + ": " + e.what());
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(source) + ": " + e.what());
  }
}

Result<ModelConfig> load_model_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound(file.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Internal(file.string() + ": read failed");
  return parse_model_config(text.str(), file.string());
}

Status check_supported(const ModelConfig& c) {
  const std::string who = "model '" + c.name + "': ";
  if (c.platform != "onnxruntime_onnx" && c.platform != "onnx")
    return Unimplemented(who + "platform '" + c.platform +
                         "' is not supported (only onnxruntime_onnx)");
  if (c.inputs.size() != 1 || c.outputs.size() != 1)
    return Unimplemented(who + "only models with exactly one input and one output are supported");
  for (const TensorSpec* t : {&c.inputs[0], &c.outputs[0]}) {
    if (t->datatype != DataType::kFp32)
      return Unimplemented(who + "tensor '" + t->name + "' is " +
                           std::string(datatype_name(t->datatype)) + "; only FP32 is supported");
    if (t->shape.empty()) return Unimplemented(who + "tensor '" + t->name + "' has no shape");
    int64_t n = 1;
    for (int64_t d : t->shape) {
      if (d < 1)
        return Unimplemented(who + "tensor '" + t->name +
                             "' has a variable dimension; only fixed shapes are supported");
      if (n > std::numeric_limits<int>::max() / d)
        return InvalidArgument(who + "tensor '" + t->name + "' is too large");
      n *= d;
    }
  }
  return Status::Ok();
}

namespace {
// The product of the dimensions that make one row (see RowLayout).
int row_size(const ModelConfig& c, const Shape& shape) {
  const size_t skip = (c.max_batch_size == 0 && shape.size() >= 2) ? 1 : 0;
  int64_t n = 1;
  for (size_t i = skip; i < shape.size(); ++i) n *= shape[i];
  return static_cast<int>(n);
}
}  // namespace

RowLayout row_layout(const ModelConfig& c) {
  if (c.inputs.empty() || c.outputs.empty()) return {};
  return {row_size(c, c.inputs[0].shape), row_size(c, c.outputs[0].shape)};
}

int64_t batch_of(const ModelConfig& c, const Shape& input_shape) {
  if (input_shape.empty()) return 1;
  if (c.max_batch_size > 0) return input_shape[0];
  return input_shape.size() >= 2 ? input_shape[0] : 1;
}

Shape output_shape(const ModelConfig& c, int64_t batch) {
  if (c.outputs.empty()) return {};
  Shape s = c.outputs[0].shape;
  if (c.max_batch_size > 0) s.insert(s.begin(), batch);
  return s;
}

ModelSignature signature_of(const ModelConfig& c, std::vector<std::string> versions) {
  ModelSignature sig;
  sig.name = c.name;
  sig.versions = std::move(versions);
  sig.platform = c.platform;
  sig.max_batch_size = c.max_batch_size;
  auto with_batch = [&](TensorSpec t) {
    if (c.max_batch_size > 0) t.shape.insert(t.shape.begin(), -1);
    return t;
  };
  for (const TensorSpec& t : c.inputs) sig.inputs.push_back(with_batch(t));
  for (const TensorSpec& t : c.outputs) sig.outputs.push_back(with_batch(t));
  return sig;
}

}  // namespace hir::worker
