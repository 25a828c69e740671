// Internal to src/protocol: simdjson DOM parsing with error values and field-naming messages.
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace hir::protocol::detail {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// One parsed document. Reuses this thread's parser (simdjson copies the text into the parser's
// padded buffer, so `text` needs no SIMDJSON_PADDING); a nested ParsedJson on the same thread gets
// its own parser. Elements stay valid while this object lives.
class ParsedJson {
 public:
  // what: "request", "response" or "model metadata", for the error message.
  ParsedJson(std::string_view text, std::string_view what);
  ~ParsedJson();
  ParsedJson(const ParsedJson&) = delete;
  ParsedJson& operator=(const ParsedJson&) = delete;

  const Status& status() const { return status_; }
  // The root as an object; valid only when status().ok().
  const object& root() const { return root_; }

 private:
  simdjson::dom::parser* parser_ = nullptr;
  std::unique_ptr<simdjson::dom::parser> own_;
  object root_;
  Status status_;
};

// "a string", "an array", ... for messages.
std::string_view json_type_name(const element& e);
// Builds "'<path>' must be <expected>, got <type>".
Status type_error(std::string_view path, std::string_view expected, const element& e);

// The member `key` of o, or nullopt when absent.
std::optional<element> member(const object& o, std::string_view key);
// A member that must be present: kInvalidArgument "missing '<path>'" otherwise.
Status required(const object& o, std::string_view key, std::string_view path, element& out);

Status as_object(const element& e, std::string_view path, object& out);
Status as_array(const element& e, std::string_view path, array& out);
Status as_string(const element& e, std::string_view path, std::string_view& out);
// A JSON integer in [lo, hi]; an integral float (3.0) is accepted.
Status as_int(const element& e, std::string_view path, int64_t lo, int64_t hi, int64_t& out);
// [d0, d1, ...]; each dimension >= min_dim (0 for tensors, -1 for model metadata).
Status as_shape(const element& e, std::string_view path, int64_t min_dim, Shape& out);
// {k: string|number|bool}; anything else (null, arrays, objects) is rejected.
Status as_parameters(const element& e, std::string_view path, Parameters& out);

// The JSON part's length of a body the router forwards as it came (splice.cc, request_head.cc):
// Inference-Header-Content-Length read as the full parsers read it, except that anything they
// would refuse or treat specially (0: a raw binary request) is refused here with a plain
// kInvalidArgument; without the header, the whole body.
Result<size_t> forwarded_json_length(std::string_view body, std::optional<std::string_view> header);

// Short JSON text of e for messages (at most ~40 characters).
std::string preview(const element& e);

}  // namespace hir::protocol::detail
