// The pure half of the mcu backend: v2 tensors to the device's pixels, RESULT frames to a v2
// response, STATUS frames to the routing core's LoadReport. No I/O; unit-tested on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"
#include "hirfw/messages.h"
#include "routing/target_state.h"

namespace hir::backends {

// The output name the served models use (models/fmnist-tiny/config.yaml), so a response looks
// the same whichever target answered.
inline constexpr const char* kMcuOutputName = "probabilities";

// Checks the request's single input against a device model taking `input_size` u8 pixels, and
// writes the pixels into out[0..input_size). Accepted:
//   shape [input_size] or [1, input_size] (one image per request: a device runs one at a time),
//   datatype UINT8 (raw pixels, sent as they are) or FP32 (pixel/255, as the v2 models take it;
//   sent as clamp(round(x * 255), 0, 255), which recovers 8-bit pixels exactly).
// Anything else, a non-finite float, or data of the wrong byte size is kInvalidArgument with a
// message saying what the device takes. Never reads outside the tensor's data.
Status pixels_from_request(const InferRequest& req, size_t input_size, uint8_t* out);

// A decoded RESULT checked against what the device said in INFO: n_logits equals
// output_size and top_class is the argmax of the logits (lowest index on a tie, as the device
// computes it). A frame that passed its CRC but fails this is not trusted: it is not an answer.
Status check_result(const hirfw_result_msg& r, size_t output_size);

// Softmax over the dequantized logits (hirfw_softmax_dequant), as floats; probs has n_logits.
void result_probabilities(const hirfw_result_msg& r, float* probs);

// The v2 response: one FP32 [1, n] tensor named output_name holding the probabilities.
InferResponse make_response(const std::string& request_id, const std::string& model_name,
                            const hirfw_result_msg& r, const std::string& output_name);

// A device's STATUS as the routing core's load report: one request at a time, no queue.
// busy_fraction is the router's own accounting (the device reports no such figure).
routing::LoadReport load_report_from_status(const hirfw_status_msg& s, double busy_fraction);

// How the routing core should count a failed call (Router::on_result).
routing::Outcome outcome_of(const Status& s);

}  // namespace hir::backends
