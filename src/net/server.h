// HTTP/1.1 server: one coroutine per connection, keep-alive, per-operation timeouts, body and
// header limits, a cap on connections, and a graceful drain.
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

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                          // 0: pick a free port (see HttpServer::port())
  size_t max_body_bytes = 64u << 20;          // 413 above it (Triton's default input limit)
  size_t max_header_bytes = 16u << 10;        // 431 above it
  size_t max_connections = 20000;             // further connections are closed at accept
  Duration header_timeout = std::chrono::seconds(30);  // to read a request's header
  Duration body_timeout = std::chrono::seconds(60);    // to read its body
  Duration idle_timeout = std::chrono::seconds(60);    // keep-alive wait for the next request
  Duration write_timeout = std::chrono::seconds(30);
  std::string server_name = "hir";
};

class HttpServer {
 public:
  HttpServer(EventLoop& loop, ServerOptions opts, Handler handler);
  ~HttpServer();

  // Binds and starts accepting on the loop. Errors: address in use, bad host.
  Status listen();
  uint16_t port() const;  // the bound port, after listen()

  // Graceful shutdown: stop accepting, close idle keep-alive connections, let requests in
  // flight finish (up to `grace`), then close the rest and call done (on the loop).
  void shutdown(Duration grace, std::function<void()> done);

  size_t connections() const;
  size_t requests_in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace hir::net
