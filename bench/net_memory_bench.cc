// Memory the HTTP server holds per connection (issue 6, item 2: 10,000 concurrent requests under
// 200 MB). Opens N connections from this process to an HttpServer on 127.0.0.1 and reads VmRSS
// from /proc/self/status before and after:
//   BM_IdleConnections/N  connected, no request sent yet (a keep-alive client between requests)
//   BM_WaitingRequests/N  each has sent a 3.5 KB inference-sized POST that the handler holds
//                         unanswered (a request in flight, waiting for its target)
// Counter bytes_per_conn = (VmRSS after - VmRSS before) / N. Client sockets live in the kernel,
// not in this process's RSS, so the figure is the server's user-space memory. One iteration
// each: it is a memory figure, not a timing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/process.h"
#include "net/event_loop.h"
#include "net/server.h"

namespace {

using namespace hir;

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

template <class Pred>
bool wait_for(Pred pred) {
  for (int i = 0; i < 10000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return pred();
}

void run(benchmark::State& state, bool send_request) {
  const auto n = static_cast<size_t>(state.range(0));
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 2 * n + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 2 * n + 64);
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  net::EventLoop loop;
  std::mutex mu;
  std::vector<net::Responder> held;
  net::HttpServer server(loop, net::ServerOptions{}, [&](net::HttpRequest&& req, net::Responder r) {
    // The request itself is the handler's (the router parses and forwards it): not counted here.
    net::HttpRequest taken = std::move(req);
    std::lock_guard lk(mu);
    held.push_back(std::move(r));
  });
  if (!server.listen().ok()) {
    state.SkipWithError("listen failed");
    return;
  }
  std::thread io([&] { loop.run(1); });
  const std::string body(3324, 'x');  // the binary-extension body of bench/compare.sh
  const std::string request =
      "POST /v2/models/fmnist-tiny/infer HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\n"
      "Inference-Header-Content-Length: 188\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<int> fds;
  for (auto _ : state) {
    const long before = resident_kb();
    for (size_t i = 0; i < n; ++i) {
      int fd = connect_to(server.port());
      if (fd < 0) break;
      fds.push_back(fd);
      if (send_request) (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    }
    bool ok = send_request ? wait_for([&] { return server.requests_in_flight() == fds.size(); })
                           : wait_for([&] { return server.connections() == fds.size(); });
    const long after = resident_kb();
    if (!ok || fds.size() != n) state.SkipWithError("not every connection was served");
    state.counters["conns"] = static_cast<double>(fds.size());
    state.counters["bytes_per_conn"] = static_cast<double>(after - before) * 1024.0 / static_cast<double>(n);
  }
  {
    std::lock_guard lk(mu);
    for (auto& r : held) r(net::json_response(200, "{}"));
    held.clear();
  }
  for (int fd : fds) ::close(fd);
  wait_for([&] { return server.connections() == 0; });
  loop.stop();
  io.join();
}

void BM_IdleConnections(benchmark::State& state) { run(state, false); }
void BM_WaitingRequests(benchmark::State& state) { run(state, true); }

BENCHMARK(BM_IdleConnections)->Arg(4000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WaitingRequests)->Arg(4000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
