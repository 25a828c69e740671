// The KServe v2 / Open Inference Protocol REST codec, with Triton's binary tensor extension
// (shared/protocol-v2.md §2-§3). Pure functions: no I/O, no globals the caller can see.
//
// Contracts:
// - Parsers never throw and never crash on any input; malformed input yields Code::kInvalidArgument
//   with a message naming the field (Triton answers most of these with 400).
// - Parsed tensors hold their data in wire form (core/tensor.h), checked against shape and type.
//   Transport-only parameters are consumed, not kept: inputs[i].parameters.binary_data_size,
//   outputs[i].parameters.binary_data (moved to RequestedOutput::binary_data) and the response's
//   outputs[i].parameters.binary_data_size. The request-wide binary_data_output stays in
//   InferRequest::parameters, where InferRequest::wants_binary reads it.
// - Encoders write compact JSON with fields in a fixed order (the order of the examples in
//   shared/protocol-v2.md §3, which they reproduce byte for byte). A tensor that JSON cannot carry
//   exactly is always sent raw: FP16/BF16 (Triton rejects them in JSON), FP32/FP64 holding NaN or
//   infinity, and BYTES elements that are not valid UTF-8.
// - Thread-safe: each thread reuses its own parser.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_string.h"
#include "core/status.h"
#include "core/tensor.h"

