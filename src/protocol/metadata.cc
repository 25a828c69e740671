// Model metadata, $metadata_model_response (shared/protocol-v2.md §1.3).
#include "protocol/json_read.h"
#include "protocol/json_write.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {
namespace {

using namespace detail;  // NOLINT: internal helpers of this module

void append_specs(std::string& out, const std::vector<TensorSpec>& specs) {
  out += '[';
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, specs[i].name);
    out += ",\"datatype\":";
    append_json_string(out, datatype_name(specs[i].datatype));
    out += ",\"shape\":";
    append_shape(out, specs[i].shape);
    out += '}';
  }
  out += ']';
}

Status read_spec(const element& e, const std::string& path, TensorSpec& spec) {
  object o;
  HIR_RETURN_IF_ERROR(as_object(e, path, o));
  element v;
  std::string_view s;
  HIR_RETURN_IF_ERROR(required(o, "name", path + ".name", v));
  HIR_RETURN_IF_ERROR(as_string(v, path + ".name", s));
  spec.name = s;
  HIR_RETURN_IF_ERROR(required(o, "datatype", path + ".datatype", v));
  HIR_RETURN_IF_ERROR(as_string(v, path + ".datatype", s));
  std::optional<DataType> dt = parse_datatype(s);
  if (!dt)
    return InvalidArgument("'" + path + ".datatype' is not a valid datatype: " + quote(s));
  spec.datatype = *dt;
  HIR_RETURN_IF_ERROR(required(o, "shape", path + ".shape", v));
  return as_shape(v, path + ".shape", -1, spec.shape);  // -1: a variable dimension
}

Status read_specs(const object& root, std::string_view key, std::vector<TensorSpec>& out) {
  std::optional<element> e = member(root, key);
  if (!e) return Status::Ok();
  array arr;
  HIR_RETURN_IF_ERROR(as_array(*e, key, arr));
  size_t i = 0;
  for (element item : arr) {
    TensorSpec spec;
    HIR_RETURN_IF_ERROR(read_spec(item, std::string(key) + "[" + std::to_string(i++) + "]", spec));
    out.push_back(std::move(spec));
  }
  return Status::Ok();
}

Status read_versions(const object& root, std::vector<std::string>& out) {
  std::optional<element> e = member(root, "versions");
  if (!e || e->is_null()) return Status::Ok();
  array arr;
  HIR_RETURN_IF_ERROR(as_array(*e, "versions", arr));
  for (element v : arr) {
    std::string_view s;
    HIR_RETURN_IF_ERROR(as_string(v, "versions[]", s));
    out.emplace_back(s);
  }
  return Status::Ok();
}

Status read_metadata(const object& root, ModelSignature& sig) {
  element v;
  std::string_view s;
  HIR_RETURN_IF_ERROR(required(root, "name", "name", v));
  HIR_RETURN_IF_ERROR(as_string(v, "name", s));
  sig.name = s;
  if (auto p = member(root, "platform"); p && !p->is_null()) {
    HIR_RETURN_IF_ERROR(as_string(*p, "platform", s));
    sig.platform = s;
  }
  HIR_RETURN_IF_ERROR(read_versions(root, sig.versions));
  HIR_RETURN_IF_ERROR(read_specs(root, "inputs", sig.inputs));
  HIR_RETURN_IF_ERROR(read_specs(root, "outputs", sig.outputs));
  if (auto b = member(root, "max_batch_size"))
    HIR_RETURN_IF_ERROR(as_int(*b, "max_batch_size", 0, INT64_MAX, sig.max_batch_size));
  return Status::Ok();
}

}  // namespace

std::string encode_model_metadata(const ModelSignature& sig) {
  std::string out = "{\"name\":";
  append_json_string(out, sig.name);
  out += ",\"versions\":[";
  for (size_t i = 0; i < sig.versions.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, sig.versions[i]);
  }
  out += "],\"platform\":";
  append_json_string(out, sig.platform);
  out += ",\"inputs\":";
  append_specs(out, sig.inputs);
  out += ",\"outputs\":";
  append_specs(out, sig.outputs);
  if (sig.max_batch_size > 0) {
    out += ",\"max_batch_size\":";
    append_int(out, sig.max_batch_size);
  }
  out += '}';
  return out;
}

namespace {

// A model config's tensors: {"name","data_type":"TYPE_FP32","dims":[...]}, the batch dimension
// left out when the model batches (as config.pbtxt writes it).
void append_config_specs(std::string& out, const std::vector<TensorSpec>& specs, bool batching) {
  out += '[';
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, specs[i].name);
    out += ",\"data_type\":\"TYPE_";
    // Triton names the string type TYPE_STRING where the v2 protocol says BYTES.
    out += specs[i].datatype == DataType::kBytes ? std::string_view("STRING") : datatype_name(specs[i].datatype);
    out += "\",\"dims\":[";
    const auto& shape = specs[i].shape;
    const size_t first = batching && !shape.empty() ? 1 : 0;
    for (size_t d = first; d < shape.size(); ++d) {
      if (d > first) out += ',';
      append_int(out, shape[d]);
    }
    out += "]}";
  }
  out += ']';
}

}  // namespace

std::string encode_model_config(const ModelSignature& sig) {
  const bool batching = sig.max_batch_size > 0;
  std::string out = "{\"name\":";
  append_json_string(out, sig.name);
  out += ",\"platform\":";
  append_json_string(out, sig.platform);
  out += ",\"max_batch_size\":";
  append_int(out, batching ? sig.max_batch_size : 0);
  out += ",\"input\":";
  append_config_specs(out, sig.inputs, batching);
  out += ",\"output\":";
  append_config_specs(out, sig.outputs, batching);
  out += '}';
  return out;
}

Result<ModelSignature> parse_model_metadata(std::string_view body) {
  ParsedJson doc(body, "model metadata");
  HIR_RETURN_IF_ERROR(doc.status());
  ModelSignature sig;
  HIR_RETURN_IF_ERROR(read_metadata(doc.root(), sig));
  return sig;
}

}  // namespace hir::protocol
