// Internal to src/net: how HttpRequest/HttpResponse heads are written on the wire. Kept free of
// Boost so that it costs nothing to include; the Beast parsers live in net/parsers.h.
#pragma once

#include <string>
#include <string_view>

#include "net/http.h"

namespace hir::net::wire {

// The RFC 9110 §15 reason phrase, or "Unknown".
std::string_view reason_phrase(int status);

// False for a header that would split the message (CR, LF or NUL) or has an empty or spaced name.
bool header_safe(std::string_view name, std::string_view value);
// False for a value with CR, LF or NUL: header_safe's test of the value alone.
bool value_safe(std::string_view value);

// Appends the status line, the handler's headers and the framing headers (Content-Length,
// Connection, Server) and the blank line. version is 10 or 11, as the request's.
void append_response_head(std::string& out, const HttpResponse& res, int version,
                          bool keep_alive, std::string_view server_name);

// Appends the request line (target is the full path), Host, the caller's headers, Content-Length
// and the blank line.
void append_request_head(std::string& out, const HttpRequest& req, std::string_view target,
                         std::string_view host);

// ASCII case-insensitive equality (header names, tokens). Inline: most calls compare names of
// different lengths (a header lookup walks every header) and end at the size check.
bool iequals_same_size(const char* a, const char* b, size_t n);
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequals_same_size(a.data(), b.data(), a.size());
}

}  // namespace hir::net::wire
