// Where one proxied request's time goes at one request in flight: a library loaded into a proxy
// with LD_PRELOAD that clocks the proxy's socket system calls, and at exit says how long each
// part of a request took.
//
// bench/hop_latency.cc gives a proxy's added latency per hop; this splits it. A proxy at -c1 does
// the same six things for every request, and the calls it makes mark where each begins and ends:
//
//   request    from the client's request read (a recv that returned data) to the upstream send:
//              the proxy's own work before the backend can start (parse, route, write the head)
//   send up    the upstream send itself: on loopback the kernel delivers the segment to the
//              backend's socket and wakes the backend inside this call
//   wait       from the end of that send to the read of the backend's answer: the backend's time
//              and the proxy's own wake-up; of it, `to sleep` is the proxy's work between the send
//              and its next epoll_wait (on a shared core, the backend may wait for it)
//   answer     from the answer's read to the client send: the proxy's work on the way back
//   send down  the client send (delivery and the client's wake-up, as for the send up)
//   after      from the client send to the proxy's next epoll_wait: work after the answer left,
//              off the client's path at -c1
//
// Only recv/recvfrom/recvmsg/readv, send/sendto/sendmsg/writev and epoll_wait/epoll_pwait are
// wrapped; each is clocked with CLOCK_MONOTONIC (vDSO, tens of ns) into a fixed array, and
// nothing is written until the process exits, so the proxy is slowed by well under a microsecond
// per request. The client's connection is the one that received the most bytes; every other
// socket is upstream. Meant for one client connection at a time (hop_latency, wrk -c1).
//
//   LD_PRELOAD=build/libhop_timeline.so HIR_TIMELINE_OUT=FILE PROXY ...
//
// FILE gets one line per part: the median and quartiles in µs over the requests seen; a %p in it
// becomes the process id.
#include <dlfcn.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

enum Kind : uint8_t { kRecv, kSend, kWait };

struct Event {
  uint64_t t0, t1;  // ns, at the call and at its return
  int32_t fd;       // -1 for epoll_wait
  int32_t ret;
  Kind kind;
};

constexpr size_t kCapacity = size_t{1} << 22;  // ~4M calls, 100 MB of address space, touched as used
Event* events() {
  static Event* e = static_cast<Event*>(std::calloc(kCapacity, sizeof(Event)));
  return e;
}
std::atomic<size_t> used{0};

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

void record(Kind k, int fd, long ret, uint64_t t0, uint64_t t1 = now_ns()) {
  const size_t i = used.fetch_add(1, std::memory_order_relaxed);
  Event* e = events();
  if (i < kCapacity && e) e[i] = Event{t0, t1, fd, static_cast<int32_t>(ret), k};
}

// Whether fd is a socket, asked once per descriptor number (a proxy's log file keeps its
// descriptor; a number closed and reused for another kind of file would be misread, which the
// proxies bench/hop_timeline.sh runs do not do while timed).
bool is_socket(int fd) {
  static std::atomic<int8_t> known[4096];  // 0 not asked, 1 a socket, -1 something else
  if (fd >= 0 && fd < 4096 && known[fd].load(std::memory_order_relaxed) != 0) return known[fd] > 0;
  int type = 0;
  socklen_t len = sizeof type;
  const bool s = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
  if (fd >= 0 && fd < 4096) known[fd].store(s ? 1 : -1, std::memory_order_relaxed);
  return s;
}

// One socket call, clocked: kept when `keep` says so (a MSG_PEEK read is not a request's read),
// or, with kIfSocket, when fd is a socket. errno is the call's own when the proxy looks at it.
enum Keep : int { kIfSocket = 2 };
template <typename F, typename... A>
ssize_t timed(Kind k, int keep, F* real, int fd, A... a) {
  const uint64_t t0 = now_ns();
  const ssize_t r = real(fd, a...);
  const uint64_t t1 = now_ns();
  const int saved = errno;
  if (keep == kIfSocket ? is_socket(fd) : keep != 0) record(k, fd, r, t0, t1);
  errno = saved;
  return r;
}

template <typename F>
F* next(const char* name) {
  return reinterpret_cast<F*>(dlsym(RTLD_NEXT, name));
}

struct Parts {
  std::vector<double> request, send_up, wait, to_sleep, answer, send_down, after;
};

