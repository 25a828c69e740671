// RFC 3986 §2.1 percent-decoding, for URL path segments and user info.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hir {

// nullopt for a broken escape, a decoded NUL, or (with segment) a decoded '/': a path segment
// that decodes to a slash would name something no path can reach.
std::optional<std::string> percent_decode(std::string_view s, bool segment = true);

}  // namespace hir