namespace hir::protocol {

// Body of an infer request or response after encoding. When json_length is set the body carries
// binary tensor data: send `Inference-Header-Content-Length: *json_length` and
// Content-Type application/octet-stream; otherwise it is plain JSON (application/json).
struct Encoded {
  std::string body;
  std::optional<size_t> json_length;
};

// header_length: the raw value of the Inference-Header-Content-Length header, nullopt if absent.
// Validates it like Triton (non-numeric, negative, beyond int32, > body size -> kInvalidArgument).
// A value of 0 (raw binary request) returns Code::kUnimplemented: the caller must look up the
// model and call parse_raw_binary_request. model_name/model_version are left empty (they come
// from the URL).
Result<InferRequest> parse_infer_request(std::string_view body,
                                         std::optional<std::string_view> header_length);
// What a router that forwards the body as it came needs of it: id, parameters, requested outputs
// and each input's name, datatype, shape and parameters, with raw inputs measured against their
// shape (BYTES excepted). Tensors carry no data, and JSON `data` arrays are neither read nor
// checked (the target does that). Refuses (kInvalidArgument, a message not meant for clients)
// anything the full parser could read differently or would reject, a raw binary request (header
// length 0) included: on refusal, call parse_infer_request, which accepts the body or names the
// error.
// data_texts, when given, receives the text of the `data` arrays the reader emptied (hollow.h),
// views into body in order, or nothing when it emptied none; a batching router merges JSON
// bodies from them (batch.h, check_data_texts) without scanning the body again. data_commas, when
// given with data_texts, receives each array's commas as hollow_data_arrays counts them.
Result<InferRequest> parse_infer_request_head(std::string_view body,
                                              std::optional<std::string_view> header_length,
                                              std::vector<std::string_view>* data_texts = nullptr,
                                              std::vector<int64_t>* data_commas = nullptr);
// parse_infer_request_head without the copy it returns: the head as the reader keeps it. A
// header read before is kept once for every request that shares it but for the id, so `head->id`
// is whichever request's came first; this body's id is `id` (a view into body or into *head).
// Both stay valid until this thread reads another head; a caller that keeps the request longer
// copies it (with `id`).
struct HeadView {
  const InferRequest* head = nullptr;
  std::string_view id;
  // The same non-zero serial on this thread, the same head: a caller may remember what it made of
  // it (a check against a signature) by it. 0: a head read and not kept, seen this once.
  uint64_t serial = 0;
};
Result<HeadView> view_infer_request_head(std::string_view body, std::optional<std::string_view> header_length,
                                         std::vector<std::string_view>* data_texts = nullptr,
                                         std::vector<int64_t>* data_commas = nullptr);
// Raw-binary request (header length 0): the body is the single input's bytes (shared/protocol-v2.md
// §3). Allowed for a model with one input and at most one variable dimension besides the batch
// dimension (a batching model gets batch 1); a BYTES input must have one element, and the body is
// that element's content. The request asks for every output raw (binary_data_output=true).
Result<InferRequest> parse_raw_binary_request(std::string_view body, const ModelSignature& sig);
// Whether the header marks a raw binary request: a value that reads as 0 as parse_infer_request
// reads it ("0", "00", " 0 "), so that router and worker agree on every spelling.
bool is_raw_binary(std::optional<std::string_view> header_length);
// Parses a response; resp.binary[i] records whether output i came raw. A body of the form
// {"error": "..."} yields kInvalidArgument carrying that message.
// data_texts, when given, receives for each output the text of its JSON `data` array between
// the brackets, as the target wrote it (a view into body; empty for a raw output), when the
// body was read the common way (its data arrays found by the scan of hollow.h); otherwise it is
// left empty. The values in resp are read from those texts, so every number in them was valid.
Result<InferResponse> parse_infer_response(std::string_view body,
                                           std::optional<std::string_view> header_length,
                                           std::vector<std::string_view>* data_texts = nullptr);

// For the router and the bench client. binary_inputs: send every input raw.
Encoded encode_infer_request(const InferRequest& req, bool binary_inputs);

// A parameter the router adds, by reference: making one copies nothing.
struct ParamRef {
  std::string_view key;
  ParamView value;
};

// Honours resp.binary[i] (missing entries mean JSON). `extra`, distinct keys in key order, is
// merged into resp.parameters, replacing entries of the same keys: the answer is what encoding a
// copy of resp with extra inserted into its parameters would give, without the copy.
Encoded encode_infer_response(const InferResponse& resp, std::span<const ParamRef> extra = {});

// A tensor, and an answer, by reference: for an answer that is not held as an InferResponse, such
// as one cut from a merged call's answer (batch.h), written without copying its rows out first.
// The encoders write requests' tensors through the same view.
struct TensorRef {
  std::string_view name;
  DataType datatype = DataType::kFp32;
  std::span<const int64_t> shape;
  int64_t rows = -1;  // when >= 0, written in place of shape[0]
  std::string_view data;
  const Parameters* parameters = nullptr;  // nullptr: none
  bool binary = false;                     // asked raw
  // When set and the tensor is written as JSON, its `data` array holds this text (elements as
  // the target wrote them, the values of `data`) instead of data written anew.
  std::optional<std::string_view> json_text;
};
struct ResponseRef {
  std::string_view id;  // empty: no `id` field
  std::string_view model_name;
  std::string_view model_version;  // empty: no model_version field
  const Parameters* parameters = nullptr;
  std::span<const ParamRef> extra;  // as encode_infer_response's
  std::span<const TensorRef> outputs;
};
// What encode_infer_response writes for the response these refer to, byte for byte.
Encoded encode_infer_response(const ResponseRef& resp);

// {"name","versions","platform","inputs","outputs"}; "max_batch_size" is added when > 0 (hir's own
// addition, ignored by other clients; a leading -1 alone cannot tell a batch dimension).
std::string encode_model_metadata(const ModelSignature& sig);
// Triton's model configuration (GET /v2/models/{m}/config) as far as the signature says it:
// name, platform, max_batch_size, input and output with data_type "TYPE_..." and dims without the
// batch dimension. tritonclient's get_model_config and perf_analyzer read it before sending.
std::string encode_model_config(const ModelSignature& sig);
Result<ModelSignature> parse_model_metadata(std::string_view body);
std::string encode_server_metadata(std::string_view name, std::string_view version,
                                   const std::vector<std::string>& extensions);

std::string error_body(std::string_view message);  // {"error":"..."} properly escaped
// Appends s quoted and escaped; invalid UTF-8 becomes \ufffd so the output is valid JSON. The one
// implementation is core/json_string.h's; the encoders and their callers name it from here too.
using hir::append_json_string;
// Appends {"k":v,...}. A double is written so that it reads back as a double ("5.0"); a NaN or
// infinity, which JSON lacks, as the string "NaN", "Infinity" or "-Infinity".
void append_parameters(std::string& out, const Parameters& p);

}  // namespace hir::protocol
