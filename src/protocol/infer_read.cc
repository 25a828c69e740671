// Parsing of v2 inference requests and responses, JSON and binary (shared/protocol-v2.md §2, §3).
#include <charconv>
#include <limits>
#include <set>

#include "protocol/hollow.h"
#include "protocol/json_read.h"
#include "protocol/tensor_data.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {
namespace {

using namespace detail;  // NOLINT: internal helpers of this module

constexpr std::string_view kHeaderName = "Inference-Header-Content-Length";

// Where the tensors' values come from. The binary section after the JSON header: each binary
// tensor takes its bytes in JSON order. And, when the JSON was read with its `data` arrays
// emptied (read_hollowed), the text of those arrays, which the tensors take in the same order.
struct BinaryCursor {
  std::string_view rest;
  const std::vector<std::string_view>* data_texts = nullptr;
  size_t next_text = 0;
  // When set, each response output's data text (empty for a raw output), as parse_infer_response
  // hands them out.
  std::vector<std::string_view>* taken = nullptr;
};


std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Triton parses the header with stoi and rejects non-numeric values, values outside int32 and
// values beyond the body with 400 (TR-SRC GetInferenceHeaderLength). Stricter than stoi here:
// trailing garbage ("12abc") is rejected too.
Result<size_t> json_part_length(std::string_view body, std::optional<std::string_view> header) {
  if (!header) return body.size();
  const std::string_view v = trim_ows(*header);
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec == std::errc::invalid_argument || ptr != v.data() + v.size())
    return InvalidArgument(std::string(kHeaderName) + " must be a non-negative integer, got " +
                           quote(*header));
  if (ec == std::errc::result_out_of_range || n > uint64_t{std::numeric_limits<int32_t>::max()})
    return InvalidArgument(std::string(kHeaderName) + " " + clip(v) + " is out of range");
  if (n > body.size())
    return InvalidArgument("inference header size should be in range [0, " +
                           std::to_string(body.size()) + "], got: " + clip(v));
  return static_cast<size_t>(n);
}

// Moves inputs[i].parameters.binary_data_size out of the parameters: it describes the transport.
Status take_binary_size(Parameters& params, const std::string& path, std::optional<int64_t>& out) {
  auto it = params.find("binary_data_size");
  if (it == params.end()) return Status::Ok();
  const auto* n = std::get_if<int64_t>(&it->second);
  if (n == nullptr || *n < 0)
    return InvalidArgument("'" + path +
                           ".parameters.binary_data_size' must be a non-negative integer");
  out = *n;
  params.erase(it);
  return Status::Ok();
}

Status take_binary_bytes(BinaryCursor& bin, int64_t size, std::string_view role, Tensor& t) {
  if (static_cast<uint64_t>(size) > bin.rest.size())
    // Triton's wording (TR-SRC ParseJsonTritonIO), with what was actually left.
    return InvalidArgument("unexpected size for " + std::string(role) + " " + quote(t.name) +
                           ", expecting " + std::to_string(size) + " additional bytes but " +
                           std::to_string(bin.rest.size()) + " remain");
  t.data.assign(bin.rest.substr(0, static_cast<size_t>(size)));
  bin.rest.remove_prefix(static_cast<size_t>(size));
  return check_tensor_data(t);
}

// A hollowed body's `data` (an emptied array) takes the next array text. Any refusal here is not
// the client's error to report: the caller reads the whole body again, the DOM way.
Status take_data_text(const element& data, BinaryCursor& bin, Tensor& t) {
  array arr;
  if (data.get_array().get(arr) || arr.size() != 0 || bin.next_text == bin.data_texts->size() ||
      !read_json_numbers((*bin.data_texts)[bin.next_text], t))
    return InvalidArgument("not read without the DOM");
  if (bin.taken) bin.taken->push_back((*bin.data_texts)[bin.next_text]);
  ++bin.next_text;
  return Status::Ok();
}

