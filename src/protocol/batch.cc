#include "protocol/batch.h"

#include "protocol/hollow.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace hir::protocol {

namespace {

// Bytes of one row of a fixed-width tensor of this shape (its dimensions after the batch one);
// nullopt for BYTES, a shape without a batch dimension or a size that does not fit.
std::optional<size_t> row_bytes(DataType type, const Shape& shape) {
  const size_t width = datatype_size(type);
  if (width == 0 || shape.empty()) return std::nullopt;
  size_t n = width;
  for (size_t d = 1; d < shape.size(); ++d) {
    if (shape[d] < 0) return std::nullopt;
    const auto dim = static_cast<size_t>(shape[d]);
    if (dim != 0 && n > std::numeric_limits<size_t>::max() / dim) return std::nullopt;
    n *= dim;
  }
  return n;
}

// rows × per_row without wrapping; nullopt when it would.
std::optional<size_t> times(int64_t rows, size_t per_row) {
  if (rows < 0) return std::nullopt;
  const auto r = static_cast<size_t>(rows);
  if (per_row != 0 && r > std::numeric_limits<size_t>::max() / per_row) return std::nullopt;
  return r * per_row;
}

}  // namespace

std::optional<BatchForm> batch_form(const InferRequest& head, std::optional<size_t> raw_size,
                                    const ModelSignature& sig) {
  if (sig.max_batch_size <= 0 || head.inputs.empty()) return std::nullopt;
  BatchForm f;
  f.key = raw_size ? "raw|" : "json|";  // bodies of one kind merge into one of that kind
  // Request-wide parameters change what the target does for every row; only the output form,
  // which each split answer takes from its own request, may be set.
  for (const auto& [k, v] : head.parameters)
    if (k != "binary_data_output" || !std::holds_alternative<bool>(v)) return std::nullopt;
  // Length-prefixed names: no two forms write the same key.
  auto add_name = [&f](const std::string& name) {
    f.key += std::to_string(name.size());
    f.key += ':';
    f.key += name;
  };
  int64_t rows = -1;
  size_t total = 0;
  for (const Tensor& t : head.inputs) {
    // A raw input's binary_data_size was consumed by the head reader; anything left is not ours
    // to merge.
    if (!t.parameters.empty()) return std::nullopt;
    auto per_row = row_bytes(t.datatype, t.shape);
    if (!per_row || *per_row == 0) return std::nullopt;
    if (rows < 0) rows = t.shape[0];
    if (t.shape[0] != rows || rows < 1) return std::nullopt;
    auto bytes = times(rows, *per_row);
    if (!bytes || *bytes > std::numeric_limits<size_t>::max() - total || (raw_size && *bytes > *raw_size - total))
      return std::nullopt;
    total += *bytes;
    add_name(t.name);
    f.key += ' ';
    f.key += datatype_name(t.datatype);
    for (size_t d = 1; d < t.shape.size(); ++d) {
      f.key += ',';
      f.key += std::to_string(t.shape[d]);
    }
    f.key += '\n';
  }
  // Every input's bytes raw, and nothing else after the header: an input sent as JSON data would
  // leave the binary section short of its rows (none of them is empty).
  if ((raw_size && total != *raw_size) || rows > sig.max_batch_size) return std::nullopt;
  f.key += '|';
  // An answer is split by rows, which BYTES elements (each its own length) are not cut into.
  auto splittable = [&sig](const std::string& name) {
    for (const TensorSpec& t : sig.outputs)
      if (t.name == name) return t.datatype != DataType::kBytes;
    return false;
  };
  for (const RequestedOutput& o : head.outputs) {
    if (!o.parameters.empty()) return std::nullopt;  // classification and the like: per request
    if (!splittable(o.name)) return std::nullopt;
    add_name(o.name);
  }
  if (head.outputs.empty())
    for (const TensorSpec& t : sig.outputs)
      if (t.datatype == DataType::kBytes) return std::nullopt;
  f.rows = rows;
  return f;
}

Result<std::vector<std::string_view>> json_data_texts(std::string_view json_body, const InferRequest& head) {
  std::string hollowed;
  std::vector<std::string_view> texts;
  std::vector<int64_t> commas;
  if (!hollow_data_arrays(json_body, hollowed, &texts, &commas)) return InvalidArgument("the body's data arrays cannot be followed");
  HIR_RETURN_IF_ERROR(check_data_texts(texts, head, commas));
  return texts;
}

