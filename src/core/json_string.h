// JSON string literals (RFC 8259 §7), the one implementation every JSON writer in hir uses: the
// v2 codec, HTTP error bodies and log lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hir {

// Appends s to out as a JSON string literal, quotes included. The quote, the backslash and the
// control characters U+0000..U+001F are escaped (\" \\ \b \f \n \r \t, else \u00XX in lower-case
// hex); everything else, DEL and well-formed multi-byte UTF-8 included, is copied as is. Each byte
// that does not begin a well-formed UTF-8 sequence (RFC 3629 §4: no overlong forms, surrogates or
// code points above U+10FFFF; a truncated sequence counts byte by byte) becomes the escape \ufffd,
// so the output is valid JSON (and valid UTF-8) whatever bytes s holds. Throws only std::bad_alloc.
void append_json_string(std::string& out, std::string_view s);

// The most bytes s takes as a JSON string literal when s.size() == n: the two quotes, and six
// for each byte (a control character's \u00XX, an ill-formed byte's \ufffd).
constexpr size_t json_string_bound(size_t n) { return 6 * n + 2; }

// append_json_string's literal, written at d, which has room for json_string_bound(s.size())
// bytes; returns the end of what was written. For writers that size their output once
// (core/text_writer.h).
char* write_json_string(char* d, std::string_view s);

// Length of the well-formed UTF-8 sequence that starts with the non-ASCII byte *p, or 0 when it
// is ill-formed: the table of RFC 3629 §4 (no overlong forms, no surrogates, nothing above
// U+10FFFF) and no sequence cut short by `end`.
size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end);

}  // namespace hir
