// The pooled HTTP/1.1 client. Each exchange is a coroutine on the strand of the connection it
// uses, so a connection is only ever touched by one strand at a time; the pool itself is a map
// behind a mutex, touched only to take or return an idle connection.
#include "net/client.h"

#include <array>
#include <mutex>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>

#include "net/parsers.h"
#include "net/wire.h"

namespace hir::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr size_t kReadBuffer = 8 << 10;  // see server.cc: one recv for a typical response
constexpr size_t kMaxHeaderBytes = 64 << 10;
// Names are re-resolved this often, so a moved endpoint is found without a restart.
constexpr auto kDnsTtl = std::chrono::seconds(30);

// ---- Url -------------------------------------------------------------------------------------

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
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

// ---- Pool ------------------------------------------------------------------------------------

namespace {

using Endpoints = std::vector<tcp::endpoint>;

struct Conn {
  explicit Conn(Strand s) : strand(s), stream(s) { buf.reserve(kReadBuffer); }
  Strand strand;
  beast::tcp_stream stream;
  beast::flat_buffer buf;
};

struct ClientState {
  ClientState(asio::io_context& i, ClientOptions o) : io(i), opts(o) {}

  std::unique_ptr<Conn> take_idle(const std::string& key) {
    std::lock_guard lk(mu);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());  // the most recently used is the likeliest alive
    it->second.pop_back();
    return c;
  }
  void put_idle(const std::string& key, std::unique_ptr<Conn> c) {
    std::lock_guard lk(mu);
    auto& v = idle[key];
    if (closed || v.size() >= opts.max_idle_per_host) return;  // c closes on the way out
    v.push_back(std::move(c));
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

  asio::io_context& io;
  const ClientOptions opts;
  std::mutex mu;  // guards the fields below
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::unordered_map<std::string, std::pair<Endpoints, TimePoint>> dns;
  bool closed = false;
};

// Calls the user's callback at most once, whatever path the coroutine takes.
struct Once {
  std::function<void(Result<HttpResponse>)> fn;
  void operator()(Result<HttpResponse> r) {
    if (auto f = std::exchange(fn, nullptr)) f(std::move(r));
  }
};

std::string ms_text(Duration d) { return std::to_string(static_cast<long long>(to_ms(d))) + " ms"; }

// Resolves url.host, from the cache when it is fresh. A numeric host needs no lookup.
asio::awaitable<Result<Endpoints>> resolve(ClientState& st, const Url& url, TimePoint deadline) {
  error_code ec;
  auto addr = asio::ip::make_address(url.host, ec);
  if (!ec) co_return Endpoints{tcp::endpoint(addr, url.port)};
  std::string key = url.authority();
  if (auto hit = st.cached(key)) co_return *hit;
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  // getaddrinfo cannot be interrupted; cancelling at the deadline at least reports it on time
  // when the lookup itself comes back.
  asio::steady_timer guard(ex, deadline);
  guard.async_wait([&resolver](error_code e) {
    if (!e) resolver.cancel();
  });
  auto [rec, results] =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), kTuple);
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

// A new connection lives on `strand`, the strand of the exchange that opens it.
asio::awaitable<Result<std::unique_ptr<Conn>>> connect(ClientState& st, const Url& url,
                                                       TimePoint deadline, Strand strand) {
  auto resolved = co_await resolve(st, url, deadline);
  if (!resolved.ok()) co_return resolved.status();
  auto conn = std::make_unique<Conn>(strand);
  TimePoint connect_by = std::min(deadline, SteadyClock::now() + st.opts.connect_timeout);
  conn->stream.expires_at(connect_by);
  auto [ec, ep] = co_await conn->stream.async_connect(*resolved, kTuple);
  if (ec) {
    st.cache(url.authority(), std::nullopt);  // the address may have moved: look again next time
    if (ec != beast::error::timeout)
      co_return Unavailable("connect to " + url.authority() + ": " + ec.message());
    if (connect_by >= deadline)
      co_return DeadlineExceeded("connect to " + url.authority() + " ran past the deadline");
    co_return Unavailable("connect to " + url.authority() + " timed out after " +
                          ms_text(st.opts.connect_timeout));
  }
  error_code ignored;
  conn->stream.socket().set_option(tcp::no_delay(true), ignored);
  co_return conn;
}

struct Outcome {
  Status status;            // ok: response is valid
  HttpResponse response;
  bool got_bytes = false;   // the peer sent something back, so retrying could repeat the request
  bool reusable = false;
};

Status read_error(const error_code& ec, const std::string& who, Duration timeout) {
  if (ec == beast::error::timeout)
    return DeadlineExceeded("no response from " + who + " within " + ms_text(timeout));
  if (ec == http::error::body_limit) return Unavailable("response from " + who + " is too large");
  return Unavailable("exchange with " + who + " failed: " + ec.message());
}

