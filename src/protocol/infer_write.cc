// Encoding of v2 inference requests and responses (shared/protocol-v2.md §2, §3). Field order
// follows the worked example of §3, which the tests reproduce byte for byte.
#include <vector>

#include "protocol/json_write.h"
#include "protocol/tensor_data.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {
namespace {

using namespace detail;  // NOLINT: internal helpers of this module

// Writes ,"parameters":{...} from p, with `extra` (if any) under `key` replacing p's own entry;
// nothing when the result is empty. The transport keys are the codec's to set, not the caller's.
void append_params_field(std::string& out, const Parameters& p, std::string_view key,
                         const ParamValue* extra) {
  if (p.empty()) {  // the common case: no copy
    if (extra == nullptr) return;
    out += ",\"parameters\":{";
    append_key(out, key);
    append_param_value(out, *extra);
    out += '}';
    return;
  }
  Parameters merged = p;
  merged.erase(std::string(key));
  if (extra != nullptr) merged.insert_or_assign(std::string(key), *extra);
  if (merged.empty()) return;
  out += ",\"parameters\":";
  append_parameters(out, merged);
}

const Parameters kNoParameters;  // for a TensorRef or ResponseRef without any

// Writes ,"parameters":{...}: own's entries and extra's (distinct keys, in key order) merged in key
// order, extra's replacing own's of the same key: what one Parameters map holding both would
// write. Nothing when both are empty.
void append_response_params(std::string& out, const Parameters* own, std::span<const ParamRef> extra) {
  const Parameters& p = own ? *own : kNoParameters;
  if (p.empty() && extra.empty()) return;
  out += ",\"parameters\":{";
  bool first = true;
  auto put = [&](std::string_view key, const auto& value) {
    if (!first) out += ',';
    first = false;
    append_key(out, key);
    append_param_value(out, value);
  };
  auto it = p.begin();
  for (const ParamRef& e : extra) {
    for (; it != p.end() && std::string_view(it->first) < e.key; ++it) put(it->first, it->second);
    if (it != p.end() && it->first == e.key) ++it;  // replaced
    put(e.key, e.value);
  }
  for (; it != p.end(); ++it) put(it->first, it->second);
  out += '}';
}

TensorRef ref_of(const Tensor& t, bool binary) {
  return {t.name, t.datatype, t.shape, -1, t.data, &t.parameters, binary};
}

// The raw tensors of a body, in order: their bytes follow the JSON, which must be written first
// (it says their sizes). Kept as views and copied once, straight into the body, when the JSON is
// done: a body of kilobytes of tensors was copied three times through a string of its own.
class RawParts {
 public:
  void add(std::string_view bytes) {
    if (n_ < kInline) inline_[n_] = bytes;
    else more_.push_back(bytes);
    ++n_;
    size_ += bytes.size();
  }
  size_t count() const { return n_; }
  size_t size() const { return size_; }
  void append_to(std::string& out) const {
    for (size_t i = 0; i < n_; ++i) out += i < kInline ? inline_[i] : more_[i - kInline];
  }