// Walks the calls in time order: a request starts at a read of data on the client's socket and
// ends at the next epoll_wait after the client send that answered it. `request` is timed from the
// end of the first read.
Parts split(std::vector<Event>& ev) {
  std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) { return a.t0 < b.t0; });
  std::map<int, int64_t> read_bytes;
  for (const Event& e : ev)
    if (e.kind == kRecv && e.ret > 0) read_bytes[e.fd] += e.ret;
  // The client sends the larger messages (a request, against an answer); with one connection
  // each way the client's socket is the one read most.
  int client = -1;
  int64_t most = -1;
  for (auto [fd, n] : read_bytes)
    if (n > most) most = n, client = fd;
  Parts p;
  auto us = [](uint64_t a, uint64_t b) { return static_cast<double>(b - a) / 1000.0; };
  size_t i = 0;
  const size_t n = ev.size();
  auto find = [&](size_t from, auto pred) {
    while (from < n && !pred(ev[from])) ++from;
    return from;
  };
  while (i < n) {
    const size_t in = find(i, [&](const Event& e) { return e.kind == kRecv && e.fd == client && e.ret > 0; });
    const size_t up = find(in + 1, [&](const Event& e) { return e.kind == kSend && e.fd != client && e.ret > 0; });
    if (up >= n) break;
    const int ufd = ev[up].fd;
    const size_t sleep = find(up + 1, [](const Event& e) { return e.kind == kWait; });
    const size_t back = find(up + 1, [&](const Event& e) { return e.kind == kRecv && e.fd == ufd && e.ret > 0; });
    const size_t down = find(back + 1, [&](const Event& e) { return e.kind == kSend && e.fd == client && e.ret > 0; });
    const size_t idle = find(down + 1, [](const Event& e) { return e.kind == kWait; });
    if (idle >= n) break;
    // A request may come in several reads (nginx reads the head first); one read from the
    // client once the request went upstream means another request overlapped: skipped.
    const size_t other = find(up + 1, [&](const Event& e) { return e.kind == kRecv && e.fd == client && e.ret > 0; });
    if (other > down) {
      p.request.push_back(us(ev[in].t1, ev[up].t0));
      p.send_up.push_back(us(ev[up].t0, ev[up].t1));
      p.wait.push_back(us(ev[up].t1, ev[back].t1));
      if (sleep < back) p.to_sleep.push_back(us(ev[up].t1, ev[sleep].t0));
      p.answer.push_back(us(ev[back].t1, ev[down].t0));
      p.send_down.push_back(us(ev[down].t0, ev[down].t1));
      p.after.push_back(us(ev[down].t1, ev[idle].t0));
    }
    i = std::max(other, down);
  }
  return p;
}

void print(std::FILE* f, const char* name, std::vector<double>& v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))]; };
  std::fprintf(f, "%-10s p50 %7.1f us  [p25 %6.1f, p75 %6.1f]  n %zu\n", name, at(0.5), at(0.25), at(0.75), v.size());
}

struct AtExit {
  // Read when the library loads: nginx clears the environment of the workers it forks.
  AtExit() {
    if (const char* out = std::getenv("HIR_TIMELINE_OUT")) target = out;
  }
  std::string target;
  ~AtExit() {
    if (target.empty() || !events() || used.load() == 0) return;
    // %p becomes the process id: a proxy that forks its workers (nginx) writes a file for each.
    std::string path = target;
    if (auto at = path.find("%p"); at != std::string::npos) path.replace(at, 2, std::to_string(getpid()));
    std::vector<Event> ev(events(), events() + std::min(used.load(), kCapacity));
    Parts p = split(ev);
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return;
    std::fprintf(f, "# %zu system calls, %zu requests\n", ev.size(), p.request.size());
    print(f, "request", p.request);
    print(f, "send up", p.send_up);
    print(f, "wait", p.wait);
    print(f, " to sleep", p.to_sleep);
    print(f, "answer", p.answer);
    print(f, "send down", p.send_down);
    print(f, "after", p.after);
    std::fclose(f);
  }
} at_exit;

}  // namespace

extern "C" {

ssize_t recv(int fd, void* b, size_t n, int flags) {
  static auto* real = next<ssize_t(int, void*, size_t, int)>("recv");
  return timed(kRecv, !(flags & MSG_PEEK), real, fd, b, n, flags);
}

ssize_t recvfrom(int fd, void* b, size_t n, int flags, sockaddr* a, socklen_t* al) {
  static auto* real = next<ssize_t(int, void*, size_t, int, sockaddr*, socklen_t*)>("recvfrom");
  return timed(kRecv, !(flags & MSG_PEEK), real, fd, b, n, flags, a, al);
}

ssize_t recvmsg(int fd, msghdr* m, int flags) {
  static auto* real = next<ssize_t(int, msghdr*, int)>("recvmsg");
  return timed(kRecv, !(flags & MSG_PEEK), real, fd, m, flags);
}

ssize_t send(int fd, const void* b, size_t n, int flags) {
  static auto* real = next<ssize_t(int, const void*, size_t, int)>("send");
  return timed(kSend, true, real, fd, b, n, flags);
}

ssize_t sendto(int fd, const void* b, size_t n, int flags, const sockaddr* a, socklen_t al) {
  static auto* real = next<ssize_t(int, const void*, size_t, int, const sockaddr*, socklen_t)>("sendto");
  return timed(kSend, true, real, fd, b, n, flags, a, al);
}

ssize_t sendmsg(int fd, const msghdr* m, int flags) {
  static auto* real = next<ssize_t(int, const msghdr*, int)>("sendmsg");
  return timed(kSend, true, real, fd, m, flags);
}

// Sockets only, for readv and writev: a file or a pipe (a log) would otherwise count as a peer.
ssize_t readv(int fd, const iovec* v, int n) {
  static auto* real = next<ssize_t(int, const iovec*, int)>("readv");
  return timed(kRecv, kIfSocket, real, fd, v, n);
}

ssize_t writev(int fd, const iovec* v, int n) {
  static auto* real = next<ssize_t(int, const iovec*, int)>("writev");
  return timed(kSend, kIfSocket, real, fd, v, n);
}

int epoll_wait(int ep, epoll_event* ev, int max, int timeout) {
  static auto* real = next<int(int, epoll_event*, int, int)>("epoll_wait");
  const uint64_t t = now_ns();
  const int r = real(ep, ev, max, timeout);
  record(kWait, -1, r, t);
  return r;
}

int epoll_pwait(int ep, epoll_event* ev, int max, int timeout, const sigset_t* mask) {
  static auto* real = next<int(int, epoll_event*, int, int, const sigset_t*)>("epoll_pwait");
  const uint64_t t = now_ns();
  const int r = real(ep, ev, max, timeout, mask);
  record(kWait, -1, r, t);
  return r;
}

}  // extern "C"
