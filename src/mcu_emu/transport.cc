#include "mcu_emu/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hir::mcu_emu {

namespace {
Status errno_status(const std::string& what) {
  return Unavailable(what + ": " + std::strerror(errno));
}
}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

int Fd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno_status("fcntl");
  return Status::Ok();
}

Status make_raw(int fd) {
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return errno_status("tcgetattr");
  ::cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (::tcsetattr(fd, TCSANOW, &t) != 0) return errno_status("tcsetattr");
  return Status::Ok();
}

Result<Pty> Pty::open() {
  Pty p;
  p.master_.reset(::posix_openpt(O_RDWR | O_NOCTTY));
  if (!p.master_.valid()) return errno_status("posix_openpt");
  if (::grantpt(p.master_.get()) != 0) return errno_status("grantpt");
  if (::unlockpt(p.master_.get()) != 0) return errno_status("unlockpt");
  char name[128];
  if (::ptsname_r(p.master_.get(), name, sizeof name) != 0) return errno_status("ptsname");
  p.slave_path_ = name;
  p.slave_.reset(::open(name, O_RDWR | O_NOCTTY));
  if (!p.slave_.valid()) return errno_status("open " + p.slave_path_);
  HIR_RETURN_IF_ERROR(make_raw(p.slave_.get()));
  HIR_RETURN_IF_ERROR(set_nonblocking(p.master_.get()));
  return p;
}

Result<TcpListener> TcpListener::bind_loopback(int port) {
  if (port < 0 || port > 65535) return InvalidArgument("port out of range");
  TcpListener l;
  l.fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l.fd_.valid()) return errno_status("socket");
  const int one = 1;
  ::setsockopt(l.fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l.fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return errno_status("bind 127.0.0.1:" + std::to_string(port));
  if (::listen(l.fd_.get(), 1) != 0) return errno_status("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(l.fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return errno_status("getsockname");
  l.port_ = ntohs(addr.sin_port);
  HIR_RETURN_IF_ERROR(set_nonblocking(l.fd_.get()));
  return l;
}

}  // namespace hir::mcu_emu
