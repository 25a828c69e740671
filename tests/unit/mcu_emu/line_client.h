// The host end of the emulator's line for tests: opens the pty slave (or connects over TCP),
// sends frames and collects the device's frames with the firmware's own decoder.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "hirfw/frame.h"
#include "mcu_emu/transport.h"

namespace hir::mcu_emu::test {

struct Frame {
  uint8_t type;
  uint16_t id;
  std::vector<uint8_t> payload;
};

class LineClient {
 public:
  static std::optional<LineClient> open_pty(const std::string& path) {
    LineClient c;
    c.fd_.reset(::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK));
    if (!c.fd_.valid() || !make_raw(c.fd_.get()).ok()) return std::nullopt;
    ::tcflush(c.fd_.get(), TCIOFLUSH);  // whatever the device said before we opened the line
    return c;
  }
  static std::optional<LineClient> connect_tcp(int port) {
    LineClient c;
    c.fd_.reset(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::nullopt;
    if (!set_nonblocking(c.fd_.get()).ok()) return std::nullopt;
    return c;
  }

  bool write_raw(const std::vector<uint8_t>& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t w = ::write(fd_.get(), bytes.data() + off, bytes.size() - off);
      if (w < 0) {
        if (errno != EAGAIN) return false;
        pollfd p{fd_.get(), POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      off += static_cast<size_t>(w);
    }
    return true;
  }
  bool send(uint8_t type, uint16_t id, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> w(HIRFW_FRAME_MAX_WIRE);
    w.resize(hirfw_frame_encode(type, id, payload.data(), payload.size(), w.data(), w.size()));
    return !w.empty() && write_raw(w);
  }

  // Reads until a frame satisfying `want` arrives (returned) or `timeout` passes (nullopt).
  // Every frame read on the way is appended to seen().
  std::optional<Frame> wait_for(const std::function<bool(const Frame&)>& want, Duration timeout) {
    const TimePoint end = SteadyClock::now() + timeout;
    while (true) {
      while (!ready_.empty()) {
        Frame f = std::move(ready_.front());
        ready_.erase(ready_.begin());
        seen_.push_back(f);
        if (want(f)) return f;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - SteadyClock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      uint8_t buf[4096];
      const ssize_t r = ::read(fd_.get(), buf, sizeof buf);
      if (r <= 0) continue;
      size_t used = 0;
      while (used < static_cast<size_t>(r)) {
        hirfw_frame f;
        int got = 0;
        used += hirfw_decoder_feed(&dec_, buf + used, static_cast<size_t>(r) - used, &f, &got);
        if (got) ready_.push_back({f.type, f.id, {f.payload, f.payload + f.len}});
      }
    }
  }
  std::optional<Frame> wait_id(uint8_t type, uint16_t id, Duration timeout) {
    return wait_for([&](const Frame& f) { return f.type == type && f.id == id; }, timeout);
  }
  // Everything that arrives within `d`.
  std::vector<Frame> collect(Duration d) {
    const size_t before = seen_.size();
    wait_for([](const Frame&) { return false; }, d);
    return {seen_.begin() + static_cast<long>(before), seen_.end()};
  }

  const hirfw_decoder& decoder() const { return dec_; }
  const std::vector<Frame>& seen() const { return seen_; }

 private:
  LineClient() { hirfw_decoder_init(&dec_); }
  Fd fd_;
  hirfw_decoder dec_;
  std::vector<Frame> ready_, seen_;
};

}  // namespace hir::mcu_emu::test
