// Helpers for the net tests: a loop on background threads, a raw POSIX client that can send
// anything (malformed requests, pipelined bytes), and bounded waits. No Asio here, so the test
// files compile quickly.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/client.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "net/server.h"

namespace hir::net::testing {

using namespace std::chrono_literals;

// Generous guard for every wait: tests assert outcomes, never timings.
inline constexpr auto kGuard = 20s;

// Runs an EventLoop on `threads` background threads for the test's lifetime.
class LoopThread {
 public:
  explicit LoopThread(int threads = 1) : thread_([this, threads] { loop.run(threads); }) {}
  ~LoopThread() {
    loop.stop();
    thread_.join();
  }
  EventLoop loop;

 private:
  std::thread thread_;
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds guard = kGuard) {
  auto end = std::chrono::steady_clock::now() + guard;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  std::optional<std::string> header(std::string_view name) const {
    std::string needle = "\r\n" + std::string(name) + ": ";
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    std::string h = lower(head), n = lower(needle);
    size_t at = h.find(n);
    if (at == std::string::npos) return std::nullopt;
    size_t from = at + n.size();
    return head.substr(from, head.find("\r\n", from) - from);
  }
};

// A blocking client socket on 127.0.0.1 with a receive timeout as a guard.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(kGuard.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads one response framed by Content-Length (or until EOF without one); a response to HEAD
  // has no body whatever its Content-Length says.
  std::optional<RawResponse> read_response(bool head = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    RawResponse r;
    r.head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    if (r.head.size() < 12) return std::nullopt;
    r.status = std::stoi(r.head.substr(9, 3));
    if (head) return r;
    if (auto cl = r.header("Content-Length")) {
      size_t len = std::stoul(*cl);
      while (buf_.size() < len)
        if (!fill()) return std::nullopt;
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else if (r.status >= 200) {
      while (fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    return r;
  }
  // True when the server closes (EOF or reset) before the guard; any bytes are discarded.
  bool wait_closed() {
    char c[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, c, sizeof c, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  bool fill() {
    char c[16384];
    ssize_t n = ::recv(fd_, c, sizeof c, 0);
    if (n <= 0) return false;
    buf_.append(c, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

inline std::string get_request(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

inline std::string post_request(std::string_view target, std::string_view body,
                                 std::string_view extra = "") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + std::string(body);
}

// Sends with the client and waits for its callback (the guard only ends a hung test).
inline Result<HttpResponse> call(HttpClient& client, const Url& url, HttpRequest req,
                                 Duration timeout = 10s) {
  auto p = std::make_shared<std::promise<Result<HttpResponse>>>();
  auto f = p->get_future();
  client.send(url, std::move(req), timeout, [p](Result<HttpResponse> r) {
    p->set_value(std::move(r));
  });
  if (f.wait_for(kGuard) != std::future_status::ready)
    return Internal("test guard: the client never called back");
  return f.get();
}

inline HttpRequest make_request(std::string method, std::string target, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

inline Url local_url(uint16_t port, std::string base = "") {
  return Url::parse("http://127.0.0.1:" + std::to_string(port) + base).value();
}

// A port whose connects are refused: a socket bound on 127.0.0.1 that does not listen.
struct RefusingPort {
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
  }
  ~RefusingPort() {
    if (fd >= 0) ::close(fd);
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int fd = -1;
  uint16_t port = 0;
};

// An upstream for client tests: requests to /park wait until release_parked(); anything else is
// answered at once by `answer`. Counts the distinct connections (remotes) it served and the most
// it had open at once.
struct ParkingUpstream {
  using Answer = std::function<HttpResponse(const HttpRequest&)>;
  ParkingUpstream(LoopThread& lt, Answer a, ServerOptions o = {})
      : answer(std::move(a)),
        server(lt.loop, o, [this](HttpRequest&& req, Responder r) { handle(std::move(req), std::move(r)); }) {
    EXPECT_TRUE(server.listen().ok());
  }
  void handle(HttpRequest&& req, Responder respond) {
    {
      std::lock_guard lk(mu);
      remotes.insert(req.remote);
      max_connections = std::max(max_connections, server.connections());
      if (path_of(req.target) == "/park") {
        parked.push_back(std::move(respond));
        return;
      }
    }
    respond(answer(req));
  }
  size_t parked_count() {
    std::lock_guard lk(mu);
    return parked.size();
  }
  size_t remote_count() {
    std::lock_guard lk(mu);
    return remotes.size();
  }
  void release_parked() {
    std::vector<Responder> v;
    {
      std::lock_guard lk(mu);
      v.swap(parked);
    }
    for (auto& r : v) r(json_response(200, "parked"));
  }
  Answer answer;
  std::mutex mu;
  std::set<std::string> remotes;
  size_t max_connections = 0;
  std::vector<Responder> parked;
  HttpServer server;  // last: it stops, and calls no handler, before the rest goes
};

}  // namespace hir::net::testing
