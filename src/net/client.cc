// The pooled HTTP/1.1 client. Each exchange is a coroutine on the io_context of the connection it
// uses (event_loop.h: one thread per context), so a connection is only ever touched by one thread
// at a time. The pool (per host: idle connections, the count of open ones and the queue of
// requests waiting for one) is a map behind a mutex, touched only to take, give back or wait for
// a connection. A request takes an idle connection of its own thread's context when there is one,
// so that the exchange and the answer's hand-over stay on that thread.
#include "net/client.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <list>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

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

constexpr size_t kReadBuffer = 8 << 10;  // see server.cc: one recv for a typical response
constexpr size_t kMaxHeaderBytes = 64 << 10;
// Names are re-resolved this often, so a moved endpoint is found without a restart.
constexpr auto kDnsTtl = std::chrono::seconds(30);

// ---- Pool ------------------------------------------------------------------------------------

namespace {

using Endpoints = std::vector<tcp::endpoint>;

struct Conn {
  explicit Conn(Executor e) : ex(e), stream(e) { buf.reserve(kReadBuffer); }
  Executor ex;
  TimedSocket stream;
  beast::flat_buffer buf;
};

// Calls the user's callback at most once, whatever path the coroutine takes.
struct Once {
  ResponseCallback fn;
  void operator()(Result<HttpResponse>&& r) {
    if (auto f = std::exchange(fn, nullptr)) f(std::move(r));
  }
};

// One request, from send() until its callback.
struct Host;

struct Job {
  Url url;
  std::string key;  // url.authority(): the pool's key and the name in errors, made once
  HttpRequest req;
  Duration timeout;
  TimePoint deadline;
  std::shared_ptr<Once> done;
  std::shared_ptr<Cancellation> cancel;  // may be null
  // Set by send_first (below) when the request went out before its coroutine started.
  std::string head;    // the request's head, once written
  size_t written = 0;  // bytes of head and body already on the connection the exchange gets
  bool checked = false;  // that connection was found quiet just now
  // Its entry in the pool, set by admit under the pool's lock. Entries are never erased (one per
  // host ever asked for), so the pointer stays good, and giving the connection back needs no
  // second lookup by key.
  Host* host = nullptr;
};

// A request waiting for a connection slot. Its timer (touched only on its context's thread, since
// it is cancelled from whichever thread gives a connection back) ends the wait at the request's
// deadline.
struct Waiter {
  Waiter(std::unique_ptr<Job> j, Executor e) : job(std::move(j)), ex(e), timer(e) {}
  std::unique_ptr<Job> job;
  Executor ex;
  Timer timer;
  // Guarded by ClientState::mu:
  bool queued = false;
  std::list<std::shared_ptr<Waiter>>::iterator pos;
};

struct Host {
  std::vector<std::unique_ptr<Conn>> idle;
  size_t open = 0;  // connections counted against the cap: idle, in use and being opened
  std::list<std::shared_ptr<Waiter>> waiting;  // FIFO; a list so a waiter leaves in O(1)
};

std::string ms_text(Duration d) { return std::to_string(static_cast<long long>(to_ms(d))) + " ms"; }

struct ClientState;
void spawn_exchange(const std::shared_ptr<ClientState>& st, std::unique_ptr<Job> job, std::unique_ptr<Conn> conn);
void send_first(Job& job, std::unique_ptr<Conn>& c);

struct ClientState : std::enable_shared_from_this<ClientState> {
  ClientState(EventLoop& l, ClientOptions o) : loop(l), opts(o) {}

  // The calling thread's context when it runs the loop, else the next one in turn.
  Executor here() { return static_cast<asio::io_context*>(loop.native_here())->get_executor(); }

