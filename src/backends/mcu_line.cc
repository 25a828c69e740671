#include "backends/mcu_line.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hir::backends {

namespace {

Status sys_error(const std::string& what) {
  return Unavailable(what + ": " + std::strerror(errno));
}

Result<OpenedLine> open_serial(const McuAddress& a) {
  OpenedLine line;
  // O_NOCTTY: a serial port must never become our controlling terminal.
  line.fd.reset(::open(a.path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!line.fd.valid()) return sys_error("open " + a.path);
  termios t{};
  if (::tcgetattr(line.fd.get(), &t) != 0) return sys_error("tcgetattr " + a.path);
  ::cfmakeraw(&t);
  t.c_cflag |= CLOCAL | CREAD;  // ignore modem lines; enable the receiver
  t.c_cflag &= ~static_cast<tcflag_t>(CRTSCTS | CSTOPB);
  t.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  // VMIN 1 with O_NONBLOCK: an empty line reads as EAGAIN. (With VMIN 0 a tty reads 0 bytes
  // when empty, which could not be told from a hang-up.)
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  const auto speed = static_cast<speed_t>(termios_speed(a.baud));
  if (speed == 0 || ::cfsetispeed(&t, speed) != 0 || ::cfsetospeed(&t, speed) != 0)
    return Unavailable("serial " + a.path + ": cannot set " + std::to_string(a.baud) + " baud");
  if (::tcsetattr(line.fd.get(), TCSANOW, &t) != 0) return sys_error("tcsetattr " + a.path);
  if (::tcflush(line.fd.get(), TCIOFLUSH) != 0) return sys_error("tcflush " + a.path);
  return line;
}

Result<OpenedLine> open_tcp(const McuAddress& a) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, a.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(a.port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, a.host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(a.port);
    len = sizeof *v6;
  } else {
    return InvalidArgument("tcp host '" + a.host + "' is not a numeric address");
  }
  OpenedLine line;
  line.fd.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!line.fd.valid()) return sys_error("socket");
  const int one = 1;
  ::setsockopt(line.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(line.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) return sys_error("connect " + a.url);
    line.connecting = true;
  }
  return line;
}

}  // namespace

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<OpenedLine> open_line(const McuAddress& addr) {
  return addr.kind == McuAddress::Kind::kSerial ? open_serial(addr) : open_tcp(addr);
}

Status finish_connect(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return sys_error("getsockopt");
  if (err != 0) return Unavailable(std::string("connect: ") + std::strerror(err));
  return Status::Ok();
}

Result<size_t> read_some(int fd, uint8_t* buf, size_t cap) {
  while (true) {
    const ssize_t n = ::read(fd, buf, cap);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return Unavailable("the line was closed by the other side");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return sys_error("read");  // EIO: a pty whose emulator exited; ECONNRESET
  }
}

Result<size_t> write_some(int fd, bool socket, const uint8_t* buf, size_t len) {
  while (true) {
    // A socket gets send(MSG_NOSIGNAL): a reset peer must give EPIPE, not a SIGPIPE that would
    // kill the whole router. A serial port is no socket and takes write().
    const ssize_t n = socket ? ::send(fd, buf, len, MSG_NOSIGNAL) : ::write(fd, buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return sys_error("write");
  }
}

}  // namespace hir::backends
