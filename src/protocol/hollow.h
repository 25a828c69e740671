// A JSON request header with its tensors' values left out, for a router that reads only the head
// (parse_infer_request_head) of a body it forwards as it came. An image of 784 floats sent as
// JSON is ~6.5 KB of numbers that the head reader never converts, yet simdjson tokenised and
// skipped them all (~40k instructions, docs/perf/proxy.md); and because the values differ from
// request to request, headers that are otherwise the same could never be recognised as such.
// Emptying every `data` array gives the head reader a short text that is the same for every
// request of a kind (header_memo.h), and the same head.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hir::protocol {

// Writes into `out` the JSON text `json` with the contents of every array that is the value of a
// member keyed `data` (written without escapes) removed: `"data":[1,2]` becomes `"data":[]`. The
// arrays are skipped by their brackets and strings, not parsed: what they hold is the target's to
// check, but nothing that simdjson would have refused before it read a value is let through —
// a control character (whitespace aside) or a non-ASCII byte in a data array makes the scan
// refuse. Returns false, with `out` unspecified, for those and for a text whose structure the
// scan cannot follow (an unterminated string, unbalanced brackets, an object inside a data array,
// nesting deeper than 64); the caller then reads `json` itself. Never reads out of bounds.
// contents, when given, receives what was removed from each emptied array, in order: views into
// `json`, between its brackets. commas, when given, receives for each emptied array, in the same
// order, the commas it holds when it is flat (no bracket or quote inside), else -1: a flat array
// of n values holds n - 1.
bool hollow_data_arrays(std::string_view json, std::string& out, std::vector<std::string_view>* contents = nullptr,
                        std::vector<int64_t>* commas = nullptr);

// Whether s is one JSON object or array followed by nothing but whitespace. Only the brackets
// and strings are followed, not the values: for a text a JSON reader has accepted up to the end of
// its root, this says whether bytes come after it (which On-Demand readers do not look for).
bool nothing_after_root(std::string_view s);

// The index of the next quote, bracket ([ { ] }) or unusual byte (a control character, tab, CR
// and LF included, or a non-ASCII byte) at or after i in s, or s.size() when there is none: the
// bytes a scan that skips JSON values by their brackets and strings must look at.
size_t next_json_special(std::string_view s, size_t i);

// The scans above take AVX2 where the CPU has it, SSE2 (or bytes) otherwise. For tests of the
// narrower path on a CPU with AVX2: false turns AVX2 off, true back on where there is one.
// Returns whether AVX2 is now used. Not for concurrent use with a scan.
bool set_wide_scan(bool on);

}  // namespace hir::protocol
