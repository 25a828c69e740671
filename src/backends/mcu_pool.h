// The router's `mcu` backend: a pool of MCUs serving one model variant over the frame protocol
// of docs/frame-protocol.md (serial or TCP; see mcu_address.h). docs/mcu-emulator.md, "Router
// side", describes its behaviour for operators.
//
// - One try in flight per device; requests wait in the pool (FIFO, up to max_outstanding) for
//   the next free device. Each try gets a fresh 16-bit id; only a reply carrying the id of the
//   try in flight is taken, anything else (late, unknown) is dropped and counted.
// - A try without a reply (lost frame, corrupted reply) is retried while the caller's deadline
//   and max_attempts allow. A lost line fails the request at once with kUnavailable (or moves it
//   to another device that is up), never waiting out the deadline.
// - Devices are connected, asked for INFO, health-checked (heartbeats, STATUS probes, timeouts)
//   and reconnected with backoff by the pool itself.
//
// Threading. The pool owns one I/O thread that polls every device's descriptor and a wake fd.
// submit(), stats(), load_report() and stop() are thread-safe and never block on I/O (they take
// a mutex the I/O thread holds only between polls). Completion, load and device callbacks run
// on the I/O thread, never under the pool's lock: they may call submit(), but must be quick and
// must not throw — an Asio service should post them to its own executor and return. Do not call
// stop() or destroy the pool from a callback.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/mcu_device.h"
#include "backends/mcu_line.h"
#include "backends/mcu_types.h"

namespace hir::backends {

class McuPool final : private McuSink {
 public:
  // Validates the options and every address (kInvalidArgument naming the bad one; the same
  // address twice is refused, since two handles on one line would interleave frames), allocates
  // all request storage and starts the I/O thread, which connects to the devices in the
  // background: poll any_up() or stats() to see them come up. on_load, if set, receives every
  // device STATUS (heartbeat or probe reply) as load reports. on_device, if set, hears each
  // device come up and go down (McuDeviceEvent: transitions only, not every reconnection try).
  static Result<std::unique_ptr<McuPool>> create(const std::vector<std::string>& urls,
                                                 McuPoolOptions opt = {},
                                                 McuLoadCallback on_load = {},
                                                 McuDeviceCallback on_device = {});
  ~McuPool() override;  // stop()
  McuPool(const McuPool&) = delete;
  McuPool& operator=(const McuPool&) = delete;

  // Queues one inference. Ok: cb runs exactly once, on the I/O thread, with the reply or an
  // error — kDeadlineExceeded (deadline passed), kUnavailable (line lost and no other device up;
  // pool stopped), kInvalidArgument (the device refused the input), kInternal (unexpected
  // device error). Not ok: cb never runs, nothing was sent —
  //   kInvalidArgument  the input does not fit the devices' model (mcu_codec.h says what does)
  //   kUnavailable      no device is up (or none has connected yet), or the pool is stopped
  //   kResourceExhausted max_outstanding requests are already held
  //   kDeadlineExceeded the deadline has already passed
  Status submit(const InferRequest& req, TimePoint deadline, McuCallback cb);

  // Fails every request still held with kUnavailable (callbacks run on the I/O thread before
  // this returns), closes the lines and joins the thread. Idempotent.
  void stop();

  McuPoolStats stats() const;
  // The pool as one routing target (concurrency = devices up, queue = requests waiting).
  routing::LoadReport load_report() const;
  bool any_up() const;
  // The devices' input size in bytes (from INFO or the options); 0 until known.
  size_t input_size() const { return input_size_.load(std::memory_order_acquire); }
  size_t size() const { return devices_.size(); }
  const McuPoolOptions& options() const { return opt_; }

 private:
  struct Completion {
    McuCallback cb;
    Result<McuReply> result;
  };

  McuPool(McuPoolOptions opt, McuLoadCallback on_load, McuDeviceCallback on_device);
  void run();
  void dispatch(TimePoint now);
  void deliver();
  void shutdown_locked();
  void finish(McuRequest* r, Result<McuReply> result);
  void fail_pending(const Status& why);
  bool any_up_locked() const;
  routing::LoadReport pool_load(TimePoint now) const;
  void wake();

  // McuSink (called by devices on the I/O thread, under mu_).
  void hand_back(McuRequest* r, Status why, bool count_attempt) override;
  void succeeded(McuRequest* r, const McuDevice& d, const hirfw_result_msg& m) override;
  void failed(McuRequest* r, Status why) override;
  Status accept_info(const McuDevice& d, const hirfw_info_msg& info) override;
  void status(const McuDevice& d, const hirfw_status_msg& s) override;
  void went_down(const McuDevice& d) override;
  void changed(const McuDevice& d) override;

  const McuPoolOptions opt_;
  const McuLoadCallback on_load_;
  const McuDeviceCallback on_device_;
  std::atomic<size_t> input_size_{0};
  size_t output_size_ = 0;
  std::optional<uint32_t> model_crc32_;  // the pool's model: set, or the first device's (I/O thread)
  UniqueFd wake_;

  mutable std::mutex mu_;  // guards everything below but the I/O thread's own buffers
  std::vector<std::unique_ptr<McuDevice>> devices_;
  std::vector<McuRequest> requests_;  // fixed storage, max_outstanding entries
  std::vector<McuRequest*> free_, pending_;
  size_t rr_ = 0;  // round-robin start for picking a free device
  bool stopping_ = false;
  TimePoint now_{};
  uint64_t submitted_ = 0, succeeded_ = 0, failed_ = 0, retried_ = 0;
  std::atomic<uint64_t> rejected_{0};

  // Filled under mu_ by the I/O thread, drained by it after unlocking (no other thread touches
  // them), so callbacks never run under the lock.
  std::vector<Completion> done_;
  std::vector<McuLoadEvent> loads_;
  std::vector<McuDeviceEvent> device_events_;
  std::thread thread_;
};

}  // namespace hir::backends
