// Request bodies sent compressed, as Triton's clients do when asked to (tritonclient's
// request_compression_algorithm, perf_analyzer's --request-compression-algorithm):
// `Content-Encoding: gzip` or `deflate` over the whole body. The server decodes them before any
// handler sees the request, so the rest of the code reads plain bodies only.
#pragma once

#include <cstddef>

#include "core/status.h"
#include "net/http.h"

namespace hir::net {

// Decodes req.body in place when the request names a content coding, and marks it `identity`.
// Errors: kUnimplemented for a coding other than gzip, deflate or identity (answer 415);
// kInvalidArgument for a body that does not decode (400); kResourceExhausted when it would
// inflate past max_bytes (413): the limit on bodies holds for what they inflate to.
Status decode_request_body(HttpRequest& req, size_t max_bytes);

}  // namespace hir::net
