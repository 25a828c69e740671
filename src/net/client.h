// A pooled keep-alive HTTP/1.1 client with deadlines. Thread-safe; callbacks run on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "net/event_loop.h"
#include "net/http.h"

namespace hir::net {

// http://host:port/base. https is refused for now (Code::kUnimplemented) rather than sent in clear.
struct Url {
  std::string scheme = "http";
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // without a trailing slash; prepended to each request's target

  static Result<Url> parse(std::string_view s);
  std::string authority() const;  // host:port, the pool key
};

struct ClientOptions {
  size_t max_idle_per_host = 256;            // idle connections kept per host:port
  Duration connect_timeout = std::chrono::seconds(2);
  size_t max_response_bytes = 64u << 20;
};

class HttpClient {
 public:
  HttpClient(EventLoop& loop, ClientOptions opts = {});
  ~HttpClient();

  // Sends req (its target is appended to url.base_path; Host and Content-Length are set) and
  // calls done exactly once: with the response (any status), or with kUnavailable (connect
  // refused, reset, bad response) or kDeadlineExceeded when `timeout` passes first. A stale
  // pooled connection that fails before any response byte is retried once on a fresh one.
  void send(const Url& url, HttpRequest req, Duration timeout,
            std::function<void(Result<HttpResponse>)> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace hir::net
