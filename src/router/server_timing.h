// hir-worker's Server-Timing response header (docs/worker.md): `queue;dur=<ms>, infer;dur=<ms>`,
// how long the request waited for an inference thread and how long the model ran. The router
// takes `infer` as the target's service time and subtracts both from the call's latency to learn
// the network's share (the routing core's RTT estimate).
#pragma once

#include <optional>
#include <string_view>

#include "core/time.h"

namespace hir::router {

struct ServerTiming {
  Duration queue{};  // 0 when the header has no `queue` metric
  Duration infer{};
};

// Parses the header as the W3C Server Timing grammar allows: metrics separated by commas, each a
// name with `;param=value` parameters, optional whitespace, names case-insensitive, durations in
// milliseconds. Other metrics and parameters are ignored. nullopt — the header is then ignored
// — when there is no `infer` metric with a duration, or a duration of queue or infer is not a
// finite number within [0, an hour], or the text is malformed.
std::optional<ServerTiming> parse_server_timing(std::string_view header);
// The same by the general grammar alone, without the shortcut for hir-worker's exact form (for
// tests that compare the two).
std::optional<ServerTiming> parse_server_timing_grammar(std::string_view header);

// A whole string as std::from_chars reads a double (no sign but '-', no whitespace, exponents
// allowed), with the same result; false when it is not one.
bool read_number(std::string_view v, double& out);

}  // namespace hir::router
