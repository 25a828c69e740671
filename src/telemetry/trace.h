// Request ids and W3C Trace Context (https://www.w3.org/TR/trace-context/ §3.2, the traceparent header).
//
// Ids come from a per-thread xoshiro256** generator seeded once per thread from std::random_device:
// fast (no lock, no syscall per id) and unpredictable enough for correlation ids. They are not secrets
// and must not be used as such.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hir::telemetry {

// 16 lowercase hex characters (64 random bits).
std::string new_request_id();
// Whether an id a client gave (a body's `id`, an x-request-id) may name the request in logs and
// travel on as an x-request-id header: 1 to 128 printable ASCII characters, no space. A longer
// one, echoed as a header, would make the answer's head too large for the router to read.
bool usable_request_id(std::string_view id);

struct TraceContext {
  std::string trace_id;   // 32 lowercase hex, not all zero
  std::string parent_id;  // 16 lowercase hex, not all zero
  uint8_t flags = 1;      // bit 0: sampled

  // Parses a traceparent value; nullopt when it is not valid, and the caller then starts a new trace,
  // as the spec asks. Version 00 must be exactly "00-<32 hex>-<16 hex>-<2 hex>"; hex is lowercase only;
  // version ff and all-zero ids are invalid. A higher version is parsed as the spec's "versioning of
  // traceparent" asks: the 00 fields first, then the end of the value or '-', and only the sampled flag.
  static std::optional<TraceContext> parse(std::string_view traceparent);
  // The traceparent value of a new trace: random trace id and parent id, sampled; written at once
  // (one allocation: this is per request where clients send no traceparent).
  static std::string new_header();
  // The context to send downstream: same trace id and flags, a new parent (span) id.
  TraceContext child() const;
  // "00-<trace_id>-<parent_id>-<flags as 2 lowercase hex>".
  std::string header() const;
};

}  // namespace hir::telemetry