  // Starts job now on an idle connection or a free slot, queues it behind the host's cap, or
  // refuses it when the queue is full.
  void admit(std::unique_ptr<Job> job) {
    const std::string& key = job->key;
    std::unique_lock lk(mu);
    Host& h = hosts[key];
    job->host = &h;
    if (!h.idle.empty()) {
      // The most recently used of this thread's context (the likeliest alive, and no hand-over
      // between threads), else the most recently used of any. Only the last few are looked at:
      // the search runs under the pool's lock.
      constexpr size_t kLookAt = 16;
      const Executor ex = here();
      size_t pick = h.idle.size() - 1;
      for (size_t i = h.idle.size(), seen = 0; i-- > 0 && seen < kLookAt; ++seen) {
        if (h.idle[i]->ex == ex) {
          pick = i;
          break;
        }
      }
      auto c = std::move(h.idle[pick]);
      h.idle.erase(h.idle.begin() + static_cast<std::ptrdiff_t>(pick));
      lk.unlock();
      if (c->ex.running_in_this_thread() && !job->cancel) send_first(*job, c);
      spawn_exchange(shared_from_this(), std::move(job), std::move(c));
      return;
    }
    if (opts.max_connections_per_host == 0 || h.open < opts.max_connections_per_host) {
      ++h.open;
      lk.unlock();
      spawn_exchange(shared_from_this(), std::move(job), nullptr);
      return;
    }
    if (h.waiting.size() >= opts.max_waiting_per_host) {
      lk.unlock();
      asio::post(here(), [done = job->done, key] {
        (*done)(ResourceExhausted("too many requests waiting for a connection to " + key));
      });
      return;
    }
    auto w = std::make_shared<Waiter>(std::move(job), here());
    w->pos = h.waiting.insert(h.waiting.end(), w);
    w->queued = true;
    // Armed under the lock, before anyone can pop the waiter and cancel the timer.
    w->timer.expires_at(w->job->deadline);
    w->timer.async_wait([wst = weak_from_this(), w](error_code ec) {
      if (ec) return;  // cancelled: it got a connection
      if (auto st = wst.lock()) st->expire(*w);
    });
  }

  // The deadline of a waiting request passed before a connection came free.
  void expire(Waiter& w) {
    {
      std::lock_guard lk(mu);
      if (!w.queued) return;  // handed a connection at the same moment
      w.job->host->waiting.erase(w.pos);
      w.queued = false;
    }
    (*w.job->done)(waited_too_long(*w.job));
  }

  static Status waited_too_long(const Job& job) {
    return DeadlineExceeded("no connection to " + job.key + " came free within " +
                            ms_text(job.timeout));
  }

  // An exchange is done with its slot: `c` is its connection when it may be reused, else null.
  // The next waiting request gets the connection (or, when it closed, the slot to open a new
  // one); without one, the connection goes back to the idle pool.
  void release(Host& h, std::unique_ptr<Conn> c) {
    std::shared_ptr<Waiter> w;
    // Waiters whose deadline passed while their timer's handler is still on its way: a good
    // connection is not spent (and closed by the timeout) on a request that cannot use it.
    std::vector<std::shared_ptr<Waiter>> expired;
    {
      std::lock_guard lk(mu);
      const TimePoint now = SteadyClock::now();
      while (!closed && !h.waiting.empty()) {
        auto front = std::move(h.waiting.front());
        h.waiting.pop_front();
        front->queued = false;
        if (front->job->deadline > now) {
          w = std::move(front);
          break;
        }
        expired.push_back(std::move(front));
      }
      if (!w) {
        if (c && !closed && h.idle.size() < opts.max_idle_per_host) {
          h.idle.push_back(std::move(c));
        } else {
          --h.open;  // c, if any, closes on the way out
        }
      }
    }
    for (auto& e : expired) {
      asio::post(e->ex, [e] {
        e->timer.cancel();
        (*e->job->done)(waited_too_long(*e->job));
      });
    }
    if (!w) return;
    asio::post(w->ex, [w] { w->timer.cancel(); });
    spawn_exchange(shared_from_this(), std::move(w->job), std::move(c));
  }

  std::optional<Endpoints> cached(const std::string& key) {
    std::lock_guard lk(mu);
    auto it = dns.find(key);
    if (it == dns.end() || it->second.second < SteadyClock::now()) return std::nullopt;
    return it->second.first;
  }
  void cache(const std::string& key, std::optional<Endpoints> r) {
    std::lock_guard lk(mu);
    if (r) {
      dns[key] = {*r, SteadyClock::now() + kDnsTtl};
    } else {
      dns.erase(key);
    }
  }

  EventLoop& loop;
  const ClientOptions opts;
  std::mutex mu;  // guards the fields below
  std::unordered_map<std::string, Host> hosts;
  std::unordered_map<std::string, std::pair<Endpoints, TimePoint>> dns;
  bool closed = false;
};

// One slot of a host's cap, held by an exchange from start to end. Given back exactly once,
// also when the coroutine is torn down without finishing.
class Lease {
 public:
  Lease(std::shared_ptr<ClientState> st, Host& host) : st_(std::move(st)), host_(host) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { give_back(nullptr); }
  void give_back(std::unique_ptr<Conn> reusable) {
    if (auto st = std::exchange(st_, nullptr)) st->release(host_, std::move(reusable));
  }

