// The emulator's two line endpoints: a pseudo-terminal (the device as a serial port) and a TCP
// listener on 127.0.0.1 (a serial-to-TCP bridge, as ser2net or an ESP32 bridge would be). Plain
// POSIX; every descriptor is owned by an RAII Fd.
#pragma once

#include <string>

#include "core/status.h"

namespace hir::mcu_emu {

// An owned file descriptor: closed on destruction, movable, not copyable.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

Status set_nonblocking(int fd);

// A pseudo-terminal in raw mode (cfmakeraw: no echo, no line editing, 8 data bits). The emulator
// reads and writes the master; clients open slave_path() as they would /dev/ttyUSB0. The slave
// stays open here too, so the master never sees a hang-up when a client closes and reopens it.
class Pty {
 public:
  static Result<Pty> open();
  int master() const { return master_.get(); }
  const std::string& slave_path() const { return slave_path_; }

 private:
  Fd master_, slave_;
  std::string slave_path_;
};

// A listening TCP socket on 127.0.0.1; port 0 picks a free one (see port()).
class TcpListener {
 public:
  static Result<TcpListener> bind_loopback(int port);
  int fd() const { return fd_.get(); }
  int port() const { return port_; }

 private:
  Fd fd_;
  int port_ = 0;
};

// Puts a terminal descriptor (a pty slave or a serial port) in raw mode.
Status make_raw(int fd);

}  // namespace hir::mcu_emu
