#include "backends/mcu_device.h"

#include <poll.h>

#include <algorithm>
#include <cstring>

namespace hir::backends {

namespace {

std::string ms_text(Duration d) { return std::to_string(static_cast<int64_t>(to_ms(d))) + " ms"; }

}  // namespace

McuDevice::McuDevice(McuAddress addr, const McuPoolOptions& opt, size_t index, TimePoint now)
    : addr_(std::move(addr)),
      opt_(opt),
      index_(index),
      retry_at_(now),
      backoff_(opt.reconnect_min),
      id_(opt.first_request_id == 0 ? 1 : opt.first_request_id),
      busy_(now) {
  hirfw_decoder_init(&dec_);
}

short McuDevice::poll_events() const {
  if (!fd_.valid()) return 0;
  if (state_ == McuDeviceState::kConnecting) return POLLOUT;
  return static_cast<short>(POLLIN | (out_end_ > out_begin_ ? POLLOUT : 0));
}

TimePoint McuDevice::next_timer(TimePoint now) const {
  switch (state_) {
    case McuDeviceState::kDown: return retry_at_;
    case McuDeviceState::kConnecting:
    case McuDeviceState::kHandshake: return state_deadline_;
    case McuDeviceState::kUp: break;
  }
  TimePoint t = std::min(last_rx_ + opt_.heartbeat_interval * opt_.silence_periods,
                         std::max(last_rx_, last_probe_) + opt_.heartbeat_interval);
  if (req_) t = std::min(t, try_deadline_);
  return hold_until_ > now ? std::min(t, hold_until_) : t;
}

void McuDevice::tick(TimePoint now, McuSink& sink) {
  switch (state_) {
    case McuDeviceState::kDown:
      if (now >= retry_at_) connect(now, sink);
      return;
    case McuDeviceState::kConnecting:
      if (now >= state_deadline_) down("connect timed out", now, sink);
      return;
    case McuDeviceState::kHandshake:
      if (now < state_deadline_) return;
      if (info_sent_ < opt_.info_tries) {
        begin_handshake(now, sink);
      } else {
        down("no INFO reply to " + std::to_string(info_sent_) + " requests", now, sink);
      }
      return;
    case McuDeviceState::kUp: break;
  }
  if (req_ && now >= try_deadline_) {
    ++c_.timeouts;
    // A try cut short by the caller's own deadline says little about the device: a burst
    // queued behind one MCU runs out of budget while the device answers every try it gets. It
    // counts only when the device has not answered any INFER since the last cut try either (no
    // late result, no busy): a board that heartbeats but computes nothing would otherwise take
    // every short-budget request to its deadline for ever.
    if (!try_cut_by_caller_ || !answered_since_cut_) ++consecutive_timeouts_;
    answered_since_cut_ = false;
    abandoned_id_ = req_id_;  // its reply may still come: dropped then, and counted as stray
    McuRequest* r = req_;
    end_try(now);
    sink.hand_back(r, DeadlineExceeded("device " + addr_.url + " gave no reply within " +
                                       ms_text(now - try_start_)), true);
    if (consecutive_timeouts_ >= opt_.max_consecutive_timeouts)
      down(std::to_string(consecutive_timeouts_) + " tries in a row unanswered", now, sink);
    return;
  }
  const Duration silence = opt_.heartbeat_interval * opt_.silence_periods;
  if (now - last_rx_ >= silence) {
    down("silent for " + ms_text(now - last_rx_), now, sink);
    return;
  }
  // Ask for STATUS when the line has been quiet for a heartbeat period: it keeps a device whose
  // heartbeat is off (or lost) checked, also through a long inference (STATUS_REQUEST is
  // answered while busy), and its reply is a load report like a heartbeat.
  if (now - std::max(last_rx_, last_probe_) >= opt_.heartbeat_interval) {
    last_probe_ = now;
    send(HIRFW_T_STATUS_REQUEST, next_id(), nullptr, 0, now, sink);
  }
}

void McuDevice::connect(TimePoint now, McuSink& sink) {
  auto line = open_line(addr_);
  if (!line.ok()) {
    record_failure(line.status().message(), now, sink);
    return;
  }
  fd_ = std::move(line->fd);
  hirfw_decoder_init(&dec_);
  out_begin_ = out_end_ = 0;
  info_sent_ = 0;
  if (line->connecting) {
    state_ = McuDeviceState::kConnecting;
    state_deadline_ = now + opt_.connect_timeout;
    return;
  }
  begin_handshake(now, sink);
}

void McuDevice::begin_handshake(TimePoint now, McuSink& sink) {
  state_ = McuDeviceState::kHandshake;
  state_deadline_ = now + opt_.handshake_timeout;
  ++info_sent_;
  info_id_ = next_id();
  send(HIRFW_T_INFO_REQUEST, info_id_, nullptr, 0, now, sink);
}

void McuDevice::down(const std::string& why, TimePoint now, McuSink& sink) {
  if (state_ == McuDeviceState::kUp) ++c_.disconnects;
  fold_decoder_counters();
  fd_.reset();
  state_ = McuDeviceState::kDown;
  record_failure(why, now, sink);
  info_id_ = abandoned_id_ = 0;
  out_begin_ = out_end_ = 0;
  consecutive_timeouts_ = 0;
  answered_since_cut_ = true;
  busy_since_.reset();
  hold_until_ = {};
  if (req_) {
    McuRequest* r = req_;
    end_try(now);
    sink.hand_back(r, Unavailable("device " + addr_.url + " lost: " + why), true);
  }
  sink.went_down(*this);
}

// Every failed connection, handshake or line: the reason kept for stats, the next attempt backed
// off, and the sink told only of the first failure since the device was up.
void McuDevice::record_failure(const std::string& why, TimePoint now, McuSink& sink) {
  last_error_ = why;
  retry_at_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, opt_.reconnect_max);
  if (down_reported_) return;
  down_reported_ = true;
  sink.changed(*this);
}