 private:
  std::shared_ptr<ClientState> st_;
  Host& host_;
};

// Resolves url.host, from the cache when it is fresh. A numeric host needs no lookup.
Awaitable<Result<Endpoints>> resolve(ClientState& st, const Url& url, TimePoint deadline) {
  error_code ec;
  auto addr = asio::ip::make_address(url.host, ec);
  if (!ec) co_return Endpoints{tcp::endpoint(addr, url.port)};
  std::string key = url.authority();
  if (auto hit = st.cached(key)) co_return *hit;
  auto ex = co_await asio::this_coro::executor;
  // Shared with the guard's handler: a deadline reached just as the lookup came back queues that
  // handler beyond guard.cancel()'s reach, to run after this frame is gone.
  auto resolver = std::make_shared<Resolver>(ex);
  // getaddrinfo cannot be interrupted; cancelling at the deadline at least reports it on time
  // when the lookup itself comes back.
  Timer guard(ex, deadline);
  guard.async_wait([resolver](error_code e) {
    if (!e) resolver->cancel();
  });
  auto [rec, results] =
      co_await resolver->async_resolve(url.host, std::to_string(url.port), kTuple);
  guard.cancel();
  if (rec == asio::error::operation_aborted)
    co_return DeadlineExceeded("resolving " + url.host + " ran past the deadline");
  if (rec || results.empty())
    co_return Unavailable("cannot resolve " + url.host + ": " + rec.message());
  Endpoints eps;
  for (const auto& r : results) eps.push_back(r.endpoint());
  st.cache(key, eps);
  co_return eps;
}

// A new connection lives on `ex`, the context of the exchange that opens it.
Awaitable<Result<std::unique_ptr<Conn>>> connect(ClientState& st, const Url& url,
                                                       TimePoint deadline, Executor ex) {
  auto resolved = co_await resolve(st, url, deadline);
  if (!resolved.ok()) co_return resolved.status();
  auto conn = std::make_unique<Conn>(ex);
  TimePoint connect_by = std::min(deadline, SteadyClock::now() + st.opts.connect_timeout);
  conn->stream.expires_at(connect_by);
  // Each address in turn, the socket opened here rather than by async_connect: asio's range
  // connect takes a socket it could not open (EMFILE, ENFILE) for one closed by a cancel, and
  // reported "Operation canceled" instead of the cause.
  Socket& sock = conn->stream.socket();
  error_code cec = asio::error::not_found;  // no address at all, as async_connect had it
  for (const tcp::endpoint& ep : *resolved) {
    sock.close(cec);
    sock.open(ep.protocol(), cec);
    if (cec) continue;  // the next may open: IPv4 after IPv6 where IPv6 is off
    std::tie(cec) = co_await sock.async_connect(ep, kTuple);
    if (!cec || conn->stream.why(cec) == beast::error::timeout) break;
  }
  const error_code ec = conn->stream.why(cec);
  if (ec) {
    st.cache(url.authority(), std::nullopt);  // the address may have moved: look again next time
    if (ec != beast::error::timeout)
      co_return Status(Code::kUnavailable, "connect to " + url.authority() + ": " + ec.message(),
                       ec == asio::error::connection_refused ? kFailureRefused : std::string_view());
    if (connect_by >= deadline)
      co_return DeadlineExceeded("connect to " + url.authority() + " ran past the deadline");
    co_return Status(Code::kUnavailable,
                     "connect to " + url.authority() + " timed out after " + ms_text(st.opts.connect_timeout),
                     kFailureConnectTimedOut);
  }
  error_code ignored;
  conn->stream.socket().set_option(tcp::no_delay(true), ignored);
  co_return conn;
}

struct Outcome {
  Status status;            // ok: response is valid
  HttpResponse response;
  bool sent = false;        // the whole request was written: the target may have run it
  bool reusable = false;
};

// Whether nothing has come on a connection while it sat idle in the pool: no bytes (an answer
// nobody asked for, a 408 sent before closing) and no end of stream. Either would otherwise be
// read as the next request's answer, or fail a request that never reached the target. Asio keeps
// no read pending on an idle connection, so one non-blocking peek asks the kernel.
bool quiet(Conn& c) {
  char byte;
  const ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Status read_error(const error_code& ec, const std::string& who, Duration timeout) {
  if (ec == beast::error::timeout)
    return DeadlineExceeded("no response from " + who + " within " + ms_text(timeout));
  if (ec == http::error::body_limit)
    return Status(Code::kUnavailable, "response from " + who + " is too large", kFailureTooLarge);
  if (ec == http::error::header_limit)
    return Status(Code::kUnavailable, "response head from " + who + " is too large", kFailureTooLarge);
  return Unavailable("exchange with " + who + " failed: " + ec.message());
}

void build_head(Job& job) {
  std::string target = job.url.base_path;
  if (job.req.target.empty() || job.req.target.front() != '/') target += '/';
  target += job.req.target;
  wire::append_request_head(job.head, job.req, target, job.key);
}

// The request written on a pooled connection before its coroutine is set up: the spawn and first
// resumption of the exchange's coroutine (1.2k instructions) come after the upstream send instead
// of before it (docs/perf/proxy.md, "Seventeenth pass"; at -c1 about 1 µs, within the noise).
// Only on the thread that runs the connection's context (not, say, the store thread reloading
// targets), and only for a request nobody can cancel. The exchange writes whatever the socket
// did not take; a connection found not quiet is closed unused, and the exchange opens another,
// as it would have.
void send_first(Job& job, std::unique_ptr<Conn>& c) {
  job.checked = true;
  if (!quiet(*c)) {
    c.reset();
    return;
  }
  if (job.head.empty()) build_head(job);
  error_code ec;  // a failure here wrote nothing (write_some): the exchange meets it again
  job.written = write_now(c->stream.socket(), TwoBuffers{asio::buffer(job.head), asio::buffer(job.req.body)}, ec);
}

// Writes the request (after the `written` bytes already sent) and reads one response on c, all
// before `deadline`.
Awaitable<Outcome> round_trip(ClientState& st, Conn& c, const std::string& head,
                                    const std::string& body, size_t written, bool head_method,
                                    TimePoint deadline, const std::string& who, Duration timeout) {
  Outcome out;
  c.stream.expires_at(deadline);
  const TwoBuffers bufs{asio::buffer(head), asio::buffer(body)};
  error_code wec;
  size_t now = written;
  if (now < asio::buffer_size(bufs)) now += write_now(c.stream.socket(), after(bufs, now), wec);
  if (!wec && now < asio::buffer_size(bufs)) {
    auto [aec, wn] = co_await asio::async_write(c.stream.socket(), after(bufs, now), kTuple);
    wec = aec;
  }
  if (wec) {
    out.status = read_error(c.stream.why(wec), who, timeout);
    co_return out;
  }
  out.sent = true;
  // The first read, so that a response that comes whole is read by the fast head reader below.
  if (c.buf.size() == 0) {
    auto [rec, n] = co_await c.stream.socket().async_read_some(c.buf.prepare(kReadBuffer), kTuple);
    if (rec) {
      out.status = read_error(c.stream.why(rec), who, timeout);
      co_return out;
    }
    c.buf.commit(n);
  }
  for (;;) {
    out.response = HttpResponse{};
    wire::Head head;
    if (!head_method &&
        wire::read_response_head(std::string_view(static_cast<const char*>(c.buf.data().data()), c.buf.size()),
                                 {kMaxHeaderBytes, st.opts.max_response_bytes}, out.response, head)) {
      // The common form, wholly buffered (net/fast_head.h): no Beast parser. Never a 1xx.
      c.buf.consume(head.bytes);
      auto ec = co_await wire::read_body(c.stream, c.buf, out.response.body, static_cast<size_t>(head.content_length));
      if (ec) {
        out.status = read_error(c.stream.why(ec), who, timeout);
        co_return out;
      }
      // Bytes the target sent after the body (a body longer than its length, an answer nobody
      // asked for) are in the buffer if they came with it (read_body reads ahead as Beast does):
      // such a connection is not reused.
      out.reusable = head.keep_alive && c.buf.size() == 0;
      co_return out;
    }
    wire::ResponseParser parser(out.response);
    parser.limit_head(kMaxHeaderBytes);
    parser.body_limit(st.opts.max_response_bytes);
    if (head_method) parser.skip(true);  // a HEAD response has a Content-Length but no body
    parser.eager(true);                  // header and body in one pass over what is buffered
    auto ec = co_await wire::parse_until(c.stream, c.buf, parser, kReadBuffer, kMaxHeaderBytes, [&parser] { return parser.is_done(); });
    if (ec) {
      out.status = read_error(c.stream.why(ec), who, timeout);
      co_return out;
    }
    // Interim 1xx responses (RFC 9110 §15.2) precede the real one.
    if (out.response.status >= 100 && out.response.status < 200 && out.response.status != 101)
      continue;
    // Answers no HTTP/1.1 client may take as a final one; the connection is not reused:
    // - 101: hir asks for no upgrade, and after a 101 the connection speaks another protocol
    //   (RFC 9110 §15.2.2);
    // - a transfer coding other than a final chunked (RFC 9112 §6.3): the body would run to the
    //   close in a coding hir does not decode, and a Content-Length beside it is not the framing.
    const auto te = out.response.headers.get("transfer-encoding");
    if (out.response.status == 101) {
      out.status = Status(Code::kUnavailable, who + " answered 101 Switching Protocols, which hir never asks for",
                          kFailureUpgraded);
      co_return out;
    }
    if (te && (!parser.chunked() || parser.version() < 11)) {
      out.status = Status(Code::kUnavailable,
                          who + " answered with Transfer-Encoding " + quote(*te) + ", which hir does not read",
                          kFailureUnreadCoding);
      co_return out;
    }
    out.reusable = parser.keep_alive() && c.buf.size() == 0;
    co_return out;
  }
}

Awaitable<void> exchange(std::shared_ptr<ClientState> st, std::unique_ptr<Job> owned_job,
                               std::unique_ptr<Conn> conn, Executor ex) {
  Job& job = *owned_job;
  const Url& url = job.url;
  const HttpRequest& req = job.req;
  const std::string& who = job.key;
  Lease lease(st, *job.host);  // every job passed admit, which set it
  if (job.head.empty()) build_head(job);
  const std::string& head = job.head;
  const bool want_close = wire::iequals(req.headers.get("Connection").value_or(""), "close");
  const bool head_method = req.method == "HEAD";
  // The connection on the wire, for a Cancellation: set and cleared on this thread only, where
  // the cancel hook also runs, so the hook never sees a connection that is gone.
  // The connection a cancellation must close, shared with its hook; only a cancellable job has one.
  auto active = job.cancel ? std::make_shared<Conn*>(nullptr) : nullptr;
  if (job.cancel && !job.cancel->arm([ex, active] {
        asio::post(ex, [active] {
          if (*active == nullptr) return;
          error_code ec;
          (*active)->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
          (*active)->stream.close();
        });
      })) {
    lease.give_back(std::move(conn));  // untouched: still good for the next request
    (*job.done)(Unavailable("request to " + who + " cancelled"));
    co_return;
  }
  struct Disarm {
    Cancellation* c;
    ~Disarm() {
      if (c) c->disarm();
    }
  } disarm{job.cancel.get()};
  bool retried = false;
  for (;;) {
    // A pooled connection the target spoke on or closed while it was idle is closed unused, and
    // the request goes on a new one.
    if (conn && !std::exchange(job.checked, false) && !quiet(*conn)) conn.reset();
    const bool pooled = conn != nullptr;
    if (!conn) {
      auto c = co_await connect(*st, url, job.deadline, ex);
      if (!c.ok()) {
        lease.give_back(nullptr);
        (*job.done)(c.status());
        co_return;
      }
      conn = std::move(c.value());
    }
    const bool cancelled_before = job.cancel && job.cancel->cancelled();
    if (active) *active = cancelled_before ? nullptr : conn.get();
    // (Not a conditional expression: GCC 12 miscompiles co_await inside one.)
    Outcome out;
    if (cancelled_before) {
      out.status = Unavailable("request to " + who + " cancelled");
    } else {
      out = co_await round_trip(*st, *conn, head, req.body, std::exchange(job.written, 0), head_method,
                                job.deadline, who, job.timeout);
    }
    if (active) *active = nullptr;
    if (out.status.ok()) {
      conn->stream.expires_never();  // idle in the pool: no deadline until the next request's
      lease.give_back(out.reusable && !want_close ? std::move(conn) : nullptr);
      (*job.done)(std::move(out.response));
      co_return;
    }
    conn.reset();  // failed: closed, never pooled
    // A pooled connection the peer closed after the check above, before the request was all
    // written, failed without the request reaching a handler: one fresh try (on the same slot) is
    // safe, unless the failure is our own cancellation. Once the request is written, the target
    // may have run it (and then died or dropped the connection): sending it again could run it
    // twice and would hide the failure from the routing core, so the failure is reported.
    if (pooled && !retried && !out.sent && out.status.code() == Code::kUnavailable &&
        SteadyClock::now() < job.deadline && !(job.cancel && job.cancel->cancelled())) {
      retried = true;
      continue;
    }
    lease.give_back(nullptr);
    (*job.done)(std::move(out.status));
    co_return;
  }
}

// A pooled connection brings its context; a new one is opened on the caller's.
void spawn_exchange(const std::shared_ptr<ClientState>& st, std::unique_ptr<Job> job, std::unique_ptr<Conn> conn) {
  const Executor ex = conn ? conn->ex : st->here();
  auto done = job->done;
  asio::co_spawn(ex, exchange(st, std::move(job), std::move(conn), ex),
                 [done](std::exception_ptr e) {
                   if (e) (*done)(Internal("HTTP client failed unexpectedly"));
                 });
}

}  // namespace

// ---- HttpClient ------------------------------------------------------------------------------

struct HttpClient::Impl : ClientState {
  using ClientState::ClientState;
};

HttpClient::HttpClient(EventLoop& loop, ClientOptions opts)
    : impl_(std::make_shared<Impl>(loop, opts)) {}

HttpClient::~HttpClient() {
  std::vector<std::unique_ptr<Conn>> idle;
  std::vector<std::shared_ptr<Waiter>> waiting;
  {
    std::lock_guard lk(impl_->mu);
    impl_->closed = true;  // exchanges still running close their connections when done
    for (auto& [key, h] : impl_->hosts) {
      for (auto& c : h.idle) idle.push_back(std::move(c));
      h.open -= h.idle.size();
      h.idle.clear();
      for (auto& w : h.waiting) {
        w->queued = false;
        waiting.push_back(std::move(w));
      }
      h.waiting.clear();
    }
  }
  // Nothing will give a connection to these any more: answer them now, on the loop.
  for (auto& w : waiting) {
    asio::post(w->ex, [w] {
      w->timer.cancel();
      (*w->job->done)(Unavailable("the HTTP client was closed"));
    });
  }
}

void Cancellation::cancel() {
  std::function<void()> hook;
  {
    std::lock_guard lk(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    hook = std::move(hook_);
  }
  if (hook) hook();
}

bool Cancellation::cancelled() const {
  std::lock_guard lk(mu_);
  return cancelled_;
}

bool Cancellation::arm(std::function<void()> hook) {
  std::lock_guard lk(mu_);
  if (cancelled_) return false;
  hook_ = std::move(hook);
  return true;
}

void Cancellation::disarm() {
  std::lock_guard lk(mu_);
  hook_ = nullptr;
}

void HttpClient::send(const Url& url, HttpRequest req, Duration timeout,
                      ResponseCallback done, std::shared_ptr<Cancellation> cancel) {
  send(url, std::move(req), timeout, std::move(done), std::move(cancel), std::string(), {});
}

void HttpClient::send(const Url& url, HttpRequest req, Duration timeout,
                      ResponseCallback done, std::shared_ptr<Cancellation> cancel,
                      std::string head, std::string_view key) {
  auto once = std::make_shared<Once>(Once{std::move(done)});
  if (url.scheme != "http") {
    asio::post(impl_->here(), [once] {
      (*once)(Unimplemented("https targets are not supported yet"));
    });
    return;
  }
  // On the heap once: the job passes through admit, perhaps a wait, and the exchange's coroutine,
  // and moving its dozen strings and vectors at each step cost more than the allocation.
  impl_->admit(std::unique_ptr<Job>(new Job{url, key.empty() ? url.authority() : std::string(key), std::move(req), timeout, SteadyClock::now() + timeout,
                                            std::move(once), std::move(cancel), std::move(head)}));
}

void HttpClient::send_prepared(const Url& url, std::string_view host, std::string head, std::string body, Duration timeout,
                               ResponseCallback done, std::shared_ptr<Cancellation> cancel) {
  HttpRequest req;
  req.method = "POST";  // what the exchange reads of it: not HEAD, no Connection: close
  req.body = std::move(body);
  send(url, std::move(req), timeout, std::move(done), std::move(cancel), std::move(head), host);
}

}  // namespace hir::net
