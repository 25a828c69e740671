// Internal to src/net: a reader for the message heads that nearly every exchange carries — the
// whole head already buffered, Content-Length framing, plain header lines — and nothing else.
// Beast's parser looks every header name up in its table of known fields and walks each byte
// through a state machine; on a proxied request its two parsers cost ~10k instructions, a sixth
// of the router's work (docs/perf/proxy.md). This reader takes the common form in one pass and
// returns false for anything outside it, storing nothing, so that the caller gives the same
// bytes to Beast, which accepts them or names the error exactly as before.
//
// What it leaves to Beast: a head not yet wholly buffered, or longer than half the header
// limit; any byte outside the plain ASCII set in the start line or a field (obs-text, bare CR or
// LF, folded lines); versions other than HTTP/1.0 and 1.1; Transfer-Encoding, Expect, Upgrade,
// Proxy-Connection, a Connection value other than one `close` or `keep-alive` token, and a
// Content-Length other than one decimal number within the body limit; more than kMaxFields
// fields. Responses also: a status other than 2xx–5xx, 204 and 304, or one without
// Content-Length. Whatever it takes, Beast takes the same way (tests/unit/net/fast_head_test.cc
// compares the two on generated and damaged heads). Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/http.h"

namespace hir::net::wire {

struct HeadLimits {
  size_t header_limit = 0;  // as Beast's header_limit
  uint64_t body_limit = 0;  // as Beast's body_limit
};

// What the reader found besides what it stored in the message.
struct Head {
  size_t bytes = 0;  // the head's length, the blank line included
  int version = 11;  // 10 or 11
  uint64_t content_length = 0;  // 0 when the request has none
  bool keep_alive = true;       // as Beast's keep_alive()
};

inline constexpr size_t kMaxFields = 64;

// True when `in` starts with a whole head of the common form; then method, target and headers
// (names and values as Beast hands them over) are stored in out and h is filled. False: nothing
// is stored.
bool read_request_head(std::string_view in, const HeadLimits& limits, HttpRequest& out, Head& h);
// The same for an answer; status and headers are stored.
bool read_response_head(std::string_view in, const HeadLimits& limits, HttpResponse& out, Head& h);

}  // namespace hir::net::wire
