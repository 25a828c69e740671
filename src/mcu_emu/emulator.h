// hir-mcu-emu's engine: the firmware library (frame codec, request handler, int8 model) running
// on the host behind a pty or a TCP connection, with the timing of a real device. Bytes leave
// and arrive at the line's baud rate, an inference's RESULT is held back for the compute time
// the configured MAC rate gives, one request is served at a time (a request arriving meanwhile
// is answered ERROR busy, not queued), and a STATUS heartbeat goes out periodically. Fault
// switches make it drop, corrupt, stall and add garbage for tests.
//
// Thread-safety: serve_* runs on one thread; request_stop() may be called from any thread or a
// signal handler.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/rng.h"
#include "core/status.h"
#include "core/time.h"
#include "hirfw/device.h"
#include "hirfw/model.h"
#include "mcu_emu/pacing.h"
#include "mcu_emu/transport.h"

namespace hir::mcu_emu {

struct Faults {
  uint32_t drop_every = 0;     // drop every Nth well-formed incoming frame (0: never)
  uint32_t corrupt_every = 0;  // flip a byte in every Nth outgoing frame (0: never)
  int64_t stall_after = -1;    // after N inference results, answer nothing more (-1: never)
  int64_t deaf_after = -1;     // after N inference results, read nothing more, heartbeats still
                               // going: a receiver hung while the board lives (-1: never)
  int64_t busy_after = -1;     // after N inference results, answer every INFER with ERROR busy:
                               // firmware stuck in its busy state, heartbeats still going
  bool garbage = false;        // sometimes emit random bytes between outgoing frames
};

struct EmulatorConfig {
  std::string model_path;
  double baud = kDefaultBaud;
  double macs_per_second = kDefaultMacsPerSecond;
  Duration heartbeat = from_ms(200);  // 0: no heartbeat
  Faults faults;
  uint64_t seed = 1;  // for the garbage bytes
};

// Counters for tests and the exit log. Read while serving.
struct EmulatorStats {
  std::atomic<uint64_t> frames_in{0}, results{0}, dropped_by_fault{0}, corrupted{0},
      garbage_bytes{0}, heartbeats{0}, sessions{0};
};

class Emulator {
 public:
  // Loads and validates the model blob (into a fixed buffer; see kMaxBlobBytes).
  static Result<std::unique_ptr<Emulator>> create(const EmulatorConfig& config);
  ~Emulator();

  // Serves the pty until request_stop().
  Status serve_pty(const Pty& pty);
  // Accepts one TCP client at a time and serves it until it disconnects, until request_stop().
  Status serve_tcp(const TcpListener& listener);
  // Async-signal-safe.
  void request_stop();

  const hirfw_model& model() const { return model_; }
  const EmulatorStats& stats() const { return stats_; }
  const EmulatorConfig& config() const { return config_; }

  static constexpr size_t kMaxBlobBytes = 64 * 1024;
  static constexpr size_t kArenaBytes = 16 * 1024;

 private:
  explicit Emulator(const EmulatorConfig& config);
  enum class End { kStopped, kClosed };
  Result<End> serve_fd(int fd);
  bool stop_requested() const;

  EmulatorConfig config_;
  EmulatorStats stats_;
  Rng rng_;
  Fd wake_read_, wake_write_;
  std::atomic<bool> stop_{false};
  // The device's memory: the blob as it would sit in flash and the caller-owned arena.
  alignas(8) std::array<uint8_t, kMaxBlobBytes> blob_{};
  alignas(8) std::array<uint8_t, kArenaBytes> arena_{};
  size_t blob_len_ = 0;
  hirfw_model model_{};
  hirfw_device device_{};
  int64_t results_sent_ = 0;
  uint64_t frames_seen_ = 0, frames_sent_ = 0;

  friend class Session;
};

}  // namespace hir::mcu_emu