void McuDevice::shut(const Status& why, TimePoint now, McuSink& sink) {
  fold_decoder_counters();
  fd_.reset();
  state_ = McuDeviceState::kDown;
  if (req_) {
    McuRequest* r = req_;
    end_try(now);
    sink.failed(r, why);
  }
}

bool McuDevice::send(uint8_t type, uint16_t id, const uint8_t* payload, size_t len, TimePoint now,
                     McuSink& sink) {
  if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
  if (out_.size() - out_end_ < HIRFW_FRAME_MAX_WIRE && out_begin_ > 0) {
    std::memmove(out_.data(), out_.data() + out_begin_, out_end_ - out_begin_);
    out_end_ -= out_begin_;
    out_begin_ = 0;
  }
  const size_t n = hirfw_frame_encode(type, id, payload, len, out_.data() + out_end_, out_.size() - out_end_);
  if (n == 0) return false;
  out_end_ += n;
  return flush(now, sink);
}

bool McuDevice::flush(TimePoint now, McuSink& sink) {
  const bool socket = addr_.kind == McuAddress::Kind::kTcp;
  while (out_begin_ < out_end_) {
    auto w = write_some(fd_.get(), socket, out_.data() + out_begin_, out_end_ - out_begin_);
    if (!w.ok()) {
      down(w.status().message(), now, sink);
      return false;
    }
    if (*w == 0) break;  // the line is full: poll for POLLOUT
    out_begin_ += *w;
  }
  return true;
}

void McuDevice::start(McuRequest* r, TimePoint now, McuSink& sink) {
  req_ = r;
  req_id_ = next_id();
  ++r->attempts;
  ++c_.infers_sent;
  try_start_ = now;
  r->try_started = now;
  if (r->attempts == 1) r->first_try = now;
  try_deadline_ = std::min(r->deadline, now + opt_.attempt_timeout);
  try_cut_by_caller_ = r->deadline < now + opt_.attempt_timeout;
  if (send(HIRFW_T_INFER, req_id_, r->pixels.data(), r->len, now, sink) || req_ != r) return;
  // Not sent and still ours: the output buffer had no room, so the line has taken none of the
  // frames before this one (a device that heartbeats but no longer reads). It is stuck: the
  // device goes down (its buffer dropped, the try counted, reconnected after a backoff). Handed
  // back as if it never ran, the request would be given to this same free-looking device again
  // and again, in a loop holding the pool's lock.
  down("the line takes no more bytes (output buffer full)", now, sink);
}

void McuDevice::end_try(TimePoint now) {
  busy_.add(try_start_, now);
  req_ = nullptr;
}