// Writes the request and reads one response on c, all before `deadline`.
asio::awaitable<Outcome> round_trip(ClientState& st, Conn& c, const std::string& head,
                                    const std::string& body, bool head_method, TimePoint deadline,
                                    const std::string& who, Duration timeout) {
  Outcome out;
  c.stream.expires_at(deadline);
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  auto [wec, wn] = co_await asio::async_write(c.stream, bufs, kTuple);
  if (wec) {
    out.status = read_error(wec, who, timeout);
    co_return out;
  }
  // The first byte is awaited apart, to tell "peer closed an idle connection" (safe to retry)
  // from "peer failed mid-response" (not safe: the request may have run).
  if (c.buf.size() == 0) {
    auto [rec, n] = co_await c.stream.async_read_some(c.buf.prepare(kReadBuffer), kTuple);
    if (rec) {
      out.status = read_error(rec, who, timeout);
      co_return out;
    }
    c.buf.commit(n);
  }
  out.got_bytes = true;
  for (;;) {
    out.response = HttpResponse{};
    wire::ResponseParser parser(out.response);
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(st.opts.max_response_bytes);
    if (head_method) parser.skip(true);  // a HEAD response has a Content-Length but no body
    auto [ec, n] = co_await http::async_read(c.stream, c.buf, parser, kTuple);
    if (ec) {
      out.status = read_error(ec, who, timeout);
      co_return out;
    }
    // Interim 1xx responses (RFC 9110 §15.2) precede the real one.
    if (out.response.status >= 100 && out.response.status < 200 && out.response.status != 101)
      continue;
    out.reusable = parser.keep_alive() && c.buf.size() == 0;
    co_return out;
  }
}

asio::awaitable<void> exchange(std::shared_ptr<ClientState> st, Url url, HttpRequest req,
                               Duration timeout, TimePoint deadline, std::unique_ptr<Conn> conn,
                               Strand strand, std::shared_ptr<Once> done) {
  const std::string who = url.authority();
  std::string target = url.base_path;
  if (req.target.empty() || req.target.front() != '/') target += '/';
  target += req.target;
  std::string head;
  wire::append_request_head(head, req, target, who);
  const bool want_close = wire::iequals(req.headers.get("Connection").value_or(""), "close");
  const bool head_method = req.method == "HEAD";
  bool retried = false;
  for (;;) {
    const bool pooled = conn != nullptr;
    if (!conn) {
      auto c = co_await connect(*st, url, deadline, strand);
      if (!c.ok()) {
        (*done)(c.status());
        co_return;
      }
      conn = std::move(c.value());
    }
    Outcome out = co_await round_trip(*st, *conn, head, req.body, head_method, deadline, who,
                                      timeout);
    if (out.status.ok()) {
      if (out.reusable && !want_close) st->put_idle(who, std::move(conn));
      (*done)(std::move(out.response));
      co_return;
    }
    conn.reset();  // failed: closed, never pooled
    // A keep-alive connection the peer closed while it sat idle fails before any byte comes
    // back; the request never reached a handler, so one fresh try is safe.
    if (pooled && !retried && !out.got_bytes && out.status.code() == Code::kUnavailable &&
        SteadyClock::now() < deadline) {
      retried = true;
      continue;
    }
    (*done)(std::move(out.status));
    co_return;
  }
}

}  // namespace

// ---- HttpClient ------------------------------------------------------------------------------

struct HttpClient::Impl : ClientState {
  using ClientState::ClientState;
};

HttpClient::HttpClient(EventLoop& loop, ClientOptions opts)
    : impl_(std::make_shared<Impl>(*static_cast<asio::io_context*>(loop.native()), opts)) {}

HttpClient::~HttpClient() {
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  {
    std::lock_guard lk(impl_->mu);
    impl_->closed = true;  // exchanges still running close their connections when done
    idle.swap(impl_->idle);
  }
}

void HttpClient::send(const Url& url, HttpRequest req, Duration timeout,
                      std::function<void(Result<HttpResponse>)> done) {
  auto once = std::make_shared<Once>(Once{std::move(done)});
  if (url.scheme != "http") {
    asio::post(impl_->io, [once] {
      (*once)(Unimplemented("https targets are not supported yet"));
    });
    return;
  }
  const TimePoint deadline = SteadyClock::now() + timeout;
  // A pooled connection brings its strand; a new one gets a fresh strand.
  std::unique_ptr<Conn> conn = impl_->take_idle(url.authority());
  Strand strand = conn ? conn->strand : asio::make_strand(impl_->io);
  std::shared_ptr<ClientState> st = impl_;
  asio::co_spawn(strand,
                 exchange(st, url, std::move(req), timeout, deadline, std::move(conn), strand, once),
                 [once](std::exception_ptr e) {
                   if (e) (*once)(Internal("HTTP client failed unexpectedly"));
                 });
}

}  // namespace hir::net
