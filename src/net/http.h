// Plain HTTP messages shared by the server, the client and every handler. No Asio here, so the
// router and worker compile without Beast; only src/net/*.cc includes it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace hir::net {

// Header names compare case-insensitively (RFC 9110 §5.1).
struct Headers {
  // Room made on the first insert: a v2 request or answer carries about this many, and growing
  // the vector one by one cost four allocations per message.
  static constexpr size_t kTypicalCount = 10;
  std::vector<std::pair<std::string, std::string>> items;

  std::optional<std::string_view> get(std::string_view name) const;
  void set(std::string name, std::string value);  // replaces an existing one
  void add(std::string name, std::string value);
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/v2/models/m/infer"
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs
};

struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;
};

// A JSON response {"error": message} with the given status (the v2 error shape).
HttpResponse error_response(int status, std::string_view message);
HttpResponse json_response(int status, std::string body);
// The path without the query string.
std::string_view path_of(std::string_view target);

// Completes one request. Call it exactly once, from any thread; later calls are ignored.
using Responder = std::function<void(HttpResponse)>;
// Handles one request. May respond before returning or later (from another thread).
using Handler = std::function<void(HttpRequest&&, Responder)>;

}  // namespace hir::net
