#include "core/status.h"

namespace hir {

namespace {

// s cut after kQuoteMax bytes, not inside a UTF-8 sequence; `close` goes right after the text.
std::string cut(std::string_view s, std::string_view open, std::string_view close) {
  std::string out(open);
  if (s.size() <= kQuoteMax) {
    out += s;
    out += close;
    return out;
  }
  size_t n = kQuoteMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // back to a lead byte
  out.append(s.substr(0, n));
  out += "...";
  out += close;
  out += " (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace

std::string quote(std::string_view s) { return cut(s, "'", "'"); }
std::string clip(std::string_view s) { return cut(s, "", ""); }

std::string_view code_name(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kMethodNotAllowed: return "METHOD_NOT_ALLOWED";
    case Code::kPayloadTooLarge: return "PAYLOAD_TOO_LARGE";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kUnimplemented: return "UNIMPLEMENTED";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

int http_status(Code c) {
  switch (c) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kFailedPrecondition: return 400;
    case Code::kNotFound: return 404;
    case Code::kMethodNotAllowed: return 405;
    case Code::kPayloadTooLarge: return 413;
    case Code::kResourceExhausted: return 503;
    case Code::kUnavailable: return 503;
    case Code::kDeadlineExceeded: return 504;
    case Code::kUnimplemented: return 501;
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string s(code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace hir