Status check_data_texts(const std::vector<std::string_view>& texts, const InferRequest& head,
                        std::span<const int64_t> commas) {
  // The head reader refuses an input without data, so every input has an array; one array more
  // than inputs would be a `data` member elsewhere.
  if (texts.size() != head.inputs.size()) return InvalidArgument("data arrays other than the inputs'");
  if (commas.size() != texts.size()) return InvalidArgument("comma counts other than the arrays'");
  for (size_t i = 0; i < texts.size(); ++i) {
    auto n = element_count(head.inputs[i].shape);
    const int64_t count = commas[i];
    if (count < 0) return InvalidArgument("nested or string data");
    if (!n.ok() || count + 1 != *n) return InvalidArgument("input " + quote(head.inputs[i].name) + " holds other data than its shape says");
  }
  return Status::Ok();
}

namespace {

// The merged JSON request: merged's inputs (names, datatypes, summed shapes) with each part's
// data text, in order, as one flat array per input.
Encoded merge_json(const InferRequest& merged, std::span<const BatchPart> parts) {
  size_t size = 256;
  for (const BatchPart& p : parts)
    for (std::string_view t : p.json_data) size += t.size() + 1;
  std::string out;
  out.reserve(size);
  out += R"({"inputs":[)";
  for (size_t i = 0; i < merged.inputs.size(); ++i) {
    const Tensor& t = merged.inputs[i];
    out += i ? R"(,{"name":)" : R"({"name":)";
    append_json_string(out, t.name);
    out += R"(,"shape":[)";
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (d) out += ',';
      out += std::to_string(t.shape[d]);
    }
    out += R"(],"datatype":")";
    out += datatype_name(t.datatype);
    out += R"(","data":[)";
    for (size_t k = 0; k < parts.size(); ++k) {
      if (k) out += ',';
      out += parts[k].json_data[i];
    }
    out += "]}";
  }
  out += ']';
  if (merged.outputs.empty()) {
    if (!merged.parameters.empty()) out += R"(,"parameters":{"binary_data_output":true})";
  } else {
    out += R"(,"outputs":[)";
    for (size_t o = 0; o < merged.outputs.size(); ++o) {
      out += o ? R"(,{"name":)" : R"({"name":)";
      append_json_string(out, merged.outputs[o].name);
      out += merged.outputs[o].binary_data.value_or(false) ? R"(,"parameters":{"binary_data":true}})"
                                                           : R"(,"parameters":{"binary_data":false}})";
    }
    out += ']';
  }
  out += '}';
  return Encoded{std::move(out), std::nullopt};
}

}  // namespace

namespace {

// Whether an answer to `head` in JSON is read without the DOM (parse_infer_response's common
// path): every output it will hold is of a type read_json_numbers takes. An answer the reader
// declines is read number by number through the DOM, and cut from its values, costing more than
// the raw answer it replaces.
bool json_answer_readable(const InferRequest& head, const ModelSignature& sig) {
  auto readable = [&sig](std::string_view name) {
    for (const TensorSpec& t : sig.outputs)
      if (t.name == name)
        return t.datatype != DataType::kBool && t.datatype != DataType::kBytes && t.datatype != DataType::kFp16 &&
               t.datatype != DataType::kBf16;
    return false;
  };
  if (head.outputs.empty())
    return std::all_of(sig.outputs.begin(), sig.outputs.end(), [&](const TensorSpec& t) { return readable(t.name); });
  return std::all_of(head.outputs.begin(), head.outputs.end(), [&](const RequestedOutput& o) { return readable(o.name); });
}

}  // namespace

