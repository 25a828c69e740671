#include "net/client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "net/server.h"
#include "net_test_util.h"

namespace hir::net {
namespace {

using namespace std::chrono_literals;
using testing::call;
using testing::local_url;
using testing::LoopThread;
using testing::make_request;
using testing::wait_until;

TEST(Url, ParsesHostPortAndBase) {
  auto u = Url::parse("http://edge-1.local:8000/base/v2/");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "edge-1.local");
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->base_path, "/base/v2");
  EXPECT_EQ(u->authority(), "edge-1.local:8000");

  u = Url::parse("http://127.0.0.1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->base_path, "");
  EXPECT_EQ(Url::parse("HTTP://h/")->base_path, "");

  u = Url::parse("http://[::1]:9000/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->authority(), "[::1]:9000");
}

TEST(Url, RefusesHttpsAndGarbage) {
  auto https = Url::parse("https://cloud.example.com/v2");
  EXPECT_EQ(https.status().code(), Code::kUnimplemented);
  EXPECT_EQ(https.status().message(), "https targets are not supported yet");
  for (const char* bad :
       {"", "garbage", "ftp://h", "http://", "http://:80", "http://h:", "http://h:0",
        "http://h:99999", "http://h:8a", "http://h h", "http://user@h", "http://h/a?b=1",
        "http://[::1", "http://[::1]x", "//h:80"}) {
    EXPECT_EQ(Url::parse(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

// A server that echoes the target, the Host header and the peer (so tests see reuse).
HttpResponse echo(const HttpRequest& req) {
  HttpResponse res;
  res.status = path_of(req.target) == "/missing" ? 404 : 200;
  res.headers.set("X-Target", req.target);
  res.headers.set("X-Host", std::string(req.headers.get("host").value_or("")));
  res.body = req.method + " " + req.body;
  return res;
}
struct Upstream : testing::ParkingUpstream {
  explicit Upstream(LoopThread& lt, ServerOptions o = {}) : ParkingUpstream(lt, echo, std::move(o)) {}
};

// Bodies larger than a socket's send buffer: both sides write what the socket takes at once
// and the rest asynchronously, and nothing is lost or reordered on the way.
TEST(HttpClient, BodiesLargerThanTheSendBufferArriveWhole) {
  LoopThread lt;
  Upstream up(lt);
  HttpClient client(lt.loop);
  std::string body(24u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7919 % 26));
  auto r = call(client, local_url(up.server.port()), make_request("POST", "/big", body), 60s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(r->body.size(), body.size() + 5);
  EXPECT_TRUE(r->body == "POST " + body);
}

TEST(HttpClient, RoundTripPrependsBasePathAndSetsHost) {
  LoopThread lt;
  Upstream up(lt);
  HttpClient client(lt.loop);
  auto r = call(client, local_url(up.server.port(), "/base"), make_request("POST", "/v2/x?q=1", "hi"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST hi");
  EXPECT_EQ(r->headers.get("x-target").value(), "/base/v2/x?q=1");
  EXPECT_EQ(r->headers.get("x-host").value(), "127.0.0.1:" + std::to_string(up.server.port()));

  // A name goes through the resolver (and, where localhost is ::1 first, on to 127.0.0.1).
  auto named = Url::parse("http://localhost:" + std::to_string(up.server.port()));
  ASSERT_TRUE(named.ok());
  r = call(client, *named, make_request("GET", "/named"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->headers.get("x-target").value(), "/named");

  r = call(client, local_url(up.server.port()), make_request("GET", "/missing"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);  // any status is a response, not an error
}

TEST(HttpClient, ReusesPooledConnections) {
  LoopThread lt;
  Upstream up(lt);
  HttpClient client(lt.loop);
  for (int i = 0; i < 5; ++i) {
    auto r = call(client, local_url(up.server.port()), make_request("GET", "/"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  EXPECT_EQ(up.remote_count(), 1u);
  EXPECT_EQ(up.server.connections(), 1u);
}

// A request's deadline ends with its exchange: a pooled connection idle for longer than the last
// request's timeout is still the one the next request uses (net/timed_socket.h).
TEST(HttpClient, APooledConnectionOutlivesTheLastRequestsDeadline) {
  LoopThread lt;
  Upstream up(lt);
  HttpClient client(lt.loop);
  ASSERT_TRUE(call(client, local_url(up.server.port()), make_request("GET", "/"), 500ms).ok());
  std::this_thread::sleep_for(700ms);  // past that deadline; not a timing assertion
  auto r = call(client, local_url(up.server.port()), make_request("GET", "/"), 500ms);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(up.remote_count(), 1u);
  EXPECT_EQ(up.server.connections(), 1u);
}

TEST(HttpClient, PoolIsBoundedPerHost) {
  LoopThread lt;
  Upstream up(lt);
  ClientOptions o;
  o.max_idle_per_host = 0;
  HttpClient client(lt.loop, o);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(client, local_url(up.server.port()), make_request("GET", "/")).ok());
  EXPECT_EQ(up.remote_count(), 3u);  // nothing kept, so each request connected anew
}

TEST(HttpClient, RefusedConnectionIsUnavailable) {
  // A bound socket that does not listen: connecting to it is refused.
  testing::RefusingPort refusing;
  ASSERT_NE(refusing.port, 0);
  LoopThread lt;
  HttpClient client(lt.loop);
  auto r = call(client, local_url(refusing.port), make_request("GET", "/"));
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  EXPECT_EQ(r.status().kind(), kFailureRefused) << r.status().to_string();
}

// A listener whose accept queue is full drops new connections' SYNs: the connect waits until the
// client's own connect timeout, which names itself so (not a deadline: the request had time left).
TEST(HttpClient, AConnectThatGetsNoAnswerNamesItsTimeout) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);  // room for one connection not yet accepted, and it is never accepted
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {  // the first fills the queue; the others' SYNs are already dropped
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(fd);
  }
  LoopThread lt;
  ClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(200);
  HttpClient client(lt.loop, o);
  auto r = call(client, local_url(ntohs(a.sin_port)), make_request("GET", "/"), std::chrono::seconds(10));
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  EXPECT_EQ(r.status().kind(), kFailureConnectTimedOut) << r.status().to_string();
  for (int fd : fillers) ::close(fd);
  ::close(lfd);
}

// With no descriptor left for the socket, the error names why: it said "Operation canceled".
TEST(HttpClient, ASocketThatCannotBeOpenedNamesTheCause) {
  testing::RefusingPort refusing;  // never reached: no socket opens
  ASSERT_NE(refusing.port, 0);
  LoopThread lt;
  HttpClient client(lt.loop);
  // Refused while descriptors last: the loop's own (its epoll and eventfd, made with the first
  // socket) are open, as in a router that has been serving.
  EXPECT_EQ(call(client, local_url(refusing.port), make_request("GET", "/")).status().code(), Code::kUnavailable);
  // The soft limit lowered to the lowest free descriptor, so the next one the process opens fails
  // with EMFILE; restored before anything else runs.
  rlimit was{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &was), 0);
  const int lowest = ::dup(0);
  ASSERT_GE(lowest, 0);
  ::close(lowest);
  rlimit low = was;
  low.rlim_cur = static_cast<rlim_t>(lowest);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  auto r = call(client, local_url(refusing.port), make_request("GET", "/"));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &was), 0);
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  EXPECT_NE(r.status().message().find("Too many open files"), std::string::npos) << r.status().to_string();
}

TEST(HttpClient, DeadlineExceededWhenTheHandlerIsSlow) {
  LoopThread lt;
  Upstream up(lt);
  HttpClient client(lt.loop);
  auto r = call(client, local_url(up.server.port()), make_request("GET", "/park"), 50ms);
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().to_string();
  up.release_parked();
  // The timed-out connection was closed, not pooled: the next request uses a fresh one.
  auto ok = call(client, local_url(up.server.port()), make_request("GET", "/"));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(up.remote_count(), 2u);
}

TEST(HttpClient, ACancelledRequestClosesItsConnectionAndCallsBack) {
  LoopThread lt;
  Upstream up(lt);
  HttpClient client(lt.loop);
  auto cancel = std::make_shared<Cancellation>();
  auto p = std::make_shared<std::promise<Result<HttpResponse>>>();
  auto f = p->get_future();
  client.send(local_url(up.server.port()), make_request("GET", "/park"), 30s,
              [p](Result<HttpResponse> r) { p->set_value(std::move(r)); }, cancel);
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lk(up.mu);
    return up.parked.size() == 1;
  }));
  cancel->cancel();
  // Called back long before the 30-s deadline, with an error.
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto r = f.get();
  EXPECT_FALSE(r.ok());
  cancel->cancel();  // again: nothing
  up.release_parked();
  // Nothing of it stays in the pool: the next request connects anew and is answered.
  auto ok = call(client, local_url(up.server.port()), make_request("GET", "/"));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(up.remote_count(), 2u);
  // Cancelled before it is sent: called back, nothing sent.
  auto early = std::make_shared<Cancellation>();
  early->cancel();
  auto p2 = std::make_shared<std::promise<Result<HttpResponse>>>();
  auto f2 = p2->get_future();
  client.send(local_url(up.server.port()), make_request("GET", "/"), 30s,
              [p2](Result<HttpResponse> r2) { p2->set_value(std::move(r2)); }, early);
  ASSERT_EQ(f2.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(f2.get().ok());
}

TEST(HttpClient, RetriesWhenTheServerClosedAnIdleKeepAlive) {
  LoopThread lt;
  ServerOptions o;
  o.idle_timeout = 20ms;
  Upstream up(lt, o);
  HttpClient client(lt.loop);
  ASSERT_TRUE(call(client, local_url(up.server.port()), make_request("GET", "/")).ok());
  // The server drops the pooled connection; the client only learns when it uses it.
  ASSERT_TRUE(wait_until([&] { return up.server.connections() == 0; }));
  auto r = call(client, local_url(up.server.port()), make_request("POST", "/", "again"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "POST again");
  EXPECT_EQ(up.remote_count(), 2u);
}

// A socket listening on 127.0.0.1 at a port the kernel picks (set in *port), or -1.
int listen_on_loopback(uint16_t* port, int backlog = 8) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// A one-shot raw server that answers whatever it reads with `reply`, then closes; with `piece`,
// the reply goes out that many bytes at a time, a millisecond apart.
class RawUpstream {
 public:
  explicit RawUpstream(std::string reply, size_t piece = 0) {
    fd_ = listen_on_loopback(&port);
    thread_ = std::thread([this, reply = std::move(reply), piece] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)::recv(c, buf, sizeof buf, 0);
      const size_t step = piece == 0 ? reply.size() : piece;
      for (size_t at = 0; at < reply.size(); at += step) {
        if (at > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        (void)::send(c, reply.data() + at, std::min(step, reply.size() - at), MSG_NOSIGNAL);
      }
      ::shutdown(c, SHUT_WR);
      while (::recv(c, buf, sizeof buf, 0) > 0) {
      }
      ::close(c);
    });
  }
  ~RawUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port = 0;

 private:
  int fd_;
  std::thread thread_;
};

// An answer whose body comes in a later read, followed on the same connection by bytes nobody
// asked for (here a second, wrong answer): the connection is not reused, so the next request gets
// its own answer from a new connection, not those bytes.
TEST(HttpClient, BytesAfterABodyReadLaterKeepTheConnectionOutOfThePool) {
  uint16_t port = 0;
  const int fd = listen_on_loopback(&port);
  ASSERT_GE(fd, 0);
  std::thread upstream([fd] {
    char buf[4096];
    int first = ::accept(fd, nullptr, nullptr);
    (void)::recv(first, buf, sizeof buf, 0);
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
    (void)::send(first, head.data(), head.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the rest in a later read
    const std::string rest = "cdeHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG";
    (void)::send(first, rest.data(), rest.size(), MSG_NOSIGNAL);
    int second = ::accept(fd, nullptr, nullptr);  // the next request's own connection
    if (second >= 0) {
      (void)::recv(second, buf, sizeof buf, 0);
      const std::string right = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nRIGHT";
      (void)::send(second, right.data(), right.size(), MSG_NOSIGNAL);
      ::shutdown(second, SHUT_WR);
      while (::recv(second, buf, sizeof buf, 0) > 0) {
      }
      ::close(second);
    }
    ::close(first);
  });
  {
    LoopThread lt;
    HttpClient client(lt.loop);
    auto r1 = call(client, local_url(port), make_request("GET", "/1"));
    ASSERT_TRUE(r1.ok()) << r1.status().to_string();
    EXPECT_EQ(r1->body, "abcde");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the extra bytes have come
    auto r2 = call(client, local_url(port), make_request("GET", "/2"));
    ASSERT_TRUE(r2.ok()) << r2.status().to_string();
    EXPECT_EQ(r2->body, "RIGHT");
  }
  ::shutdown(fd, SHUT_RDWR);
  upstream.join();
  ::close(fd);
}

// A raw upstream that runs `script` on each connection it accepts, one after another (the next
// waits in the backlog), until none comes for 2 s or it is destroyed. `requests` counts the
// request heads the scripts read.
class ScriptedUpstream {
 public:
  using Script = std::function<void(int index, int fd, ScriptedUpstream& up)>;
  explicit ScriptedUpstream(Script script) {
    fd_ = listen_on_loopback(&port);
    thread_ = std::thread([this, script = std::move(script)] {
      for (int i = 0;; ++i) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 2000) <= 0) return;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        timeval tv{2, 0};  // no read in a script waits longer
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        script(i, c, *this);
        ::close(c);
      }
    });
  }
  ~ScriptedUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  // Reads one request head (the requests here have no body); false at end of stream or timeout.
  bool read_head(int fd) {
    std::string got;
    char buf[1024];
    while (got.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    ++requests;
    return true;
  }
  static void send_text(int fd, std::string_view text) { (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL); }
  // Waits until the client closes the connection (or sends nothing more for 2 s).
  static void drain(int fd) {
    char buf[1024];
    while (::recv(fd, buf, sizeof buf, 0) > 0) {
    }
  }
  uint16_t port = 0;
  std::atomic<int> requests{0};

 private:
  int fd_;
  std::thread thread_;
};

std::string answer_with(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// Request 1 is answered on the first connection, which then, idle in the pool, receives
// `idle_bytes` (and, with close_after, the end of the target's side). Request 2 must get its own
// answer, from a second connection.
void expect_the_next_answer_is_its_own(std::string idle_bytes, bool close_after) {
  ScriptedUpstream up([&](int i, int fd, ScriptedUpstream& self) {
    if (!self.read_head(fd)) return;
    if (i == 0) {
      ScriptedUpstream::send_text(fd, answer_with("ONE"));
      std::this_thread::sleep_for(20ms);
      ScriptedUpstream::send_text(fd, idle_bytes);
      if (close_after) ::shutdown(fd, SHUT_WR);
    } else {
      ScriptedUpstream::send_text(fd, answer_with("TWO"));
    }
    ScriptedUpstream::drain(fd);
  });
  LoopThread lt;
  HttpClient client(lt.loop);
  auto r1 = call(client, local_url(up.port), make_request("GET", "/1"));
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  EXPECT_EQ(r1->body, "ONE");
  std::this_thread::sleep_for(80ms);  // the idle bytes have come
  auto r2 = call(client, local_url(up.port), make_request("GET", "/2"));
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, "TWO");
  EXPECT_EQ(up.requests.load(), 2);
}

// Bytes that come on a connection while it sits idle in the pool are not read as the next
// request's answer: that connection is closed unused and the request goes on a new one.
TEST(HttpClient, BytesThatComeOnAnIdleConnectionAreNotTheNextAnswer) {
  // An answer nobody asked for.
  expect_the_next_answer_is_its_own(answer_with("STRAY"), false);
  // A 408 sent at the target's idle timeout before it closes (as some servers do): the next
  // request never reached it.
  expect_the_next_answer_is_its_own("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                                    true);
}

// A request written whole on a pooled connection that then closes without an answer (the target
// died running it, say) is reported as failed, not sent again: it may have run, and a resend
// would run it twice and hide the failure.
TEST(HttpClient, ARequestTheTargetReadIsNotSentAgainWhenItClosesWithoutAnswer) {
  ScriptedUpstream up([](int i, int fd, ScriptedUpstream& self) {
    if (!self.read_head(fd)) return;
    if (i == 0) {
      ScriptedUpstream::send_text(fd, answer_with("ONE"));
      (void)self.read_head(fd);  // the second request, read, then the connection closes
    } else {
      ScriptedUpstream::send_text(fd, answer_with("AGAIN"));
      ScriptedUpstream::drain(fd);
    }
  });
  LoopThread lt;
  HttpClient client(lt.loop);
  auto r1 = call(client, local_url(up.port), make_request("GET", "/1"));
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  auto r2 = call(client, local_url(up.port), make_request("GET", "/2"));
  EXPECT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), Code::kUnavailable);
  EXPECT_EQ(up.requests.load(), 2);
}

TEST(HttpClient, MalformedOrOversizedResponseIsUnavailable) {
  LoopThread lt;
  {
    RawUpstream raw("garbage that is not HTTP\r\n\r\n");
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  }
  {
    RawUpstream raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
    ClientOptions o;
    o.max_response_bytes = 10;
    HttpClient client(lt.loop, o);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
    EXPECT_EQ(r.status().kind(), kFailureTooLarge) << r.status().to_string();
  }
  {  // a head over the header limit (64 KiB) is too large as well
    RawUpstream raw("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 << 10, 'h') + "\r\nContent-Length: 0\r\n\r\n");
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
    EXPECT_EQ(r.status().kind(), kFailureTooLarge) << r.status().to_string();
  }
  // Answers no request of hir's can get (RFC 9110 §15.2.2, RFC 9112 §6.3): a failure of its own
  // kind, and the connection is not reused.
  const std::pair<std::string, std::string_view> bad_answers[] = {
      {"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n", kFailureUpgraded},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", kFailureUnreadCoding}};
  for (const auto& [bad, kind] : bad_answers) {
    RawUpstream raw(bad);
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << bad << " -> " << (r.ok() ? std::to_string(r->status) : r.status().to_string());
    EXPECT_EQ(r.status().kind(), kind) << bad << " -> " << r.status().to_string();
  }
  {  // a failure the code says all of has no kind
    RawUpstream raw("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort");
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
    EXPECT_EQ(r.status().kind(), "") << r.status().to_string();
  }
  {  // a response that ends with the connection is fine, and is not pooled
    RawUpstream raw("HTTP/1.1 200 OK\r\n\r\nuntil-eof");
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->body, "until-eof");
  }
}

// An answer arriving in small pieces — an interim 100 first, a chunked body — is read whole; one
// cut short by the close is a failure, not a short body.
TEST(HttpClient, ResponsesArrivingInPiecesAreReadWhole) {
  LoopThread lt;
  {
    RawUpstream raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    "X-Test: yes\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                    5);
    HttpClient client(lt.loop);  // after the upstream: it closes its pooled connection first
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello world");
    EXPECT_EQ(r->headers.get("x-test").value_or(""), "yes");
  }
  {
    const std::string body(5000, 'b');
    RawUpstream raw("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body, 700);
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->body, body);
  }
  {
    RawUpstream raw("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly-this", 4);
    HttpClient client(lt.loop);
    auto r = call(client, local_url(raw.port), make_request("GET", "/"));
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  }
}

TEST(HttpClient, HttpsIsUnimplemented) {
  LoopThread lt;
  HttpClient client(lt.loop);
  Url u;
  u.scheme = "https";
  u.host = "127.0.0.1";
  auto r = call(client, u, make_request("GET", "/"));
  EXPECT_EQ(r.status().code(), Code::kUnimplemented);
}

TEST(HttpClient, ConcurrentSendsFromManyThreads) {
  LoopThread lt(2);
  Upstream up(lt);
  HttpClient client(lt.loop);
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      for (int k = 0; k < 25; ++k) {
        std::string body = std::to_string(i * 100 + k);
        auto r = call(client, local_url(up.server.port()), make_request("POST", "/", body));
        if (r.ok() && r->body == "POST " + body) ok.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_LE(up.remote_count(), 4u);  // at most one connection per concurrent caller
}

}  // namespace
}  // namespace hir::net
