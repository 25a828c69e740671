// One MCU on one line: connection, INFO handshake, one try in flight, replies matched by id,
// health and reconnection. A state machine driven by the pool's I/O thread — it owns no thread,
// reads no clock (`now` is passed in) and calls back into the pool through McuSink. Not
// thread-safe: the pool serialises every call under its mutex.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "backends/busy_meter.h"
#include "backends/mcu_address.h"
#include "backends/mcu_line.h"
#include "backends/mcu_types.h"
#include "hirfw/frame.h"
#include "hirfw/messages.h"

namespace hir::backends {

// One request held by the pool: its pixels, who to tell and by when. Storage is preallocated by
// the pool, so a request costs no allocation beyond the caller's own strings and callback.
struct McuRequest {
  std::array<uint8_t, HIRFW_FRAME_MAX_PAYLOAD> pixels{};
  uint16_t len = 0;
  std::string id, model;
  TimePoint submitted{}, deadline{};
  TimePoint try_started{};  // the current (or last) try's INFER frame
  TimePoint first_try{};    // the first try's INFER frame (unset before it)
  McuCallback cb;
  int attempts = 0;
};

class McuDevice;

// What a device tells the pool. Called from inside McuDevice methods.
class McuSink {
 public:
  virtual ~McuSink() = default;
  // The request's try ended without an answer (timeout, busy, lost line): retry or fail it.
  // count_attempt is false for ERROR busy (the request never ran).
  virtual void hand_back(McuRequest* r, Status why, bool count_attempt) = 0;
  virtual void succeeded(McuRequest* r, const McuDevice& d, const hirfw_result_msg& m) = 0;
  virtual void failed(McuRequest* r, Status why) = 0;
  // INFO arrived: ok to accept the device, or why it does not fit the pool.
  virtual Status accept_info(const McuDevice& d, const hirfw_info_msg& info) = 0;
  virtual void status(const McuDevice& d, const hirfw_status_msg& s) = 0;
  virtual void went_down(const McuDevice& d) = 0;
  // The device came up, or failed for the first time since it was last up (or since it was
  // created): once per transition, never per reconnection attempt.
  virtual void changed(const McuDevice& d) = 0;
};

class McuDevice {
 public:
  McuDevice(McuAddress addr, const McuPoolOptions& opt, size_t index, TimePoint now);

  size_t index() const { return index_; }
  McuDeviceState state() const { return state_; }
  bool up() const { return state_ == McuDeviceState::kUp; }
  bool in_flight() const { return req_ != nullptr; }
  // Up, nothing in flight, no busy back-off: start() may be called.
  bool can_take(TimePoint now) const { return up() && !req_ && now >= hold_until_; }
  const hirfw_info_msg& info() const { return info_; }
  const std::string& url() const { return addr_.url; }
  const std::string& last_error() const { return last_error_; }

  int fd() const { return fd_.get(); }
  short poll_events() const;  // for poll(); 0 when there is no descriptor
  // The earliest time after `now` at which tick() or the pool's dispatch has work.
  TimePoint next_timer(TimePoint now) const;

  void tick(TimePoint now, McuSink& sink);
  void on_poll(short revents, TimePoint now, McuSink& sink);
  void start(McuRequest* r, TimePoint now, McuSink& sink);
  // Closes the line and hands back the request in flight with `why` (used by stop()).
  void shut(const Status& why, TimePoint now, McuSink& sink);

  McuDeviceStats stats(TimePoint now) const;
  double busy_fraction(TimePoint now) const;
  bool busy_flag() const;  // the device's last STATUS said busy, or ours is in flight

 private:
  void connect(TimePoint now, McuSink& sink);
  void begin_handshake(TimePoint now, McuSink& sink);
  void down(const std::string& why, TimePoint now, McuSink& sink);
  void record_failure(const std::string& why, TimePoint now, McuSink& sink);
  bool send(uint8_t type, uint16_t id, const uint8_t* payload, size_t len, TimePoint now, McuSink& sink);
  bool flush(TimePoint now, McuSink& sink);
  void read_all(TimePoint now, McuSink& sink);
  void on_frame(const hirfw_frame& f, TimePoint now, McuSink& sink);
  void on_result(const hirfw_frame& f, TimePoint now, McuSink& sink);
  void on_error(const hirfw_frame& f, TimePoint now, McuSink& sink);
  void on_info(const hirfw_frame& f, TimePoint now, McuSink& sink);
  void end_try(TimePoint now);
  uint16_t next_id();
  void fold_decoder_counters();

  McuAddress addr_;
  const McuPoolOptions& opt_;
  size_t index_;
  McuDeviceState state_ = McuDeviceState::kDown;
  UniqueFd fd_;
  TimePoint retry_at_{};        // kDown: next connection attempt
  TimePoint state_deadline_{};  // kConnecting, kHandshake: give up (or resend INFO) then
  Duration backoff_;
  int info_sent_ = 0;
  hirfw_decoder dec_{};
  // Bytes queued for the line: at most an INFER and a STATUS_REQUEST at a time.
  std::array<uint8_t, 2 * HIRFW_FRAME_MAX_WIRE> out_{};
  size_t out_begin_ = 0, out_end_ = 0;
  uint16_t id_ = 1;
  uint16_t info_id_ = 0, abandoned_id_ = 0;
  McuRequest* req_ = nullptr;
  uint16_t req_id_ = 0;
  TimePoint try_start_{}, try_deadline_{}, hold_until_{};
  TimePoint last_rx_{}, last_probe_{};
  int consecutive_timeouts_ = 0;
  bool try_cut_by_caller_ = false;  // the try's deadline is the request's, not attempt_timeout
  bool answered_since_cut_ = true;  // some INFER reply came since the last try cut by its caller
  std::optional<TimePoint> busy_since_;  // first ERROR busy since the last finished inference
  hirfw_info_msg info_{};
  std::optional<hirfw_status_msg> last_status_;
  BusyMeter busy_;
  McuDeviceCounters c_;
  std::string last_error_;
  bool down_reported_ = false;  // the sink was told of a failure since the device was last up
};

}  // namespace hir::backends
