#include "core/tensor.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <string_view>

namespace hir {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

const ParamValue* find_param(const Parameters& p, std::string_view key) {
  auto it = p.find(key);
  return it == p.end() ? nullptr : &it->second;
}

// Reads the little-endian uint32 length prefix of a BYTES element (shared/protocol-v2.md §3).
uint32_t read_u32_le(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

Status check_bytes_elements(const Tensor& t, int64_t count) {
  const std::string& d = t.data;
  size_t off = 0;
  // Bounded by the data size: each element consumes at least its 4-byte prefix.
  for (int64_t i = 0; i < count; ++i) {
    if (d.size() - off < 4)
      return InvalidArgument("BYTES data for " + quote(t.name) + " ends before element " +
                             std::to_string(i) + " of " + std::to_string(count) +
                             " (missing its 4-byte length)");
    uint32_t len = read_u32_le(d.data() + off);
    off += 4;
    if (d.size() - off < len)
      return InvalidArgument("BYTES element " + std::to_string(i) + " of " + quote(t.name) +
                             " claims " + std::to_string(len) + " bytes but only " +
                             std::to_string(d.size() - off) + " remain");
    off += len;
  }
  if (off != d.size())
    return InvalidArgument("BYTES data for " + quote(t.name) + " has " +
                           std::to_string(d.size() - off) + " bytes after its " +
                           std::to_string(count) + " elements");
  return Status::Ok();
}

// The model's name as messages name it (quoted when one is written: most requests pass).
std::string_view model_name(const InferRequest& req, const ModelSignature& sig) {
  return sig.name.empty() ? req.model_name : sig.name;
}

// Triton (TR-CORE infer_request.cc): the shape must match the spec, -1 matching anything; with
// max_batch_size > 0 the leading dimension is the batch, from 1 to max_batch_size.
Status check_shape(const Tensor& in, const TensorSpec& spec, const ModelSignature& sig,
                   std::string_view model) {
  for (int64_t d : in.shape)
    if (d < 0)
      return InvalidArgument("unexpected shape for input " + quote(in.name) + " for model " +
                             quote(model) + ": negative dimension in " + shape_to_string(in.shape));
  const bool batched = sig.max_batch_size > 0;
  bool match = in.shape.size() == spec.shape.size();
  for (size_t i = 0; match && i < in.shape.size(); ++i) {
    if (batched && i == 0) continue;
    match = spec.shape[i] == -1 || spec.shape[i] == in.shape[i];
  }
  if (!match)
    return InvalidArgument("unexpected shape for input " + quote(in.name) + " for model " + quote(model) +
                           ". Expected " + shape_to_string(spec.shape) + ", got " +
                           shape_to_string(in.shape));
  // A batch of no images has nothing to infer: refused with the batch's other bound, before a
  // router spends a target's time (and a ledger line) on it.
  if (batched && !in.shape.empty() && in.shape[0] == 0)
    return InvalidArgument("inference request batch-size must be >= 1 for " + quote(model) + ", got 0 (input " +
                           quote(in.name) + " has shape " + shape_to_string(in.shape) + ")");
  if (batched && !in.shape.empty() && in.shape[0] > sig.max_batch_size)
    return InvalidArgument(
        "inference request batch-size must be <= " + std::to_string(sig.max_batch_size) + " for " +
        quote(model) + ", got " + std::to_string(in.shape[0]));
  return Status::Ok();
}

const TensorSpec* find_spec(const std::vector<TensorSpec>& specs, std::string_view name) {
  for (const TensorSpec& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

Status check_input(const Tensor& in, const ModelSignature& sig, std::string_view model, bool check_data) {
  const TensorSpec* spec = find_spec(sig.inputs, in.name);
  if (spec == nullptr)
    return InvalidArgument("unexpected inference input " + quote(in.name) + " for model " + quote(model));
  if (spec->datatype != in.datatype)
    return InvalidArgument("inference input " + quote(in.name) + " data-type is " +
                           quote(datatype_name(in.datatype)) + ", but model " + quote(model) +
                           " expects " + quote(datatype_name(spec->datatype)));
  HIR_RETURN_IF_ERROR(check_shape(in, *spec, sig, model));
  return check_data ? check_tensor_data(in) : Status::Ok();
}

Status check_outputs(const InferRequest& req, const ModelSignature& sig, std::string_view model) {
  for (size_t i = 0; i < req.outputs.size(); ++i) {
    const RequestedOutput& out = req.outputs[i];
    // Against the outputs before it, which all name distinct outputs of the model: a scan of at
    // most the model's outputs, where a set cost an allocation per name.
    for (size_t j = 0; j < i; ++j)
      if (req.outputs[j].name == out.name)
        return InvalidArgument("output " + quote(out.name) + " already exists in request");
    if (find_spec(sig.outputs, out.name) == nullptr)
      return InvalidArgument("unexpected inference output " + quote(out.name) + " for model " +
                             quote(model));
    // Triton's classification and shared-memory extensions change what an output holds or
    // where it goes. Not offered here (server metadata lists the extensions that are), so a
    // request for them is refused rather than answered with a plain tensor it did not ask for.
    for (const auto& [key, value] : out.parameters)
      if (key == "classification" || key.starts_with("shared_memory"))
        return InvalidArgument("output " + quote(out.name) + ": parameter " + quote(key) +
                               " is not supported (no classification or shared-memory extension)");
  }
  return Status::Ok();
}

}  // namespace

std::optional<double> param_number(const Parameters& p, std::string_view key) {
  const ParamValue* v = find_param(p, key);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(v)) return *d;
  if (const auto* s = std::get_if<std::string>(v)) {
    // Hints may come from x-hir-* headers, where every value is text.
    double out = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec == std::errc() && ptr == s->data() + s->size() && !s->empty()) return out;
  }
  return std::nullopt;
}

std::optional<std::string> param_string(const Parameters& p, std::string_view key) {
  const ParamValue* v = find_param(p, key);
  if (v == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  if (const auto* b = std::get_if<bool>(v)) return std::string(*b ? "true" : "false");
  if (const auto* i = std::get_if<int64_t>(v)) return std::to_string(*i);
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, std::get<double>(*v));
  return std::string(buf, res.ptr);
}

double Decimal::value() const {
  // One division by an exact power of ten (every one up to 1e22 is a double): the quotient is
  // correctly rounded, so the double nearest to the decimal, as a JSON reader makes of its text
  // (|units| < 2^53, where every integer is exact).
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                      1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  return static_cast<double>(units) / kPow10[std::clamp(scale, 0, 18)];
}

ParamValue owned(const ParamView& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) return std::string(*s);
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<Decimal>(&v)) return d->value();
  return std::get<double>(v);
}

