// Several clients' inference requests sent to a target as one, and its answer split back.
//
// A target that runs a batch of rows costs far less per row than one that runs each request on
// its own (one parse, one model call, one answer; docs/batching.md). The router merges requests
// that wait for the same target and variant when they have the same form: the same inputs
// (names, fixed-width datatypes, dimensions after the batch dimension) and the same requested
// outputs. The merged call carries raw tensors and asks for raw outputs whatever its requests
// sent or asked; each split answer takes the form (binary or JSON) its own request asked for.
// Pure functions: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {

// One request of a batch: its head (parse_infer_request_head's: shapes, no data; or the full
// parse) and its tensors' bytes in wire form, every input's in order (for a binary-extension
// body, the bytes after its JSON header).
struct BatchPart {
  const InferRequest* head = nullptr;
  std::string_view tensors;
  int64_t rows = 0;  // its batch dimension, the same for every input
};

// The form a request must share with the others of a batch, and its rows; nullopt when it
// cannot join one: a model without a batch dimension, BYTES or empty tensors, a request
// parameter other than binary_data_output, input or output parameters the head keeps, inputs
// of different row counts. raw_size: for a binary-extension body, the bytes after its JSON
// header, which must be exactly every input's (none sent as JSON); nullopt for a JSON body,
// whose tensors are read only when it is merged.
struct BatchForm {
  std::string key;  // equal keys: mergeable
  int64_t rows = 0;
};
std::optional<BatchForm> batch_form(const InferRequest& head, std::optional<size_t> raw_size,
                                    const ModelSignature& sig);

// A JSON body's tensors in wire form, every input's in order, as a BatchPart takes them: the
// full parse's, checked against its head's shapes. kInvalidArgument for data the target would
// refuse (the request then goes alone, and the target says why).
Result<std::string> batch_tensors(std::string_view json_body, const InferRequest& head);

// The merged request: the first part's form with every input's batch dimension summed, and the
// parts' tensor bytes one after another, input by input; every output asked for raw. Binary
// extension; no id. The parts must share one batch_form key (checked: a mismatch is
// kInvalidArgument, not a wrong body).
Result<Encoded> merge_requests(std::span<const BatchPart> parts);

// The answer to a merged request cut into one answer per part, in order: each output's rows
// [first, first + rows) of the part, with the answer's parameters, each output raw or JSON as the
// part's own request asked. Fails (kInvalidArgument) when an output's batch dimension is not the
// parts' total or its data is not whole rows of a fixed-width type: the target answered
// something else than what was asked.
Result<std::vector<InferResponse>> split_response(const InferResponse& whole, std::span<const BatchPart> parts);

}  // namespace hir::protocol