void McuDevice::on_poll(short revents, TimePoint now, McuSink& sink) {
  if (!fd_.valid() || revents == 0) return;
  if (state_ == McuDeviceState::kConnecting) {
    const Status st = finish_connect(fd_.get());
    if (!st.ok()) {
      down(st.message(), now, sink);
    } else {
      begin_handshake(now, sink);
    }
    return;
  }
  if (revents & (POLLIN | POLLHUP | POLLERR)) read_all(now, sink);
  if (!fd_.valid()) return;
  // A hang-up whose remaining bytes were read: the other side is gone (a pty whose emulator
  // exited, a bridge that closed) — fail the try now rather than at its deadline.
  if (revents & (POLLHUP | POLLERR)) {
    down("the line hung up", now, sink);
    return;
  }
  if (revents & POLLOUT) flush(now, sink);
}

void McuDevice::read_all(TimePoint now, McuSink& sink) {
  uint8_t buf[4096];
  // Bounded, so one chatty device cannot starve the others on the same thread.
  for (int round = 0; round < 16 && fd_.valid(); ++round) {
    auto r = read_some(fd_.get(), buf, sizeof buf);
    if (!r.ok()) {
      down(r.status().message(), now, sink);
      return;
    }
    if (*r == 0) return;
    size_t used = 0;
    while (used < *r && fd_.valid()) {
      hirfw_frame f;
      int got = 0;
      used += hirfw_decoder_feed(&dec_, buf + used, *r - used, &f, &got);
      if (got) on_frame(f, now, sink);
    }
  }
}

void McuDevice::on_frame(const hirfw_frame& f, TimePoint now, McuSink& sink) {
  ++c_.frames_ok;
  last_rx_ = now;
  switch (f.type) {
    case HIRFW_T_RESULT: return on_result(f, now, sink);
    case HIRFW_T_ERROR: return on_error(f, now, sink);
    case HIRFW_T_INFO: return on_info(f, now, sink);
    case HIRFW_T_STATUS: break;
    default: ++c_.stray_replies; return;  // not a device → host type
  }
  hirfw_status_msg s;
  if (hirfw_status_unpack(f.payload, f.len, &s) != HIRFW_OK) {
    ++c_.bad_payloads;
    return;
  }
  // Heartbeat (id 0) or the reply to one of our probes, maybe an older one: any STATUS is the
  // device's state now, so none is stray.
  ++c_.status_frames;
  last_status_ = s;
  if (state_ != McuDeviceState::kUp) return;
  if (!(s.flags & HIRFW_STATUS_MODEL_READY)) {
    down("the device reports no model ready", now, sink);
    return;
  }
  sink.status(*this, s);
}

void McuDevice::on_result(const hirfw_frame& f, TimePoint now, McuSink& sink) {
  if (!req_ || f.id != req_id_) {
    ++c_.stray_replies;
    if (f.id != 0 && f.id == abandoned_id_) {
      abandoned_id_ = 0;  // the abandoned try is over: the device is free again
      consecutive_timeouts_ = 0;  // and it answers
      answered_since_cut_ = true;
      busy_since_.reset();
      hold_until_ = {};
    }
    return;
  }
  hirfw_result_msg m;
  Status st = hirfw_result_unpack(f.payload, f.len, &m) == HIRFW_OK
                  ? check_result(m, info_.output_size)
                  : Internal("malformed RESULT payload");
  McuRequest* r = req_;
  end_try(now);
  if (!st.ok()) {
    // Passed the CRC but inconsistent: not an answer to trust. Try again rather than return it.
    ++c_.bad_payloads;
    sink.hand_back(r, Internal("device " + addr_.url + ": " + st.message()), true);
    return;
  }
  consecutive_timeouts_ = 0;
  answered_since_cut_ = true;
  busy_since_.reset();
  ++c_.results_ok;
  sink.succeeded(r, *this, m);
}

