// The byte pipe to one MCU: a serial port in raw mode or a TCP connection to a serial bridge.
// Every descriptor is non-blocking and close-on-exec, owned by a UniqueFd.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/mcu_address.h"
#include "core/status.h"

namespace hir::backends {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct OpenedLine {
  UniqueFd fd;
  bool connecting = false;  // TCP connect in progress: wait for POLLOUT, then finish_connect()
};

// Opens the line without blocking. Serial: open, raw mode (cfmakeraw, CLOCAL|CREAD, no flow
// control), the address's baud, then tcflush so stale bytes (heartbeats that piled up while
// nobody read) are not taken for replies. TCP: a non-blocking connect with TCP_NODELAY, since
// frames are small and latency is the point. Errors are kUnavailable with the system's reason.
Result<OpenedLine> open_line(const McuAddress& addr);

// After a pending TCP connect polled writable: ok, or why it failed.
Status finish_connect(int fd);

// One non-blocking read or write. Returns the bytes moved (0 when it would block), or an error
// when the line is gone (EOF, EIO from a pty whose other side closed, a reset connection).
Result<size_t> read_some(int fd, uint8_t* buf, size_t cap);
Result<size_t> write_some(int fd, bool socket, const uint8_t* buf, size_t len);

}  // namespace hir::backends
