#include "mcu_emu/emulator.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

namespace hir::mcu_emu {

namespace {

using Bytes = std::vector<uint8_t>;

// Frames waiting to leave beyond this are not queued (a pty nobody reads fills up; a real
// device's heartbeats would be lost on an unread line as well).
constexpr size_t kMaxTxBacklog = 64 * 1024;

uint32_t modelled_infer_us(void* ctx, uint32_t macs) {
  return compute_us(macs, static_cast<const EmulatorConfig*>(ctx)->macs_per_second);
}

Duration us(uint32_t v) { return std::chrono::microseconds(v); }

}  // namespace

// One connection's line state: bytes in flight each way, with the times the line lets them
// through, and the inference whose result is still computing.
class Session {
 public:
  Session(Emulator& e, int fd) : e_(e), fd_(fd), bt_(byte_time(e.config_.baud)) {}

  Result<Emulator::End> run();

 private:
  struct Chunk {
    Bytes bytes;
    TimePoint ready;  // when its last byte has fully arrived at the line's rate
  };
  struct Pending {
    Bytes frame;
    TimePoint ready;
  };

  bool stalled() const {
    const int64_t n = e_.config_.faults.stall_after;
    return n >= 0 && e_.results_sent_ >= n;
  }
  bool deaf() const {
    const int64_t n = e_.config_.faults.deaf_after;
    return n >= 0 && e_.results_sent_ >= n;
  }
  bool wedged() const {
    const int64_t n = e_.config_.faults.busy_after;
    return n >= 0 && e_.results_sent_ >= n;
  }
  void deliver_due(TimePoint now);
  void handle(const hirfw_frame& f, TimePoint now);
  void send(const uint8_t* p, size_t n, TimePoint now);
  Status flush(TimePoint now);
  Status read_some(TimePoint now, bool* closed);
  std::optional<TimePoint> next_event() const;

  Emulator& e_;
  int fd_;
  Duration bt_;
  std::deque<Chunk> rx_;
  TimePoint rx_clock_{};
  Bytes tx_;
  TimePoint tx_clock_{};  // when the line finished (or will finish) its last byte
  bool tx_blocked_ = false;
  std::optional<Pending> pending_;
  TimePoint next_heartbeat_{};
  uint8_t reply_[HIRFW_FRAME_MAX_WIRE];
};

void Session::deliver_due(TimePoint now) {
  while (!rx_.empty() && rx_.front().ready <= now) {
    const Bytes bytes = std::move(rx_.front().bytes);
    rx_.pop_front();
    size_t used = 0;
    while (used < bytes.size()) {
      hirfw_frame f;
      int got = 0;
      used += hirfw_decoder_feed(&e_.device_.dec, bytes.data() + used, bytes.size() - used, &f, &got);
      if (!got) continue;
      e_.stats_.frames_in++;
      const uint32_t drop = e_.config_.faults.drop_every;
      if (drop != 0 && ++e_.frames_seen_ % drop == 0) {
        e_.stats_.dropped_by_fault++;  // lost on the line: the device never saw it
        continue;
      }
      if (!stalled()) handle(f, now);
    }
  }
}

void Session::handle(const hirfw_frame& f, TimePoint now) {
  const uint32_t before = e_.device_.infer_count;
  const size_t n = hirfw_device_handle(&e_.device_, &f, reply_, sizeof reply_);
  if (n == 0) return;
  if (e_.device_.infer_count == before) {
    send(reply_, n, now);  // ERROR, STATUS, INFO: answered at once
    return;
  }
  // An inference: the result leaves once the MCU would have finished computing it.
  e_.results_sent_++;
  e_.stats_.results++;
  e_.device_.busy = 1;
  pending_ = Pending{Bytes(reply_, reply_ + n), now + us(e_.device_.last_infer_us)};
}

void Session::send(const uint8_t* p, size_t n, TimePoint now) {
  if (tx_.size() + n > kMaxTxBacklog) return;
  Faults& fl = e_.config_.faults;
  if (fl.garbage && e_.rng_.below(4) == 0) {
    const uint32_t k = 1 + e_.rng_.below(16);
    for (uint32_t i = 0; i < k; ++i) tx_.push_back(static_cast<uint8_t>(e_.rng_.next()));
    e_.stats_.garbage_bytes += k;
  }
  const size_t start = tx_.size();
  tx_.insert(tx_.end(), p, p + n);
  if (fl.corrupt_every != 0 && ++e_.frames_sent_ % fl.corrupt_every == 0) {
    // Flip a byte inside the stuffed body; keep it non-zero so the frame stays one frame.
    uint8_t& b = tx_[start + n / 2];
    b = (b ^ 0x5A) != 0 ? static_cast<uint8_t>(b ^ 0x5A) : static_cast<uint8_t>(b ^ 0xA5);
    e_.stats_.corrupted++;
  }
  if (tx_clock_ < now) tx_clock_ = now;  // the line was idle
}

Status Session::flush(TimePoint now) {
  if (tx_.empty() || tx_blocked_) return Status::Ok();
  // Bytes whose last bit has left the UART by now; tx_clock_ is when the previous byte did.
  size_t due = 0;
  if (now >= tx_clock_ + bt_) due = static_cast<size_t>((now - tx_clock_) / bt_);
  due = std::min(due, tx_.size());
  if (due == 0) return Status::Ok();
  const ssize_t w = ::write(fd_, tx_.data(), due);
  if (w < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tx_blocked_ = true;
      return Status::Ok();
    }
    return Unavailable(std::string("write: ") + std::strerror(errno));
  }
  tx_.erase(tx_.begin(), tx_.begin() + w);
  tx_clock_ += bt_ * w;
  return Status::Ok();
}