Result<Encoded> merge_requests(std::span<const BatchPart> parts, const ModelSignature* sig) {
  if (parts.empty() || !parts[0].head) return InvalidArgument("a batch needs at least one request");
  const InferRequest& first = *parts[0].head;
  InferRequest merged;
  // An output is asked raw unless every part wants it as JSON: the split answers take their own
  // forms, and raw rows are cut without reading text. When all want JSON, the target writes the
  // numbers (as it would have for each request alone) and each answer gets its rows' text: the
  // router need not write them again, which costs it more than the rest of its answer.
  const bool json_ok = sig && json_answer_readable(first, *sig);
  auto all_json = [&parts, json_ok](std::string_view name) {
    return json_ok &&
           std::none_of(parts.begin(), parts.end(), [name](const BatchPart& p) { return p.head && p.head->wants_binary(name); });
  };
  for (const RequestedOutput& o : first.outputs) {
    RequestedOutput r;
    r.name = o.name;
    r.binary_data = !all_json(o.name);
    merged.outputs.push_back(std::move(r));
  }
  // No outputs named: every part's request-wide choice decides (the same for every output).
  if (first.outputs.empty() && !all_json("")) merged.parameters["binary_data_output"] = true;
  int64_t total_rows = 0;
  for (const BatchPart& p : parts) {
    if (!p.head || p.rows < 1 || p.rows > std::numeric_limits<int64_t>::max() - total_rows)
      return InvalidArgument("a batch part without rows");
    total_rows += p.rows;
  }
  std::vector<size_t> per_row(first.inputs.size());
  for (size_t i = 0; i < first.inputs.size(); ++i) {
    const Tensor& in = first.inputs[i];
    auto r = row_bytes(in.datatype, in.shape);
    auto all = r ? times(total_rows, *r) : std::nullopt;
    if (!all) return InvalidArgument("input " + quote(in.name) + " cannot be batched");
    per_row[i] = *r;
    Tensor t;
    t.name = in.name;
    t.datatype = in.datatype;
    t.shape = in.shape;
    t.shape[0] = total_rows;
    if (parts[0].json_data.empty()) t.data.reserve(*all);
    merged.inputs.push_back(std::move(t));
  }
  const bool json = !parts[0].json_data.empty();
  for (const BatchPart& p : parts) {
    if (p.head->inputs.size() != first.inputs.size() || p.json_data.empty() != !json ||
        (json && p.json_data.size() != first.inputs.size()))
      return InvalidArgument("batch parts of different forms");
    size_t at = 0;
    for (size_t i = 0; i < first.inputs.size(); ++i) {
      const Tensor& in = p.head->inputs[i];
      const Tensor& ref = first.inputs[i];
      if (in.name != ref.name || in.datatype != ref.datatype || in.shape.size() != ref.shape.size() ||
          !std::equal(in.shape.begin() + 1, in.shape.end(), ref.shape.begin() + 1) || in.shape[0] != p.rows)
        return InvalidArgument("batch parts of different forms");
      if (json) continue;  // its text goes in as it is (merge_json)
      const size_t bytes = static_cast<size_t>(p.rows) * per_row[i];  // ≤ the total, checked above
      if (bytes > p.tensors.size() - at) return InvalidArgument("a batch part's tensors are short");
      merged.inputs[i].data.append(p.tensors.substr(at, bytes));
      at += bytes;
    }
    if (at != p.tensors.size()) return InvalidArgument("a batch part's tensors are longer than its inputs");
  }
  if (json) return merge_json(merged, parts);
  return encode_infer_request(merged, true);
}

Status check_split(const InferResponse& whole, std::span<const BatchPart> parts) {
  int64_t total = 0;
  for (const BatchPart& p : parts) {
    if (!p.head || p.rows < 1 || p.rows > std::numeric_limits<int64_t>::max() - total)
      return InvalidArgument("a batch part without rows");
    total += p.rows;
  }
  for (const Tensor& t : whole.outputs) {
    auto per_row = row_bytes(t.datatype, t.shape);
    if (!per_row || t.shape[0] != total)
      return InvalidArgument("output " + quote(t.name) + " does not have the batch's " + std::to_string(total) + " rows");
    auto all = times(total, *per_row);
    if (!all || *all != t.data.size())
      return InvalidArgument("output " + quote(t.name) + " does not hold whole rows");
  }
  return Status::Ok();
}

namespace {

size_t first_row_of(std::span<const BatchPart> parts, size_t k) {
  size_t first = 0;
  for (size_t j = 0; j < k; ++j) first += static_cast<size_t>(parts[j].rows);
  return first;
}

}  // namespace