Status read_tensor_header(const object& o, const std::string& path, Tensor& t) {
  element v;
  std::string_view s;
  HIR_RETURN_IF_ERROR(required(o, "name", path + ".name", v));
  HIR_RETURN_IF_ERROR(as_string(v, path + ".name", s));
  if (s.empty()) return InvalidArgument("'" + path + ".name' must not be empty");
  t.name = s;
  HIR_RETURN_IF_ERROR(required(o, "datatype", path + ".datatype", v));
  HIR_RETURN_IF_ERROR(as_string(v, path + ".datatype", s));
  std::optional<DataType> dt = parse_datatype(s);
  if (!dt)
    return InvalidArgument("'" + path + ".datatype' of " + quote(t.name) +
                           " is not a valid datatype: " + quote(s));
  t.datatype = *dt;
  HIR_RETURN_IF_ERROR(required(o, "shape", path + ".shape", v));
  HIR_RETURN_IF_ERROR(as_shape(v, path + ".shape", 0, t.shape));
  Result<int64_t> count = element_count(t.shape);
  if (!count.ok())
    return InvalidArgument("'" + path + ".shape' of " + quote(t.name) + ": " +
                           count.status().message());
  if (auto p = member(o, "parameters"))
    HIR_RETURN_IF_ERROR(as_parameters(*p, path + ".parameters", t.parameters));
  return Status::Ok();
}

// One request input or response output: a header plus `data` or binary_data_size (exactly one).
Status read_tensor(const element& e, std::string_view role, const std::string& path,
                   BinaryCursor& bin, Tensor& t, bool& was_binary) {
  object o;
  HIR_RETURN_IF_ERROR(as_object(e, path, o));
  HIR_RETURN_IF_ERROR(read_tensor_header(o, path, t));
  if (t.parameters.count("shared_memory_region") != 0)
    return Unimplemented("shared memory is not supported ('" + path +
                         ".parameters.shared_memory_region')");
  std::optional<int64_t> binary_size;
  HIR_RETURN_IF_ERROR(take_binary_size(t.parameters, path, binary_size));
  std::optional<element> data = member(o, "data");
  if (data.has_value() == binary_size.has_value())
    return InvalidArgument(std::string(role) + " " + quote(t.name) +
                           " must set exactly one of 'data' and 'parameters.binary_data_size'");
  was_binary = binary_size.has_value();
  if (binary_size) return take_binary_bytes(bin, *binary_size, role, t);
  if (bin.data_texts != nullptr) return take_data_text(*data, bin, t);
  return read_json_data(*data, path + ".data", t);
}

Status read_inputs(const element& e, BinaryCursor& bin, std::vector<Tensor>& out) {
  array arr;
  HIR_RETURN_IF_ERROR(as_array(e, "inputs", arr));
  // Duplicate names: a look back over the few inputs a model has, a set beyond that (a body may
  // carry thousands, and looking back over each would be quadratic).
  constexpr size_t kLookBack = 16;
  std::set<std::string_view> names;  // views into `out`, which the reserve keeps in place
  out.reserve(out.size() + arr.size());
  size_t i = 0;
  for (element in : arr) {
    Tensor t;
    bool binary = false;
    HIR_RETURN_IF_ERROR(
        read_tensor(in, "input", "inputs[" + std::to_string(i++) + "]", bin, t, binary));
    out.push_back(std::move(t));
    const std::string_view name = out.back().name;
    bool seen = false;
    if (out.size() <= kLookBack) {
      for (size_t j = 0; j + 1 < out.size() && !seen; ++j) seen = out[j].name == name;
    } else {
      if (names.empty())
        for (size_t j = 0; j + 1 < out.size(); ++j) names.insert(out[j].name);
      seen = !names.insert(name).second;
    }
    if (seen) return InvalidArgument("input " + quote(name) + " appears more than once in the request");
  }
  return Status::Ok();
}

Status read_requested_output(const element& e, const std::string& path, RequestedOutput& out) {
  object o;
  HIR_RETURN_IF_ERROR(as_object(e, path, o));
  element v;
  std::string_view s;
  HIR_RETURN_IF_ERROR(required(o, "name", path + ".name", v));
  HIR_RETURN_IF_ERROR(as_string(v, path + ".name", s));
  if (s.empty()) return InvalidArgument("'" + path + ".name' must not be empty");
  out.name = s;
  if (auto p = member(o, "parameters"))
    HIR_RETURN_IF_ERROR(as_parameters(*p, path + ".parameters", out.parameters));
  auto it = out.parameters.find("binary_data");
  if (it != out.parameters.end()) {
    const bool* b = std::get_if<bool>(&it->second);
    if (b == nullptr)
      return InvalidArgument("'" + path + ".parameters.binary_data' must be a boolean");
    out.binary_data = *b;
    out.parameters.erase(it);
  }
  return Status::Ok();
}

