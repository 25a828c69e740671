// Several clients' inference requests sent to a target as one, and its answer split back.
//
// A target that runs a batch of rows costs far less per row than one that runs each request on
// its own (one parse, one model call, one answer; docs/batching.md has the figures). The router
// merges requests that wait for the same target and variant when they have the same form: the
// same inputs (names, datatypes, dimensions after the batch dimension), the same requested
// outputs, raw (binary-extension) tensor data of fixed-width types. Pure functions: no I/O.
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

// One request of a batch: its head (parse_infer_request_head's: shapes, no data) and the raw
// tensor bytes after its JSON header, every input's in order.
struct BatchPart {
  const InferRequest* head = nullptr;
  std::string_view tensors;
  int64_t rows = 0;  // its batch dimension, the same for every input
};

// The form a request must share with the others of a batch, and its rows; nullopt when it
// cannot join one: a model without a batch dimension, tensors not all raw, BYTES, a request
// parameter other than binary_data_output, input or output parameters the head keeps.
// tensors_size: the bytes after the JSON header (body size less the header length).
struct BatchForm {
  std::string key;  // equal keys: mergeable
  int64_t rows = 0;
};
std::optional<BatchForm> batch_form(const InferRequest& head, size_t tensors_size, const ModelSignature& sig);

// The merged request: the first part's form with every input's batch dimension summed, and the
// parts' tensor bytes one after another, input by input. Binary extension; no id. The parts must
// share one batch_form key (checked: a mismatch is kInvalidArgument, not a wrong body).
Result<Encoded> merge_requests(std::span<const BatchPart> parts);

// The answer to a merged request cut into one answer per part, in order: each output's rows
// [first, first + rows) of the part, with the answer's parameters and binary flags. Fails
// (kInvalidArgument) when an output's batch dimension is not the parts' total or its data is not
// whole rows of a fixed-width type: the target answered something else than what was asked.
Result<std::vector<InferResponse>> split_response(const InferResponse& whole, std::span<const int64_t> rows);

}  // namespace hir::protocol