Status Session::read_some(TimePoint now, bool* closed) {
  uint8_t buf[4096];
  const ssize_t r = ::read(fd_, buf, sizeof buf);
  if (r == 0) {
    *closed = true;
    return Status::Ok();
  }
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Status::Ok();
    if (errno == ECONNRESET || errno == EIO) {
      *closed = true;
      return Status::Ok();
    }
    return Unavailable(std::string("read: ") + std::strerror(errno));
  }
  // The bytes arrive one after another at the line's rate, no earlier than they were written.
  rx_clock_ = std::max(rx_clock_, now) + bt_ * r;
  rx_.push_back({Bytes(buf, buf + r), rx_clock_});
  return Status::Ok();
}

std::optional<TimePoint> Session::next_event() const {
  std::optional<TimePoint> t;
  auto take = [&](TimePoint c) { t = t ? std::min(*t, c) : c; };
  if (!rx_.empty()) take(rx_.front().ready);
  if (pending_) take(pending_->ready);
  if (!tx_.empty() && !tx_blocked_) take(tx_clock_ + bt_);
  if (e_.config_.heartbeat.count() > 0 && !stalled()) take(next_heartbeat_);
  return t;
}

Result<Emulator::End> Session::run() {
  // A result still computing for an earlier connection is gone with it.
  e_.device_.busy = wedged() ? 1 : 0;
  next_heartbeat_ = SteadyClock::now() + e_.config_.heartbeat;
  while (true) {
    if (e_.stop_requested()) return Emulator::End::kStopped;
    const TimePoint now = SteadyClock::now();
    deliver_due(now);
    if (pending_ && pending_->ready <= now) {
      send(pending_->frame.data(), pending_->frame.size(), now);
      pending_.reset();
      e_.device_.busy = wedged() ? 1 : 0;
    }
    if (e_.config_.heartbeat.count() > 0 && !stalled() && now >= next_heartbeat_) {
      const size_t n = hirfw_device_status_frame(&e_.device_, 0, reply_, sizeof reply_);
      send(reply_, n, now);
      e_.stats_.heartbeats++;
      next_heartbeat_ = now + e_.config_.heartbeat;
    }
    HIR_RETURN_IF_ERROR(flush(now));

    pollfd fds[2] = {{fd_, static_cast<short>((deaf() ? 0 : POLLIN) | (tx_blocked_ ? POLLOUT : 0)), 0},
                     {e_.wake_read_.get(), POLLIN, 0}};
    timespec ts{};
    const timespec* timeout = nullptr;
    if (const auto next = next_event()) {
      const auto wait = std::max(Duration::zero(), *next - SteadyClock::now());
      ts.tv_sec = static_cast<time_t>(wait.count() / 1000000000);
      ts.tv_nsec = static_cast<long>(wait.count() % 1000000000);
      timeout = &ts;
    }
    if (::ppoll(fds, 2, timeout, nullptr) < 0 && errno != EINTR)
      return Unavailable(std::string("poll: ") + std::strerror(errno));
    if (fds[1].revents & POLLIN) {
      uint8_t drain[64];
      while (::read(e_.wake_read_.get(), drain, sizeof drain) > 0) {
      }
    }
    if (fds[0].revents & POLLOUT) tx_blocked_ = false;
    if (deaf() && (fds[0].revents & (POLLHUP | POLLERR))) return Emulator::End::kClosed;
    if (!deaf() && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      bool closed = false;
      HIR_RETURN_IF_ERROR(read_some(SteadyClock::now(), &closed));
      if (closed) return Emulator::End::kClosed;
    }
  }
}

