// A pooled keep-alive HTTP/1.1 client with deadlines and a cap on connections per host.
// Thread-safe; callbacks run on the loop (which may run on several threads).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

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
  // Open connections per host:port (idle, busy and connecting together); 0: no cap. HTTP/1.1
  // carries one request per connection, so without a cap 10,000 requests in flight opened
  // 10,000 upstream sockets: the router ran out of descriptors (two per request) and the
  // targets' accept backlogs (somaxconn, 4096 by default) overflowed into connect timeouts.
  // 512 is far above what one inference server runs at once (a request beyond its concurrency
  // only queues there) and keeps a router with a dozen targets within a few thousand sockets.
  size_t max_connections_per_host = 512;
  // Requests waiting (FIFO) for a connection when a host is at its cap. Beyond it, send fails
  // at once with kResourceExhausted rather than holding memory for a backlog that cannot
  // drain within any deadline: 8192 waiting at 512 connections is 16 round trips deep.
  size_t max_waiting_per_host = 8192;
  Duration connect_timeout = std::chrono::seconds(2);
  size_t max_response_bytes = 64u << 20;
};

// The kinds (Status::kind()) of send()'s failures that share kUnavailable but mean different
// things to whoever reads which target failed and how; other failures have none. Each is a
// phrase a router's client reads as it is (docs/operations.md), with no address in it.
inline constexpr std::string_view kFailureRefused = "connection refused";  // nothing listens there
// No answer to the connect within connect_timeout (a host down, a full accept queue).
inline constexpr std::string_view kFailureConnectTimedOut = "connect timed out";
// The body over max_response_bytes, or the head over the client's header limit.
inline constexpr std::string_view kFailureTooLarge = "answer too large";
// 101 Switching Protocols: hir never asks for an upgrade (RFC 9110 §15.2.2).
inline constexpr std::string_view kFailureUpgraded = "answered with a protocol hir does not read";
// A Transfer-Encoding other than a final chunked (RFC 9112 §6.3).
inline constexpr std::string_view kFailureUnreadCoding = "answered in a transfer coding hir does not read";

// Abandons a request sent with it — a hedge's loser, say: the connection carrying it is closed
// at once, so the target sees its client go away and the connection is never reused, and the
// request's callback runs with an error. A request still waiting for a connection is dropped
// when it would start. Thread-safe; cancelling twice, or after the answer, does nothing.
class Cancellation {
 public:
  void cancel();
  bool cancelled() const;
  // For HttpClient: `hook` closes the exchange's connection; false (and not kept) when already
  // cancelled. disarm() drops it once the exchange is over.
  bool arm(std::function<void()> hook);
  void disarm();

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::function<void()> hook_;
};

// What a request's answer (or failure) is handed to. By reference to an rvalue: the response
// passes through the client's layers to the caller's callback without a move at each one.
using ResponseCallback = std::function<void(Result<HttpResponse>&&)>;

class HttpClient {
 public:
  HttpClient(EventLoop& loop, ClientOptions opts = {});
  ~HttpClient();

  // Sends req (its target is appended to url.base_path; Host and Content-Length are set) and
  // calls done exactly once: with the response (any status), or with kUnavailable (connect
  // refused, reset, bad response; some with a kind, above) or kDeadlineExceeded when `timeout`
  // passes first. A stale pooled connection that fails before any response byte is retried once
  // on a fresh one.
  // When the host is at max_connections_per_host the request waits, first in first out, for
  // the next connection an earlier request gives back; its `timeout` runs while it waits
  // (kDeadlineExceeded, and it leaves the queue). When max_waiting_per_host are already
  // waiting, done gets kResourceExhausted without waiting.
  // With `cancel`, Cancellation::cancel() abandons it (above).
  void send(const Url& url, HttpRequest req, Duration timeout,
            ResponseCallback done,
            std::shared_ptr<Cancellation> cancel = nullptr);
  // As send, for a request whose head the caller wrote whole (the request line with url's base path in
  // its target and `host` as its Host): not a HEAD request, and kept alive. host is
  // url.authority(), which the caller keeps (it is also the pool's key).
  void send_prepared(const Url& url, std::string_view host, std::string head, std::string body, Duration timeout,
                     ResponseCallback done,
                     std::shared_ptr<Cancellation> cancel = nullptr);

 private:
  // `head`: a prepared head, or "" for one written from req when it goes out; `key`:
  // url.authority(), made here when "".
  void send(const Url& url, HttpRequest req, Duration timeout, ResponseCallback done,
            std::shared_ptr<Cancellation> cancel, std::string head, std::string_view key);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace hir::net