std::optional<bool> param_bool(const Parameters& p, std::string_view key) {
  const ParamValue* v = find_param(p, key);
  if (v == nullptr) return std::nullopt;
  if (const auto* b = std::get_if<bool>(v)) return *b;
  if (const auto* i = std::get_if<int64_t>(v)) {
    if (*i == 0 || *i == 1) return *i == 1;
    return std::nullopt;
  }
  if (const auto* s = std::get_if<std::string>(v)) {
    if (*s == "true" || *s == "1") return true;
    if (*s == "false" || *s == "0") return false;
  }
  return std::nullopt;
}

Result<int64_t> element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0)
      return InvalidArgument("shape " + shape_to_string(shape) + " has a negative dimension");
  for (int64_t d : shape) {
    if (d == 0) return int64_t{0};  // an empty tensor, however large the other dimensions
  }
  for (int64_t d : shape) {
    if (n > kInt64Max / d)
      return InvalidArgument("shape " + shape_to_string(shape) +
                             " causes total element count to exceed maximum size");
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  // Triton's DimsListToString: "[1,5]", no spaces.
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

Status check_tensor_data(const Tensor& t) {
  Result<int64_t> count = element_count(t.shape);
  if (!count.ok())
    return InvalidArgument("tensor " + quote(t.name) + ": " + count.status().message());
  if (t.datatype == DataType::kBytes) return check_bytes_elements(t, *count);
  const auto width = static_cast<int64_t>(datatype_size(t.datatype));
  if (*count > kInt64Max / width)
    return InvalidArgument("byte size overflow for " + quote(t.name) + " with shape " +
                           shape_to_string(t.shape));
  const auto expected = static_cast<uint64_t>(*count * width);
  if (t.data.size() != expected)
    return InvalidArgument("byte size mismatch for " + quote(t.name) + ": " +
                           std::string(datatype_name(t.datatype)) + " " + shape_to_string(t.shape) +
                           " needs " + std::to_string(expected) + " bytes, got " +
                           std::to_string(t.data.size()));
  return Status::Ok();
}

bool InferRequest::wants_binary(std::string_view output_name) const {
  for (const RequestedOutput& o : outputs)
    if (o.name == output_name && o.binary_data.has_value()) return *o.binary_data;
  return param_bool(parameters, "binary_data_output").value_or(false);
}

Status validate_request(const InferRequest& req, const ModelSignature& sig, bool check_data) {
  const std::string_view model = model_name(req, sig);
  if (req.inputs.size() != sig.inputs.size())
    return InvalidArgument("expected " + std::to_string(sig.inputs.size()) + " inputs but got " +
                           std::to_string(req.inputs.size()) + " inputs for model " + quote(model));
  // As many inputs as the model has (checked above): a scan of those before each, where a set
  // cost an allocation per name.
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    const Tensor& in = req.inputs[i];
    for (size_t j = 0; j < i; ++j)
      if (req.inputs[j].name == in.name)
        return InvalidArgument("input " + quote(in.name) + " already exists in request");
    HIR_RETURN_IF_ERROR(check_input(in, sig, model, check_data));
  }
  return check_outputs(req, sig, model);
}

}  // namespace hir
