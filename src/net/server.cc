// The HTTP/1.1 server. One coroutine per connection, on the io_context the connection was given
// (event_loop.h: each context has one thread), so the loop may run on several threads without
// locks or strands around a connection's state. Errors are values (as_tuple); nothing throws
// out of a coroutine.
#include "net/server.h"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

#include "net/content_coding.h"
#include "net/coro.h"
#include "net/parsers.h"
#include "net/timed_socket.h"
#include "net/wire.h"

namespace hir::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;
using namespace coro;  // NOLINT: the connection types of this module

// STACK.md: Beast's default buffer reads 512 bytes at a time, so a ~700-byte request took two
// recv calls. 8 KiB holds a typical inference request; large bodies get a bigger one for a while.
constexpr size_t kReadBuffer = 8 << 10;
constexpr size_t kBodyReadBuffer = 64 << 10;
// After a response with Connection: close the peer may still be sending (an unread body, a
// pipelined request). Closing with unread bytes makes the kernel send RST, which can destroy
// the response before the client reads it, so read and discard for a short while first.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;

struct Session;

// Whether a handler's answer may still reach a session. A handler may answer from its own thread
// at any time, after ~HttpServer too; a session it reaches then could be kept alive by that
// thread past the event loop, and be destroyed there against a reactor that is gone (a
// use-after-free found under load in HttpServer tests with late answers). ~HttpServer closes
// the gate and waits out the answers passing through it; none passes after.
struct Gate {
  std::atomic<bool> closed{false};
  std::atomic<int> passing{0};
  // seq_cst on both sides: a complete() that saw the gate open is counted before close() reads
  // the count, or saw it closed.
  bool enter() {
    passing.fetch_add(1);
    if (!closed.load()) return true;
    passing.fetch_sub(1);
    return false;
  }
  void leave() { passing.fetch_sub(1); }
  // Never from inside a handler or an answer (an answer on the session's thread resumes the
  // session, which may call the next handler, all while passing): it would wait for itself. The
  // servers are destroyed after their loops return.
  void close() {
    closed.store(true);
    while (passing.load() != 0) std::this_thread::yield();
  }
};

// The server's shared state. HttpServer::Impl is private, so the sessions name this base.
struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(EventLoop& loop, ServerOptions o, Handler h)
      : loop(loop),
        io(*static_cast<asio::io_context*>(loop.native())),
        opts(std::move(o)),
        handler(std::move(h)),
        accept_ex(io.get_executor()),
        acceptor(accept_ex),
        grace_timer(accept_ex) {}

  bool add(const std::shared_ptr<Session>& s);
  void remove(Session* s);
  std::vector<std::shared_ptr<Session>> live_sessions();
  void fire_drained_locked(std::unique_lock<std::mutex>& lk);

  EventLoop& loop;
  asio::io_context& io;
  const ServerOptions opts;
  const Handler handler;
  Executor accept_ex;  // the loop's first context
  Acceptor acceptor;   // on accept_ex
  Timer grace_timer;   // on accept_ex
  std::atomic<uint16_t> port{0};
  std::atomic<size_t> conns{0};
  std::atomic<size_t> in_flight{0};
  std::atomic<bool> draining_flag{false};  // read by sessions without the lock
  std::atomic<bool> closed{false};         // the HttpServer is gone: call no handler
  const std::shared_ptr<Gate> gate = std::make_shared<Gate>();

  std::mutex mu;  // guards the fields below
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool draining = false;
  bool drained = false;
  std::vector<std::function<void()>> on_drained;
};

struct Session : std::enable_shared_from_this<Session> {
  // kHead: part of a request's head has come (no request yet); kReading: its body is coming.
  enum class State { kIdle, kHead, kReading, kBusy };

