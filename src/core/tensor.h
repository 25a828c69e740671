// Tensors, inference requests and responses: the protocol-neutral model every layer shares.
//
// Tensor bytes are kept in their wire form (little-endian, row-major, no padding; BYTES elements
// as a 4-byte little-endian length then the bytes), so the binary extension needs no re-encoding
// and JSON data is converted once, at the codec.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/datatype.h"
#include "core/status.h"

namespace hir {

using Shape = std::vector<int64_t>;

// A request/response parameter: the protocol allows string, number or boolean.
using ParamValue = std::variant<bool, int64_t, double, std::string>;
using Parameters = std::map<std::string, ParamValue, std::less<>>;
// A fixed-point number, units x 10^-scale (0 <= scale <= 18): written exactly with integer
// arithmetic, where a double needs the shortest-round-trip search (~350 instructions each, two
// per answer: docs/perf/proxy.md, "Twentieth pass"). Read back it is a double.
struct Decimal {
  int64_t units = 0;
  int scale = 0;
  double value() const;
};
// A parameter value that refers to its text instead of owning it (written straight into JSON).
using ParamView = std::variant<bool, int64_t, double, std::string_view, Decimal>;
ParamValue owned(const ParamView& v);  // the same value, holding its own text

// Lookup helpers that accept compatible types (an int where a double is asked for, etc.).
std::optional<double> param_number(const Parameters& p, std::string_view key);
std::optional<std::string> param_string(const Parameters& p, std::string_view key);
std::optional<bool> param_bool(const Parameters& p, std::string_view key);

// Product of the dimensions, or an error for a negative dimension or an overflow.
Result<int64_t> element_count(const Shape& shape);
std::string shape_to_string(const Shape& shape);

struct Tensor;
// Checks that t.data holds exactly element_count(t.shape) elements of t.datatype in wire form; for
// BYTES it walks the 4-byte length prefixes. The codec and validate_request share it.
Status check_tensor_data(const Tensor& t);

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  Shape shape;
  std::string data;  // wire bytes, see above
  Parameters parameters;
};

struct RequestedOutput {
  std::string name;
  Parameters parameters;
  std::optional<bool> binary_data;  // outputs[i].parameters.binary_data, if given
};

struct InferRequest {
  std::string id;  // echoed in the response when non-empty
  std::string model_name;
  std::string model_version;  // empty: the server's choice
  Parameters parameters;
  std::vector<Tensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output the model has

  // True when this output should be sent raw (binary extension): the per-output flag wins over
  // the request-wide binary_data_output (shared/protocol-v2.md §3).
  bool wants_binary(std::string_view output_name) const;
};

struct InferResponse {
  std::string id;
  std::string model_name;
  std::string model_version;
  Parameters parameters;
  std::vector<Tensor> outputs;
  std::vector<bool> binary;  // per output: send raw; same length as outputs (missing = JSON)
};

// What a model takes and returns: the v2 model metadata. A -1 dimension is variable.
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  Shape shape;
};

struct ModelSignature {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  int64_t max_batch_size = 0;  // >0: the leading dimension is the batch
};

// Checks a request against a model's signature: input count and names, datatypes, shapes against
// the spec (with -1 wildcards and the batch limit), byte sizes of fixed-width data, unknown or
// duplicate requested outputs. Error messages follow Triton's wording.
// check_data false: everything but the tensors' bytes, for a request read by
// protocol::parse_infer_request_head (its tensors carry none; the target checks them).
Status validate_request(const InferRequest& req, const ModelSignature& sig, bool check_data = true);

}  // namespace hir