Status read_requested_outputs(const element& e, std::vector<RequestedOutput>& out) {
  array arr;
  HIR_RETURN_IF_ERROR(as_array(e, "outputs", arr));
  size_t i = 0;
  for (element o : arr) {
    RequestedOutput r;
    HIR_RETURN_IF_ERROR(read_requested_output(o, "outputs[" + std::to_string(i++) + "]", r));
    out.push_back(std::move(r));
  }
  return Status::Ok();
}

// `id` is a string; a null (KServe sends null model_version) reads as absent.
Status read_optional_string(const object& o, std::string_view key, std::string& out) {
  std::optional<element> v = member(o, key);
  if (!v || v->is_null()) return Status::Ok();
  std::string_view s;
  HIR_RETURN_IF_ERROR(as_string(*v, key, s));
  out = s;
  return Status::Ok();
}

Status read_request_parameters(const object& root, Parameters& out) {
  std::optional<element> p = member(root, "parameters");
  if (!p) return Status::Ok();
  HIR_RETURN_IF_ERROR(as_parameters(*p, "parameters", out));
  auto it = out.find("binary_data_output");
  if (it != out.end() && !std::holds_alternative<bool>(it->second))
    return InvalidArgument("'parameters.binary_data_output' must be a boolean");
  return Status::Ok();
}

Status read_request(const object& root, BinaryCursor& bin, InferRequest& req) {
  HIR_RETURN_IF_ERROR(read_optional_string(root, "id", req.id));
  HIR_RETURN_IF_ERROR(read_request_parameters(root, req.parameters));
  element inputs;
  HIR_RETURN_IF_ERROR(required(root, "inputs", "inputs", inputs));
  HIR_RETURN_IF_ERROR(read_inputs(inputs, bin, req.inputs));
  if (auto outputs = member(root, "outputs"))
    HIR_RETURN_IF_ERROR(read_requested_outputs(*outputs, req.outputs));
  return Status::Ok();
}

Status read_response_outputs(const element& e, BinaryCursor& bin, InferResponse& resp) {
  array arr;
  HIR_RETURN_IF_ERROR(as_array(e, "outputs", arr));
  size_t i = 0;
  for (element out : arr) {
    Tensor t;
    bool binary = false;
    HIR_RETURN_IF_ERROR(
        read_tensor(out, "output", "outputs[" + std::to_string(i++) + "]", bin, t, binary));
    resp.outputs.push_back(std::move(t));
    resp.binary.push_back(binary);
    if (bin.taken && binary) bin.taken->emplace_back();
  }
  return Status::Ok();
}

Status read_response(const object& root, BinaryCursor& bin, InferResponse& resp) {
  if (auto err = member(root, "error")) {
    std::string_view msg;
    HIR_RETURN_IF_ERROR(as_string(*err, "error", msg));
    return InvalidArgument("the response carries an error: " + std::string(msg));
  }
  HIR_RETURN_IF_ERROR(read_optional_string(root, "id", resp.id));
  HIR_RETURN_IF_ERROR(read_optional_string(root, "model_name", resp.model_name));
  HIR_RETURN_IF_ERROR(read_optional_string(root, "model_version", resp.model_version));
  if (auto p = member(root, "parameters"))
    HIR_RETURN_IF_ERROR(as_parameters(*p, "parameters", resp.parameters));
  element outputs;
  HIR_RETURN_IF_ERROR(required(root, "outputs", "outputs", outputs));
  return read_response_outputs(outputs, bin, resp);
}

Status check_no_leftover(const BinaryCursor& bin) {
  if (bin.rest.empty()) return Status::Ok();
  return InvalidArgument("unexpected additional input data: " + std::to_string(bin.rest.size()) +
                         " bytes after the last binary tensor");
}

