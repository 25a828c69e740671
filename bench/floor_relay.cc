// floor_relay: the least a proxy can do, as a baseline for the added latency of one hop.
//
// Each accepted connection gets its own connection to the backend, and whatever one side sends
// is read once and written once to the other: one epoll_wait, one read and one write per
// direction, no parsing, no HTTP, no routing. Any proxy on the path does at least this much, so
// what it adds over `direct` at -c1 on a machine is the floor under every proxy's hop there
// (bench/compare.sh runs it as `floor`). It is a measuring tool, not a proxy: one thread,
// level-triggered epoll, a blocking poll() when a peer's send buffer is full, 127.0.0.1 only.
//
//   floor_relay --backend PORT [--port PORT] [--port-file FILE]
//
// Plain sockets, no library, like hop_latency.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace {

volatile sig_atomic_t stop = 0;

struct Side {
  int fd = -1;
  Side* peer = nullptr;
};

void usage() {
  std::fprintf(stderr,
               "usage: floor_relay --backend PORT [--port PORT] [--port-file FILE]\n"
               "  relays every connection to 127.0.0.1:PORT byte for byte (a baseline for what\n"
               "  one proxy hop costs; bench/compare.sh)\n");
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Writes all of [p, p+n) to fd, waiting up to 5 s whenever its send buffer is full.
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pf{fd, POLLOUT, 0};
      if (::poll(&pf, 1, 5000) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

void close_pair(int ep, Side* s) {
  Side* peer = s->peer;
  for (Side* x : {s, peer}) {
    epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, nullptr);
    ::close(x->fd);
  }
  delete s;
  delete peer;
}

}  // namespace

int main(int argc, char** argv) {
  int backend = 0, port = 0;
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--backend" && has_value) {
      backend = std::atoi(argv[++i]);
    } else if (a == "--port" && has_value) {
      port = std::atoi(argv[++i]);
    } else if (a == "--port-file" && has_value) {
      port_file = argv[++i];
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (backend <= 0 || backend > 65535 || port < 0 || port > 65535) {
    usage();
    return 2;
  }
  signal(SIGTERM, [](int) { stop = 1; });
  signal(SIGINT, [](int) { stop = 1; });

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(port);
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 4096) != 0) {
    std::perror("floor_relay: listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (!port_file.empty()) {
    // Written whole under another name, then renamed, so a reader never sees half a number.
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << ntohs(addr.sin_port) << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }

  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

  static char buf[1 << 16];
  epoll_event events[256];
  while (!stop) {
    int n = epoll_wait(ep, events, 256, 500);
    for (int i = 0; i < n; ++i) {
      auto* s = static_cast<Side*>(events[i].data.ptr);
      if (s == nullptr) {
        int cfd;
        while ((cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          int bfd = ::socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in b = loopback(backend);
          if (bfd < 0 || ::connect(bfd, reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) {
            std::perror("floor_relay: connect to the backend");
            if (bfd >= 0) ::close(bfd);
            ::close(cfd);
            continue;
          }
          fcntl(bfd, F_SETFL, fcntl(bfd, F_GETFL) | O_NONBLOCK);
          no_delay(cfd);
          no_delay(bfd);
          auto* c = new Side{cfd};
          auto* k = new Side{bfd, c};
          c->peer = k;
          for (Side* x : {c, k}) {
            epoll_event e{};
            e.events = EPOLLIN;
            e.data.ptr = x;
            epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &e);
          }
        }
        continue;
      }
      ssize_t r = ::recv(s->fd, buf, sizeof buf, 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0 || !write_all(s->peer->fd, buf, static_cast<size_t>(r))) {
        // One side closed or failed: both go, and the pair's other events this round (if any)
        // would point at freed memory, so the round ends here.
        close_pair(ep, s);
        break;
      }
    }
  }
  return 0;
}