void McuDevice::on_error(const hirfw_frame& f, TimePoint now, McuSink& sink) {
  hirfw_error_msg e;
  if (hirfw_error_unpack(f.payload, f.len, &e) != HIRFW_OK) {
    ++c_.bad_payloads;
    return;  // a try that never gets its reply times out and is retried
  }
  const std::string what = "device " + addr_.url + " answered ERROR " + std::to_string(e.code) +
                           " (detail " + std::to_string(e.detail) + ")";
  if (state_ == McuDeviceState::kHandshake && f.id == info_id_) {
    down(what + " to INFO_REQUEST", now, sink);
    return;
  }
  if (!req_ || f.id != req_id_) {
    ++c_.stray_replies;
    return;
  }
  McuRequest* r = req_;
  end_try(now);
  answered_since_cut_ = true;
  switch (e.code) {
    case HIRFW_E_BUSY:
      // Still computing a try we abandoned: the request never ran, so it is not an attempt.
      ++c_.busy_replies;
      if (!busy_since_) busy_since_ = now;
      hold_until_ = now + opt_.busy_retry;
      sink.hand_back(r, Unavailable(what + ": busy"), false);
      // No try outlives attempt_timeout; busy for several of them with nothing finished is a
      // board stuck in its busy state, which would take every request it gets to its deadline.
      if (now - *busy_since_ >= opt_.attempt_timeout * opt_.max_consecutive_timeouts)
        down("busy for " + ms_text(now - *busy_since_) + " without finishing an inference", now, sink);
      return;
    case HIRFW_E_BAD_INPUT:
      ++c_.device_errors;
      sink.failed(r, InvalidArgument(what + ": the device expects " + std::to_string(e.detail) + " input bytes"));
      return;
    case HIRFW_E_NO_MODEL:
      ++c_.device_errors;
      sink.hand_back(r, Unavailable(what + ": no model"), true);
      down("no model loaded (hirfw status " + std::to_string(e.detail) + ")", now, sink);
      return;
    default:
      ++c_.device_errors;
      sink.failed(r, Internal(what));
      return;
  }
}

void McuDevice::on_info(const hirfw_frame& f, TimePoint now, McuSink& sink) {
  if (state_ != McuDeviceState::kHandshake || f.id != info_id_) {
    ++c_.stray_replies;
    return;
  }
  hirfw_info_msg info;
  if (hirfw_info_unpack(f.payload, f.len, &info) != HIRFW_OK) {
    ++c_.bad_payloads;
    down("malformed INFO reply", now, sink);
    return;
  }
  const size_t max_in = std::min<size_t>(info.max_payload, HIRFW_FRAME_MAX_PAYLOAD);
  std::string bad;
  if (info.input_encoding != HIRFW_INPUT_U8_PIXELS) bad = "unknown input encoding " + std::to_string(info.input_encoding);
  if (info.input_size == 0 || info.input_size > max_in) bad = "input size " + std::to_string(info.input_size) + " does not fit a frame";
  if (info.output_size == 0 || info.output_size > HIRFW_MAX_OUTPUTS) bad = "output size " + std::to_string(info.output_size);
  Status st = bad.empty() ? sink.accept_info(*this, info) : InvalidArgument("INFO: " + bad);
  if (!st.ok()) {
    down(st.message(), now, sink);
    return;
  }
  info_ = info;
  info_id_ = 0;
  state_ = McuDeviceState::kUp;
  ++c_.connects;
  backoff_ = opt_.reconnect_min;
  consecutive_timeouts_ = 0;
  last_probe_ = now;
  down_reported_ = false;
  sink.changed(*this);
}

uint16_t McuDevice::next_id() {
  // 1..65535, wrapping; 0 is the heartbeat's. Only the ids of the tries in flight are matched,
  // so a wrapped id can only be confused with a reply 65535 requests late.
  const uint16_t id = id_;
  id_ = id_ == 0xFFFF ? 1 : static_cast<uint16_t>(id_ + 1);
  return id;
}

void McuDevice::fold_decoder_counters() {
  c_.bad_crc += dec_.bad_crc;
  c_.bad_frame += dec_.bad_frame;
  hirfw_decoder_init(&dec_);
}

bool McuDevice::busy_flag() const {
  return req_ != nullptr || (last_status_ && (last_status_->flags & HIRFW_STATUS_BUSY));
}

double McuDevice::busy_fraction(TimePoint now) const {
  return busy_.fraction(now, req_ ? try_start_ : TimePoint{});
}

McuDeviceStats McuDevice::stats(TimePoint now) const {
  McuDeviceStats s;
  s.url = addr_.url;
  s.state = state_;
  s.in_flight = req_ != nullptr;
  s.last_error = last_error_;
  s.since_last_frame = last_rx_ == TimePoint{} ? Duration::zero() : now - last_rx_;
  s.busy_fraction = busy_fraction(now);
  s.input_size = info_.input_size;
  s.output_size = info_.output_size;
  s.model_crc32 = info_.model_crc32;
  s.macs = info_.macs;
  s.last_status = last_status_;
  s.counters = c_;
  s.counters.bad_crc += dec_.bad_crc;
  s.counters.bad_frame += dec_.bad_frame;
  return s;
}

}  // namespace hir::backends
