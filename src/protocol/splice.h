// The router's answer built from the target's answer by editing only its JSON header: the tensors
// (raw bytes after the header, or JSON `data` arrays) are copied as they are, never decoded into
// tensors and encoded again, which costs the router more than anything else it does per request.
//
// Contract: whenever splice_response_header returns a body, decoding that body with
// parse_infer_response gives what decoding the target's body, applying the edit and encoding it
// with encode_infer_response would give, field by field, in the same form (JSON or binary). The
// check is as strict as parse_infer_response: a body that it would reject, or one whose form the
// encoder would change (FP16/BF16 sent as JSON), is refused here so that the caller takes the
// full path and behaves exactly as before. No I/O; never crashes on any input. The result depends
// on the arguments only: a per-thread memo of headers already checked (splice.cc) decides nothing
// that the check itself would not.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {

// What the router changes in a target's answer.
struct HeaderEdit {
  std::string_view id;             // empty: no `id` field, as the encoder writes an empty id
  std::string_view model_name;     // replaces the target's model_name
  std::string_view model_version;  // empty: no model_version field
  // Merged into the top-level parameters, replacing the target's entries of the same keys; written
  // in this order, after the target's own. Distinct keys.
  std::span<const ParamRef> extra;
};

// body and header_length as for parse_infer_response. The result's json_length is set exactly
// when the target's answer carried Inference-Header-Content-Length; it is the new header's length.
Result<Encoded> splice_response_header(std::string_view body,
                                       std::optional<std::string_view> header_length,
                                       const HeaderEdit& edit);

// The request with the named top-level parameters removed (the router's own hints, which a target
// must not see) and every other byte as it came, tensors and binary section included; the
// parameters object is left out when nothing remains in it, as the encoder would. Keys compare as
// written. The header (JSON part) must be an object the scanner can read, without repeated
// `parameters` and with keys free of escapes; otherwise kInvalidArgument, and the caller
// re-encodes the parsed request instead. json_length is set exactly when header_length is.
Result<Encoded> remove_request_parameters(std::string_view body,
                                          std::optional<std::string_view> header_length,
                                          const std::vector<std::string>& keys);

}  // namespace hir::protocol