InferResponse split_part(const InferResponse& whole, std::span<const BatchPart> parts, size_t k) {
  const size_t first_row = first_row_of(parts, k);
  const auto rows = static_cast<size_t>(parts[k].rows);
  InferResponse o;
  o.model_name = whole.model_name;
  o.model_version = whole.model_version;
  o.parameters = whole.parameters;
  o.outputs.reserve(whole.outputs.size());
  o.binary.reserve(whole.outputs.size());
  for (const Tensor& t : whole.outputs) {
    const size_t per_row = *row_bytes(t.datatype, t.shape);  // check_split's, as the sizes below
    Tensor part;
    part.name = t.name;
    part.datatype = t.datatype;
    part.shape = t.shape;
    part.shape[0] = parts[k].rows;
    part.data.assign(t.data, first_row * per_row, rows * per_row);
    part.parameters = t.parameters;
    o.outputs.push_back(std::move(part));
    o.binary.push_back(parts[k].head->wants_binary(t.name));
  }
  return o;
}

Result<std::vector<InferResponse>> split_response(const InferResponse& whole, std::span<const BatchPart> parts) {
  if (Status s = check_split(whole, parts); !s.ok()) return s;
  std::vector<InferResponse> out;
  out.reserve(parts.size());
  for (size_t k = 0; k < parts.size(); ++k) out.push_back(split_part(whole, parts, k));
  return out;
}

RowCuts cut_rows(const InferResponse& whole, std::span<const std::string_view> texts, int64_t rows) {
  RowCuts cuts;
  cuts.starts.resize(whole.outputs.size());
  if (texts.size() != whole.outputs.size() || rows < 1) return cuts;
  cuts.texts.assign(texts.begin(), texts.end());
  for (size_t o = 0; o < whole.outputs.size(); ++o) {
    const Tensor& t = whole.outputs[o];
    const std::string_view text = texts[o];
    auto count = element_count(t.shape);
    if ((o < whole.binary.size() && whole.binary[o]) || text.empty()) continue;
    if (!count.ok() || *count == 0 || t.shape.empty() || t.shape[0] != rows || *count % rows != 0) continue;
    // Flat: no nested array, and no string (a quote) whose commas would not separate elements.
    // memchr, not a loop over the bytes: it looks at many bytes per step (a row of ten scores is
    // ~130 bytes, all walked once per answer).
    const char* const begin = text.data();
    const char* const end = begin + text.size();
    if (std::memchr(begin, '[', text.size()) || std::memchr(begin, '"', text.size())) continue;
    const auto per_row = static_cast<size_t>(*count / rows);
    std::vector<size_t>& at = cuts.starts[o];
    at.reserve(static_cast<size_t>(rows) + 1);
    at.push_back(0);
    size_t commas = 0, in_row = 0;
    for (auto* c = static_cast<const char*>(std::memchr(begin, ',', text.size())); c;
         c = static_cast<const char*>(std::memchr(c + 1, ',', static_cast<size_t>(end - c - 1)))) {
      ++commas;
      if (++in_row == per_row) {  // a row ends at every per_row-th comma
        in_row = 0;
        at.push_back(static_cast<size_t>(c - begin) + 1);
      }
    }
    at.push_back(text.size() + 1);
    if (commas + 1 != static_cast<size_t>(*count)) at.clear();  // not one value per element
  }
  return cuts;
}

Encoded encode_split_answer(const InferResponse& whole, std::span<const BatchPart> parts, size_t k,
                            const HeaderEdit& edit, const RowCuts* cuts) {
  const size_t first_row = first_row_of(parts, k);
  const auto rows = static_cast<size_t>(parts[k].rows);
  std::vector<TensorRef> outputs;
  outputs.reserve(whole.outputs.size());
  for (size_t o = 0; o < whole.outputs.size(); ++o) {
    const Tensor& t = whole.outputs[o];
    const size_t per_row = *row_bytes(t.datatype, t.shape);  // check_split's
    outputs.push_back({t.name, t.datatype, t.shape, parts[k].rows,
                       std::string_view(t.data).substr(first_row * per_row, rows * per_row), &t.parameters,
                       parts[k].head->wants_binary(t.name)});
    if (cuts && o < cuts->starts.size() && !cuts->starts[o].empty()) {
      const std::vector<size_t>& at = cuts->starts[o];
      const size_t from = at[first_row], to = at[first_row + rows] - 1;
      outputs.back().json_text = cuts->texts[o].substr(from, to - from);
    }
  }
  return encode_infer_response(
      ResponseRef{edit.id, edit.model_name, edit.model_version, &whole.parameters, edit.extra, outputs});
}

}  // namespace hir::protocol