 private:
  static constexpr size_t kInline = 8;  // more tensors than this in one body are rare
  std::string_view inline_[kInline];
  std::vector<std::string_view> more_;
  size_t n_ = 0, size_ = 0;
};

// Appends the JSON for one tensor (request input or response output); raw tensors add their
// bytes to `raws` and say so with binary_data_size.
void append_tensor(std::string& out, RawParts& raws, const TensorRef& t, bool raw, bool request_order) {
  const Parameters& params = t.parameters ? *t.parameters : kNoParameters;
  out += "{\"name\":";
  append_json_string(out, t.name);
  if (request_order) {
    out += ",\"shape\":";
    append_shape(out, t.shape, t.rows);
  }
  out += ",\"datatype\":";
  append_json_string(out, datatype_name(t.datatype));
  if (!request_order) {
    out += ",\"shape\":";
    append_shape(out, t.shape, t.rows);
  }
  if (raw) {
    const ParamValue size = static_cast<int64_t>(t.data.size());
    append_params_field(out, params, "binary_data_size", &size);
    raws.add(t.data);
  } else {
    append_params_field(out, params, "binary_data_size", nullptr);
    out += ",\"data\":";
    if (t.json_text) {
      out += '[';
      out += *t.json_text;
      out += ']';
    } else {
      append_json_data(out, t.datatype, t.data);
    }
  }
  out += '}';
}

void append_requested_output(std::string& out, const RequestedOutput& o) {
  out += "{\"name\":";
  append_json_string(out, o.name);
  if (o.binary_data) {
    const ParamValue flag = *o.binary_data;
    append_params_field(out, o.parameters, "binary_data", &flag);
  } else {
    append_params_field(out, o.parameters, "binary_data", nullptr);
  }
  out += '}';
}

// Any raw tensor, even an empty one, makes the body binary: binary_data_size must come with
// Inference-Header-Content-Length (shared/protocol-v2.md §3).
Encoded finish(std::string json, const RawParts& raws) {
  if (raws.count() == 0) return Encoded{std::move(json), std::nullopt};
  const size_t json_length = json.size();
  json.reserve(json_length + raws.size());
  raws.append_to(json);
  return Encoded{std::move(json), json_length};
}

size_t data_bytes(const std::vector<Tensor>& ts) {
  size_t n = 0;
  for (const Tensor& t : ts) n += t.data.size();
  return n;
}

}  // namespace

Encoded encode_infer_request(const InferRequest& req, bool binary_inputs) {
  std::string out;
  RawParts raws;
  // Room for the header and the tensors as they will most likely be written: raw, or as text
  // (about four characters a byte).
  out.reserve(512 + (binary_inputs ? 1 : 4) * data_bytes(req.inputs));
  out += '{';
  if (!req.id.empty()) {
    out += "\"id\":";
    append_json_string(out, req.id);
    out += ',';
  }
  if (!req.parameters.empty()) {
    out += "\"parameters\":";
    append_parameters(out, req.parameters);
    out += ',';
  }
  out += "\"inputs\":[";
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    if (i > 0) out += ',';
    const Tensor& t = req.inputs[i];
    const bool raw = binary_inputs || !json_can_carry(t.datatype, t.data);
    append_tensor(out, raws, ref_of(t, binary_inputs), raw, true);
  }
  out += ']';
  if (!req.outputs.empty()) {
    out += ",\"outputs\":[";
    for (size_t i = 0; i < req.outputs.size(); ++i) {
      if (i > 0) out += ',';
      append_requested_output(out, req.outputs[i]);
    }
    out += ']';
  }
  out += '}';
  return finish(std::move(out), raws);
}

Encoded encode_infer_response(const ResponseRef& resp) {
  std::string out;
  RawParts raws;
  size_t bytes = 0;
  for (const TensorRef& o : resp.outputs) bytes += o.data.size();
  out.reserve(512 + 4 * bytes);
  detail::open_response(out, resp.id, resp.model_name, resp.model_version);
  append_response_params(out, resp.parameters, resp.extra);
  out += ",\"outputs\":[";
  for (size_t i = 0; i < resp.outputs.size(); ++i) {
    if (i > 0) out += ',';
    const TensorRef& o = resp.outputs[i];
    // A tensor with its JSON text was read from JSON: it can be written so again.
    const bool raw = o.binary || (!o.json_text && !json_can_carry(o.datatype, o.data));
    append_tensor(out, raws, o, raw, false);
  }
  out += "]}";
  return finish(std::move(out), raws);
}

Encoded encode_infer_response(const InferResponse& resp, std::span<const ParamRef> extra) {
  std::vector<TensorRef> outputs;
  outputs.reserve(resp.outputs.size());
  for (size_t i = 0; i < resp.outputs.size(); ++i)
    outputs.push_back(ref_of(resp.outputs[i], i < resp.binary.size() && resp.binary[i]));
  return encode_infer_response(
      ResponseRef{resp.id, resp.model_name, resp.model_version, &resp.parameters, extra, outputs});
}

}  // namespace hir::protocol
