// Url parsing for the HTTP client: the pool keys on Url::authority().
#include <charconv>
#include <string>

#include "net/client.h"
#include "net/wire.h"

namespace hir::net {

namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

Result<Url> Url::parse(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("bad URL '" + std::string(s) + "': " + std::string(why));
  };
  Url u;
  size_t sep = s.find("://");
  if (sep == std::string_view::npos) return bad("expected scheme://host[:port][/path]");
  std::string_view scheme = s.substr(0, sep);
  if (wire::iequals(scheme, "http")) {
    u.scheme = "http";
  } else if (wire::iequals(scheme, "https")) {
    u.scheme = "https";
    u.port = 443;
  } else {
    return bad("scheme must be http or https");
  }
  std::string_view rest = s.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?# ") != std::string_view::npos) return bad("the base path takes no query");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("junk after ']'");
    if (!after.empty()) port = after.substr(1);
    if (u.host.empty() || u.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
      return bad("bad IPv6 address");
  } else {
    size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (u.host.empty()) return bad("no host");
    for (char c : u.host)
      if (!host_char(c)) return bad("bad character in host");
  }
  if (authority.find(':') != std::string_view::npos && port.empty() &&
      authority.back() == ':')
    return bad("empty port");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
      return bad("bad port");
    unsigned long p = std::stoul(std::string(port));
    if (p == 0 || p > 65535) return bad("port out of range");
    u.port = static_cast<uint16_t>(p);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.base_path = std::string(path);
  // Checked last, so that a malformed https URL is reported as malformed.
  if (u.scheme == "https") return Unimplemented("https targets are not supported yet");
  return u;
}

std::string Url::authority() const {
  const bool v6 = host.find(':') != std::string::npos;  // an IPv6 literal goes in brackets
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, port).ptr;
  std::string out;
  out.reserve(host.size() + 8);
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  out += ':';
  out.append(digits, static_cast<size_t>(end - digits));
  return out;
}

}  // namespace hir::net