  Session(std::shared_ptr<ServerState> srv, Executor e, Socket sock)
      : server(std::move(srv)), ex(e), stream(std::move(sock)) {
    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() { server->remove(this); }

  // From any thread: hands the handler's response to the coroutine, resuming it if it waits.
  void deliver(HttpResponse&& r) {
    // On the session's own thread (an upstream answer on a connection of the same context, the
    // usual case) it is handed over in place: a trip through the scheduler cost ~5k
    // instructions per request (docs/perf/proxy.md).
    if (ex.running_in_this_thread()) return accept(std::move(r));
    asio::post(ex, [self = shared_from_this(), r = std::move(r)]() mutable { self->accept(std::move(r)); });
  }
  void accept(HttpResponse&& r) {
    if (aborted) return;
    response = std::move(r);
    wake();
  }
  // On the session's thread. A connection between requests has nothing to lose by closing now,
  // nor one whose request has not even its head yet: a client that stopped mid-header would
  // otherwise hold a drain for its whole grace with nothing in flight.
  void close_if_idle() {
    if (state == State::kIdle || state == State::kHead) close();
  }
  // On the session's thread. Ends the exchange in progress too (grace ran out, or the server is gone).
  void abort() {
    aborted = true;
    close();
    wake();
  }
  void close() {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
  }

  std::shared_ptr<ServerState> server;
  Executor ex;  // the session's context; everything below is touched only on its thread
  TimedSocket stream;
  // The coroutine, parked until the handler's response comes (async_wait_response). Resumed
  // in place, on this thread: a timer cancelled for the purpose cost a timer-queue update and a
  // second trip through the scheduler per request.
  struct Parked {
    virtual ~Parked() = default;
    virtual void resume() = 0;
  };
  template <typename Handler>
  struct ParkedAs final : Parked {
    explicit ParkedAs(Handler&& h) : handler(std::move(h)) {}
    void resume() override { std::move(handler)(); }
    Handler handler;
  };
  std::unique_ptr<Parked> parked;
  void wake() {
    if (auto p = std::move(parked)) p->resume();  // `parked` is empty before the coroutine runs
  }
  std::string remote;
  // Touched only on the session's thread:
  State state = State::kIdle;
  bool aborted = false;
  std::optional<HttpResponse> response;
};

bool ServerState::add(const std::shared_ptr<Session>& s) {
  std::lock_guard lk(mu);
  if (draining) return false;
  sessions.emplace(s.get(), s);
  return true;
}

void ServerState::remove(Session* s) {
  std::unique_lock lk(mu);
  if (sessions.erase(s) == 0) return;
  conns.fetch_sub(1);
  if (draining && sessions.empty()) fire_drained_locked(lk);
}

std::vector<std::shared_ptr<Session>> ServerState::live_sessions() {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard lk(mu);
  for (auto& [p, w] : sessions)
    if (auto s = w.lock()) out.push_back(std::move(s));
  return out;
}

void ServerState::fire_drained_locked(std::unique_lock<std::mutex>& lk) {
  if (drained) return;
  drained = true;
  auto fns = std::move(on_drained);
  on_drained.clear();
  lk.unlock();
  if (closed) return;  // the loop may be tearing down; the owner no longer waits
  asio::post(accept_ex, [self = shared_from_this()] { self->grace_timer.cancel(); });
  for (auto& fn : fns)
    if (fn) asio::post(io, std::move(fn));
}

namespace {

// The handler's side of one request. Every copy of the Responder shares one Pending, so the
// first call wins; when the last copy dies unanswered, the guard answers 500 so the connection
// does not hang.
struct Pending {
  std::weak_ptr<Session> session;
  std::shared_ptr<Gate> gate;
  std::atomic<bool> done{false};
  void complete(HttpResponse&& r) {
    if (done.exchange(true, std::memory_order_acq_rel)) return;
    if (!gate->enter()) return;  // the server is gone: nobody to answer
    if (auto s = session.lock()) s->deliver(std::move(r));  // the reference ends before leave()
    gate->leave();
  }
};

struct ResponderGuard {
  explicit ResponderGuard(std::shared_ptr<Pending> pending) : p(std::move(pending)) {}
  ResponderGuard(const ResponderGuard&) = delete;  // a copy's destructor would answer 500
  ResponderGuard& operator=(const ResponderGuard&) = delete;
  std::shared_ptr<Pending> p;
  ~ResponderGuard() {
    if (!p->done.load(std::memory_order_acquire))
      p->complete(error_response(500, "the handler dropped the request without answering"));
  }
};

struct InFlight {
  std::atomic<size_t>& n;
  explicit InFlight(std::atomic<size_t>& c) : n(c) { n.fetch_add(1); }
  ~InFlight() { n.fetch_sub(1); }
};

bool is_parse_error(const error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::short_read;
}

// The status to answer a failed read with, or 0 to close silently (timeout, reset, EOF).
int status_for_read_error(const error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (is_parse_error(ec)) return 400;
  return 0;
}

// What was wrong, so that a client can fix its request, and never a byte of what it sent: the
// limits are this server's own, and a 400's ec is Beast's (is_parse_error), whose messages are
// fixed strings ("bad method", "bad Content-Length").
std::string message_for(int status, const error_code& ec, const ServerOptions& opt) {
  switch (status) {
    case 431: return "request header too large: the limit is " + std::to_string(opt.max_header_bytes) + " bytes";
    case 413: return "request body too large: the limit is " + std::to_string(opt.max_body_bytes) + " bytes";
    case 501: return "transfer coding not implemented: only chunked is read";
    default: return "malformed HTTP request: " + ec.message();
  }
}

// Parks the session coroutine until deliver() or abort() resumes it (Session::wake).
auto async_wait_response(Session& s) {
  return asio::async_initiate<const asio::use_awaitable_t<Executor>&, void()>(
      [&s](auto handler) {
        s.parked = std::make_unique<Session::ParkedAs<decltype(handler)>>(std::move(handler));
      },
      asio::use_awaitable_t<Executor>{});
}

Awaitable<bool> write_response(Session& s, const HttpResponse& res, int version,
                                     bool keep_alive, bool send_body) {
  std::string head;
  wire::append_response_head(head, res, version, keep_alive, s.server->opts.server_name);
  const TwoBuffers bufs{asio::buffer(head), asio::buffer(res.body.data(), send_body ? res.body.size() : 0)};
  error_code ec;
  const size_t now = write_now(s.stream.socket(), bufs, ec);
  if (ec) co_return false;
  if (now == asio::buffer_size(bufs)) co_return true;
  s.stream.expires_after(s.server->opts.write_timeout);
  auto [wec, n] = co_await asio::async_write(s.stream.socket(), after(bufs, now), kTuple);
  co_return !wec;
}

// Half-close, then drain what the peer still sends until it closes or limits run out.
Awaitable<void> linger_close(Session& s) {
  error_code ec;
  s.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  std::array<char, 4096> sink;
  size_t total = 0;
  s.stream.expires_after(kLingerTime);
  while (total < kLingerBytes && !s.aborted) {
    auto [rec, n] = co_await s.stream.socket().async_read_some(asio::buffer(sink), kTuple);
    if (rec) break;
    total += n;
  }
}

struct ReadResult {
  error_code ec;         // set: answer it (status_for_read_error, or `status`) and close
  int status = 0;        // the answer to a failed read when not status_for_read_error's
  bool abandon = false;  // the connection failed while answering 100-continue: just close
  int version = 11;
  bool keep_alive = false;
};

// What every request's head must say, whichever reader took it (RFC 9112 §3.2): an HTTP/1.1
// request names exactly one Host (else 400, which a server MUST answer). A target in absolute
// form (http://host/path), which a server MUST accept, becomes its path: routing reads paths.
error_code check_head(HttpRequest& req, int version) {
  if (version >= 11) {
    size_t hosts = 0;
    for (const auto [k, v] : req.headers) hosts += wire::iequals(k, "host");
    if (hosts != 1) return http::error::bad_field;
  }
  const std::string_view t = req.target;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (t.size() >= scheme.size() && wire::iequals(t.substr(0, scheme.size()), scheme)) {
      const size_t path = t.find('/', scheme.size());
      req.target = path == std::string_view::npos ? std::string("/") : std::string(t.substr(path));
      break;
    }
  }
  return {};
}

// Reads one request's header and body into req. A coroutine of its own, so the parser lives only
// while a request is being read, not in the frame every waiting session keeps.
Awaitable<ReadResult> read_request(Session& s, beast::flat_buffer& buf, HttpRequest& req) {
  const ServerOptions& opt = s.server->opts;
  ReadResult out;
  // Empty lines before a request line are ignored (RFC 9112 §2.2: a client may send one after a
  // POST body).
  while (buf.size() >= 2 && static_cast<const char*>(buf.data().data())[0] == '\r' &&
         static_cast<const char*>(buf.data().data())[1] == '\n')
    buf.consume(2);
  wire::Head head;
  const wire::HeadLimits limits{opt.max_header_bytes, opt.max_body_bytes};
  if (wire::read_request_head(std::string_view(static_cast<const char*>(buf.data().data()), buf.size()), limits,
                              req, head)) {
    // The common form, wholly buffered (net/fast_head.h): no Beast parser.
    buf.consume(head.bytes);
    out.version = head.version;
    if ((out.ec = check_head(req, head.version))) co_return out;
    s.state = Session::State::kReading;
    if (head.content_length > 0) {
      s.stream.expires_after(opt.body_timeout);
      out.ec = co_await wire::read_body(s.stream, buf, req.body, static_cast<size_t>(head.content_length));
    }
    out.version = head.version;
    out.keep_alive = !out.ec && head.keep_alive;
    co_return out;
  }
  wire::RequestParser parser(req);
  parser.limit_head(static_cast<std::uint32_t>(std::min<size_t>(opt.max_header_bytes, UINT32_MAX)));
  parser.body_limit(opt.max_body_bytes);
  s.stream.expires_after(opt.header_timeout);
  out.ec = co_await wire::parse_until(s.stream, buf, parser, kReadBuffer, opt.max_header_bytes,
                                      [&parser] { return parser.is_header_done(); });
  // RFC 9112 §6.1, §6.3: a request whose transfer coding does not end in chunked has no length
  // this server could frame it by (Beast reads it as having no body, so the body would be read as
  // the next request), and one from HTTP/1.0 with any transfer coding is faulty framing. Both are
  // refused, and the connection closed. Chunked after another coding (gzip, chunked) is framed,
  // but in a coding this server does not decode: 501, as §6.1 asks, rather than a body read as if
  // it were plain.
  if (auto te = req.headers.get("Transfer-Encoding"); !out.ec && te) {
    const bool framed = parser.version() >= 11 && parser.chunked();
    if (!framed || !wire::iequals(*te, "chunked")) out.ec = http::error::bad_transfer_encoding;
    if (framed && !wire::iequals(*te, "chunked")) out.status = 501;
  }
  if (!out.ec) out.ec = check_head(req, parser.version());
  if (!out.ec) s.state = Session::State::kReading;  // a request now: a drain waits for its body
  if (!out.ec && !parser.is_done()) {
    if (parser.expect_continue() && parser.version() == 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      s.stream.expires_after(opt.write_timeout);
      auto [cec, cn] = co_await asio::async_write(s.stream.socket(), asio::buffer(kContinue), kTuple);
      if (cec) {
        out.abandon = true;
        co_return out;
      }
    }
    const bool large = parser.content_length().value_or(0) > kReadBuffer;
    if (large) buf.reserve(kBodyReadBuffer);
    parser.eager(true);  // the body as far as the buffer goes, not one piece per put()
    s.stream.expires_after(opt.body_timeout);
    out.ec = co_await wire::parse_until(s.stream, buf, parser, large ? kBodyReadBuffer : kReadBuffer, opt.max_header_bytes,
                                        [&parser] { return parser.is_done(); });
  }
  out.version = parser.version();
  out.keep_alive = !out.ec && parser.keep_alive();
  co_return out;
}

Awaitable<void> run_session(std::shared_ptr<Session> sp) {
  Session& s = *sp;
  const ServerOptions& opt = s.server->opts;
  // Empty until the first read: memory is taken when bytes come and given back while the
  // handler works (see below), so a session waiting for its answer holds no read buffer.
  beast::flat_buffer buf;
  bool first = true;
  bool linger = false;
  for (;;) {
    s.state = Session::State::kIdle;
    if (s.server->draining_flag.load()) break;
    // Waiting for a request to start is the idle (keep-alive) wait; its header then gets its
    // own budget, so a slow sender cannot stretch one request over both.
    if (buf.size() == 0) {
      s.stream.expires_after(first ? opt.header_timeout : opt.idle_timeout);
      auto [ec, n] = co_await s.stream.socket().async_read_some(buf.prepare(kReadBuffer), kTuple);
      if (ec) break;
      buf.commit(n);
    }
    s.state = Session::State::kHead;
    HttpRequest req;
    ReadResult rr = co_await read_request(s, buf, req);
    if (rr.abandon) break;
    if (rr.ec) {
      int status = rr.status ? rr.status : status_for_read_error(rr.ec);
      if (status != 0 && co_await write_response(s, error_response(status, message_for(status, rr.ec, opt)),
                                                 rr.version == 10 ? 10 : 11, false, true))
        linger = true;
      break;
    }
    // The handler's time is its own (the router bounds it with the request's deadline): no
    // read or write timeout runs while it works.
    s.stream.expires_never();
    if (s.server->closed.load()) break;
    // A drain closes idle sessions from outside the coroutine. If that close raced with the
    // read that brought this request (its completion already queued), the request is here but
    // its connection is gone: no handler may run for it, or the service would account for an
    // answer nobody can receive.
    if (!s.stream.socket().is_open()) break;

    // A body sent compressed is decoded here, once, before any handler reads it; one that cannot
    // be is answered here (415, 413 or 400) and the connection goes on.
    std::optional<HttpResponse> refused;
    if (Status st = decode_request_body(req, opt.max_body_bytes); !st.ok())
      refused = error_response(st.code() == Code::kUnimplemented       ? 415
                               : st.code() == Code::kResourceExhausted ? 413
                                                                       : 400,
                               st.message());

    s.state = Session::State::kBusy;
    InFlight counted(s.server->in_flight);
    // Nothing pipelined behind this request (the usual case): free the read buffer while the
    // handler works. With 10,000 requests in flight that is 80 MB not held for nothing; the
    // next request takes a new one (one malloc of 8 KiB per request).
    if (buf.size() == 0) buf.shrink_to_fit();
    req.remote = s.remote;
    const bool head = req.method == "HEAD";
    const int version = rr.version;
    bool keep_alive = rr.keep_alive;
    {
      auto pending = std::make_shared<Pending>();
      pending->session = sp;
      pending->gate = s.server->gate;
      Responder responder = [g = std::make_shared<ResponderGuard>(pending)](
                                HttpResponse&& r) { g->p->complete(std::move(r)); };
      // The handler gets a copy: if it throws, unwinding drops its copy, and this one keeps
      // the guard from answering "dropped" before the catch can say what happened.
      try {
        if (refused) pending->complete(std::move(*refused));
        else s.server->handler(std::move(req), Responder(responder));
      } catch (const std::exception& e) {
        pending->complete(error_response(500, std::string("handler failed: ") + e.what()));
      } catch (...) {
        pending->complete(error_response(500, "handler failed"));
      }
    }
    while (!s.response && !s.aborted) co_await async_wait_response(s);
    if (s.aborted) break;
    HttpResponse res = std::move(*s.response);
    s.response.reset();
    keep_alive = keep_alive && !s.server->draining_flag.load();
    const bool send_body = !head && res.status != 204 && res.status != 304;
    if (!co_await write_response(s, res, version, keep_alive, send_body)) break;
    if (!keep_alive) {
      // Linger only when the peer has sent more (pipelined requests): otherwise a plain close
      // sends FIN after the response, and done() of a drain is not held up for nothing.
      error_code aec;
      linger = buf.size() > 0 || s.stream.socket().available(aec) > 0;
      break;
    }
    first = false;
    if (buf.capacity() > kReadBuffer && buf.size() <= kReadBuffer) buf.shrink_to_fit();
  }
  if (linger && !s.aborted) co_await linger_close(s);
  s.close();
}

Awaitable<void> accept_loop(std::shared_ptr<ServerState> self) {
  for (;;) {
    // Connections are spread over the loop's contexts in turn.
    const Executor ex = static_cast<asio::io_context*>(self->loop.native_next())->get_executor();
    Socket sock(ex);
    auto [ec] = co_await self->acceptor.async_accept(sock, kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) co_return;
      // Out of descriptors or buffers: pause instead of spinning; the backlog waits in the
      // kernel meanwhile.
      Timer pause(self->accept_ex, std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    error_code ignored;
    if (self->conns.load() >= self->opts.max_connections) {
      sock.close(ignored);  // over the cap: shed at once, before it costs a coroutine
      continue;
    }
    sock.set_option(tcp::no_delay(true), ignored);  // responses go out in one write anyway
    self->conns.fetch_add(1);
    auto s = std::make_shared<Session>(self, ex, std::move(sock));
    if (!self->add(s)) {
      // Draining: not registered, so remove() will not count it down.
      self->conns.fetch_sub(1);
      s->close();
      continue;
    }
    asio::co_spawn(ex, run_session(std::move(s)), asio::detached);
  }
}

}  // namespace

struct HttpServer::Impl : ServerState {
  using ServerState::ServerState;
};

HttpServer::HttpServer(EventLoop& loop, ServerOptions opts, Handler handler)
    : impl_(std::make_shared<Impl>(loop, std::move(opts), std::move(handler))) {}

HttpServer::~HttpServer() {
  impl_->gate->close();  // before anything else: no late answer takes a session from here on
  impl_->closed = true;
  impl_->draining_flag = true;
  {
    std::lock_guard lk(impl_->mu);
    impl_->draining = true;
    impl_->drained = true;  // nobody waits for done any more
    impl_->on_drained.clear();
  }
  auto self = impl_;
  asio::post(self->accept_ex, [self] {
    error_code ec;
    self->acceptor.close(ec);
    self->grace_timer.cancel();
  });
  for (auto& s : impl_->live_sessions()) asio::post(s->ex, [s] { s->abort(); });
}

Status HttpServer::listen() {
  Impl& im = *impl_;
  if (im.acceptor.is_open()) return Status(Code::kFailedPrecondition, "already listening");
  error_code ec;
  std::string host = im.opts.host.empty() || im.opts.host == "*" ? "0.0.0.0" : im.opts.host;
  tcp::endpoint ep;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, im.opts.port);
  } else {
    // A name (e.g. "localhost"): resolved once, at startup, so blocking here is harmless.
    tcp::resolver resolver(im.io);
    auto results = resolver.resolve(host, std::to_string(im.opts.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty())
      return InvalidArgument("cannot resolve listen host '" + host +
                             "': " + (ec ? ec.message() : std::string("no address")));
    ep = results.begin()->endpoint();
  }
  // The message is built before closing: close(ec) would overwrite the cause with "Success".
  auto fail = [&](std::string_view what) {
    Status s = Unavailable(std::string(what) + host + ":" + std::to_string(im.opts.port) + ": " +
                           ec.message());
    error_code ignored;
    im.acceptor.close(ignored);
    return s;
  };
  if (im.acceptor.open(ep.protocol(), ec); ec) return fail("open socket for ");
  im.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (im.acceptor.bind(ep, ec); ec) return fail("bind ");
  if (im.acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    return fail("listen on ");
  im.port = im.acceptor.local_endpoint(ec).port();
  asio::co_spawn(im.accept_ex, accept_loop(impl_), asio::detached);
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->port.load(); }

void HttpServer::shutdown(Duration grace, std::function<void()> done) {
  auto self = impl_;
  bool first_call = false;
  {
    std::unique_lock lk(self->mu);
    if (self->drained) {  // a second call after the drain finished: answer at once
      lk.unlock();
      if (done) asio::post(self->io, std::move(done));
      return;
    }
    self->on_drained.push_back(std::move(done));
    first_call = !self->draining;
    self->draining = true;
    self->draining_flag = true;
    if (self->sessions.empty()) {
      self->fire_drained_locked(lk);
      lk.lock();
    }
  }
  if (!first_call) return;
  asio::post(self->accept_ex, [self, grace] {
    error_code ec;
    self->acceptor.close(ec);
    {
      std::lock_guard lk(self->mu);
      if (self->drained) return;  // nothing was in flight; no need to hold a timer
    }
    self->grace_timer.expires_after(grace);
    self->grace_timer.async_wait([self](error_code ec) {
      if (ec) return;  // everyone finished in time
      for (auto& s : self->live_sessions()) asio::post(s->ex, [s] { s->abort(); });
    });
  });
  for (auto& s : self->live_sessions()) asio::post(s->ex, [s] { s->close_if_idle(); });
}

size_t HttpServer::connections() const { return impl_->conns.load(); }
size_t HttpServer::requests_in_flight() const { return impl_->in_flight.load(); }

}  // namespace hir::net