// The common case, read without a DOM for the numbers: the JSON with its `data` arrays emptied
// goes to simdjson (a few hundred bytes instead of kilobytes of numbers), and each tensor reads
// its array's text with read_json_numbers. True, with `msg` read, when every step took the
// common path; false otherwise, and the caller reads the body the DOM way from the start, so
// that whatever is unusual or wrong in it is judged, and worded, exactly as before.
//
// Why the texts go to the right tensors: the emptied arrays are those of every member keyed
// `data` in the text, in order. With no backslash outside them (so no key spelled with escapes
// reads as "data" to simdjson but not to the scan), every tensor's `data` is one of them, and
// tensors appear in the text in the order they are read. Requiring that the tensors take all of
// them leaves no `data` elsewhere (a duplicate key, a parameter) to be taken by mistake.
template <class Message, class Read>
bool read_hollowed(std::string_view body, size_t json_len, std::string_view what, Message& msg,
                   Read read, std::vector<std::string_view>* taken = nullptr) {
  const std::string_view json = body.substr(0, json_len);
  if (json.find("\"data\"") == std::string_view::npos) return false;
  std::string hollowed;
  std::vector<std::string_view> texts;
  if (!hollow_data_arrays(json, hollowed, &texts) || texts.empty() ||
      hollowed.find('\\') != std::string::npos)
    return false;
  // Text and booleans are never plain numbers: spare such a body a reading that would decline.
  if (hollowed.find("\"BYTES\"") != std::string::npos || hollowed.find("\"BOOL\"") != std::string::npos)
    return false;
  ParsedJson doc(hollowed, what);
  if (!doc.status().ok()) return false;
  BinaryCursor bin{body.substr(json_len), &texts, 0, taken};
  if (!read(doc.root(), bin, msg).ok() || bin.next_text != texts.size() ||
      !check_no_leftover(bin).ok()) {
    msg = Message{};
    if (taken) taken->clear();
    return false;
  }
  return true;
}

}  // namespace

bool is_raw_binary(std::optional<std::string_view> header_length) {
  if (!header_length) return false;
  // Read here rather than by json_part_length, which for any length but 0 would write an error
  // message (the length is past an empty body) only for it to be dropped: this runs per request.
  const std::string_view v = trim_ows(*header_length);
  uint64_t n = 1;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc() && ptr == v.data() + v.size() && n == 0;
}

Result<InferRequest> parse_infer_request(std::string_view body,
                                         std::optional<std::string_view> header_length) {
  Result<size_t> json_len = json_part_length(body, header_length);
  if (!json_len.ok()) return json_len.status();
  if (header_length && *json_len == 0)
    return Unimplemented("a raw binary request (" + std::string(kHeaderName) +
                         ": 0) needs the model's signature: use parse_raw_binary_request");
  InferRequest req;
  if (read_hollowed(body, *json_len, "request", req, read_request)) return req;
  ParsedJson doc(body.substr(0, *json_len), "request");
  HIR_RETURN_IF_ERROR(doc.status());
  BinaryCursor bin{body.substr(*json_len)};
  HIR_RETURN_IF_ERROR(read_request(doc.root(), bin, req));
  HIR_RETURN_IF_ERROR(check_no_leftover(bin));
  return req;
}

Result<InferResponse> parse_infer_response(std::string_view body,
                                           std::optional<std::string_view> header_length,
                                           std::vector<std::string_view>* data_texts) {
  if (data_texts) data_texts->clear();
  Result<size_t> json_len = json_part_length(body, header_length);
  if (!json_len.ok()) return json_len.status();
  if (header_length && *json_len == 0)
    return InvalidArgument(std::string(kHeaderName) + ": 0 is not valid for a response");
  InferResponse resp;
  if (read_hollowed(body, *json_len, "response", resp, read_response, data_texts)) return resp;
  ParsedJson doc(body.substr(0, *json_len), "response");
  HIR_RETURN_IF_ERROR(doc.status());
  BinaryCursor bin{body.substr(*json_len)};
  HIR_RETURN_IF_ERROR(read_response(doc.root(), bin, resp));
  HIR_RETURN_IF_ERROR(check_no_leftover(bin));
  return resp;
}

}  // namespace hir::protocol
