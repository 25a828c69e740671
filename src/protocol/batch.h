// Several clients' inference requests sent to a target as one, and its answer split back.
//
// A target that runs a batch of rows costs far less per row than one that runs each request on
// its own (one parse, one model call, one answer; docs/batching.md). The router merges requests
// that wait for the same target and variant when they have the same form: the same inputs
// (names, fixed-width datatypes, dimensions after the batch dimension), the same requested
// outputs, and the same kind of body. Binary-extension bodies merge into one with their raw
// tensors one after another; JSON bodies into one JSON body with their `data` arrays' text one
// after another (the router never reads the numbers: the target does, as it would have). The
// merged call asks for each output raw, unless every request asked for it as JSON: then the
// target writes its numbers, as it would have for each request alone, and each answer gets its
// rows' text as the target wrote it (cut_rows) instead of numbers written again by the router.
// Each split answer takes the form (binary or JSON) its own request asked for. Pure functions:
// no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "protocol/splice.h"
#include "protocol/v2_codec.h"

namespace hir::protocol {

// One request of a batch: its head (parse_infer_request_head's: shapes, no data; or the full
// parse) and its tensors: for a binary-extension body, the raw bytes after its JSON header,
// every input's in order; for a JSON body, each input's `data` array text (json_data_texts).
struct BatchPart {
  const InferRequest* head = nullptr;
  std::string_view tensors;
  int64_t rows = 0;  // its batch dimension, the same for every input
  std::span<const std::string_view> json_data;  // a JSON body's, one per input; else empty
};

// The form a request must share with the others of a batch, and its rows; nullopt when it
// cannot join one: a model without a batch dimension, BYTES or empty tensors, a request
// parameter other than binary_data_output, input or output parameters the head keeps, inputs
// of different row counts, a BYTES output. raw_size: for a binary-extension body, the bytes
// after its JSON header, which must be exactly every input's (none sent as JSON); nullopt for a
// JSON body.
struct BatchForm {
  std::string key;  // equal keys: mergeable
  int64_t rows = 0;
};
std::optional<BatchForm> batch_form(const InferRequest& head, std::optional<size_t> raw_size,
                                    const ModelSignature& sig);

// A JSON body's `data` arrays, one per input in order, as the text between their brackets, for
// a BatchPart. Found by the scan that empties them for the head reader (hollow.h), not parsed:
// each must be flat, without strings, and hold as many values (by its commas) as its input's
// shape says. kInvalidArgument otherwise (the request then goes alone, and the target answers
// it as it would have). The views point into json_body.
Result<std::vector<std::string_view>> json_data_texts(std::string_view json_body, const InferRequest& head);
// The checks of json_data_texts on arrays already found: parse_infer_request_head's data_texts
// and data_commas (each array's commas as the scan that found it counted them, -1 when it is not
// flat), so that the texts are not scanned again.
Status check_data_texts(const std::vector<std::string_view>& texts, const InferRequest& head,
                        std::span<const int64_t> commas);

// The merged request: the first part's form with every input's batch dimension summed, and the
// parts' tensors one after another, input by input; each output asked for raw unless every part
// wants it as JSON and sig (the model's signature) says the answer's outputs are all of numeric
// types that the answer reader takes without its DOM (not BOOL, FP16 or BF16: such an answer
// would be read number by number and written again); no id. Binary
// extension (json_length set) for binary parts, a JSON body for JSON parts. The parts must share
// one batch_form key (checked: a mismatch is kInvalidArgument, not a wrong body).
Result<Encoded> merge_requests(std::span<const BatchPart> parts, const ModelSignature* sig = nullptr);

// The answer to a merged request cut into one answer per part, in order: each output's rows
// [first, first + rows) of the part, with the answer's parameters, each output raw or JSON as the
// part's own request asked. Fails (kInvalidArgument) when an output's batch dimension is not the
// parts' total or its data is not whole rows of a fixed-width type: the target answered
// something else than what was asked.
Result<std::vector<InferResponse>> split_response(const InferResponse& whole, std::span<const BatchPart> parts);

// split_response's checks alone, for answers taken one at a time with split_part or
// encode_split_answer.
Status check_split(const InferResponse& whole, std::span<const BatchPart> parts);
// split_response(whole, parts)[k]; whole and parts must have passed check_split.
InferResponse split_part(const InferResponse& whole, std::span<const BatchPart> parts, size_t k);
// A merged answer's JSON outputs as the target wrote them, cut at the rows: texts[o] is output
// o's data text (parse_infer_response's data_texts), and starts[o][r] the offset where row r's
// elements begin in it: 0 for row 0, one past the comma before it for the others, and for r =
// rows one past the end, as if a comma followed the last element; rows [a, b) are then
// texts[o].substr(starts[o][a], starts[o][b] - 1 - starts[o][a]). An empty starts[o]: output o
// is not cut (it came raw, or its text is not a flat array), and is written from its values.
struct RowCuts {
  std::vector<std::string_view> texts;
  std::vector<std::vector<size_t>> starts;
};
// The cuts of whole's outputs for `rows` rows in all, from their data texts as
// parse_infer_response hands them out for whole (one per output, empty for a raw one; an empty
// vector: none), every value in them read. Only the commas are looked at: an output is cut when
// its text holds no bracket or quote and as many commas as its shape has elements, less one;
// others are left uncut.
RowCuts cut_rows(const InferResponse& whole, std::span<const std::string_view> texts, int64_t rows);

// The answer of parts[k] written straight from the whole answer's rows: byte for byte what
// encode_infer_response(split_response(whole, parts)[k], edit.extra) writes once the split
// answer's id, model name and version are edit's, without copying the rows into an answer of
// their own first — except that, with cuts, an output written as JSON that cuts has cut holds
// the target's own text of its rows (the same values). edit.extra in key order. whole and parts
// must have passed check_split; cuts, when given, cut_rows's for whole and the parts' rows.
Encoded encode_split_answer(const InferResponse& whole, std::span<const BatchPart> parts, size_t k,
                            const HeaderEdit& edit, const RowCuts* cuts = nullptr);

}  // namespace hir::protocol