Emulator::Emulator(const EmulatorConfig& config) : config_(config), rng_(config.seed) {}

Emulator::~Emulator() = default;

Result<std::unique_ptr<Emulator>> Emulator::create(const EmulatorConfig& config) {
  if (!(config.baud > 0) || !(config.macs_per_second > 0))
    return InvalidArgument("baud and macs-per-second must be positive");
  std::unique_ptr<Emulator> e(new Emulator(config));
  FILE* f = std::fopen(config.model_path.c_str(), "rb");
  if (!f) return NotFound("model blob " + config.model_path + ": " + std::strerror(errno));
  e->blob_len_ = std::fread(e->blob_.data(), 1, e->blob_.size(), f);
  const bool more = std::fgetc(f) != EOF;
  std::fclose(f);
  if (more) return InvalidArgument("model blob larger than " + std::to_string(kMaxBlobBytes) + " bytes");
  const hirfw_status s =
      hirfw_model_init(&e->model_, e->blob_.data(), e->blob_len_, e->arena_.data(), e->arena_.size());
  if (s != HIRFW_OK)
    return InvalidArgument("model blob " + config.model_path + ": " + hirfw_status_name(s));
  hirfw_device_init(&e->device_, &e->model_, s);
  e->device_.infer_time = &modelled_infer_us;
  e->device_.infer_time_ctx = &e->config_;
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Internal("pipe2 failed");
  e->wake_read_.reset(p[0]);
  e->wake_write_.reset(p[1]);
  return e;
}

bool Emulator::stop_requested() const { return stop_.load(); }

void Emulator::request_stop() {
  stop_.store(true);
  const uint8_t one = 1;
  [[maybe_unused]] const ssize_t w = ::write(wake_write_.get(), &one, 1);
}

Result<Emulator::End> Emulator::serve_fd(int fd) {
  stats_.sessions++;
  Session s(*this, fd);
  return s.run();
}

Status Emulator::serve_pty(const Pty& pty) {
  auto r = serve_fd(pty.master());
  if (!r.ok()) return r.status();
  return Status::Ok();  // a pty never closes while the emulator holds its slave
}

Status Emulator::serve_tcp(const TcpListener& listener) {
  while (!stop_requested()) {
    pollfd fds[2] = {{listener.fd(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return Unavailable("poll on listener failed");
    if (stop_requested()) break;
    if (!(fds[0].revents & POLLIN)) continue;
    Fd client(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!client.valid()) continue;
    // The line sends its bytes as they leave the emulated UART, a few at a time: with Nagle's
    // algorithm on, each small write would wait for the peer's delayed ACK (~40 ms on Linux),
    // four times an MCU's whole inference. A serial bridge sends them at once, and so do we.
    int one = 1;
    ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto r = serve_fd(client.get());
    if (!r.ok()) std::fprintf(stderr, "hir-mcu-emu: session ended: %s\n", r.status().to_string().c_str());
    if (r.ok() && *r == End::kStopped) break;
  }
  return Status::Ok();
}

}  // namespace hir::mcu_emu
