#include "backends/mcu_pool.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>

namespace hir::backends {

std::string_view device_state_name(McuDeviceState s) {
  switch (s) {
    case McuDeviceState::kDown: return "down";
    case McuDeviceState::kConnecting: return "connecting";
    case McuDeviceState::kHandshake: return "handshake";
    case McuDeviceState::kUp: return "up";
  }
  return "unknown";
}

size_t McuPoolStats::devices_up() const {
  return static_cast<size_t>(std::count_if(devices.begin(), devices.end(),
                                           [](const McuDeviceStats& d) { return d.state == McuDeviceState::kUp; }));
}

namespace {

Status check_options(const McuPoolOptions& o) {
  const auto positive = [](Duration d) { return d > Duration::zero(); };
  if (o.max_outstanding == 0) return InvalidArgument("mcu pool: max_outstanding must be at least 1");
  if (o.max_attempts < 1) return InvalidArgument("mcu pool: max_attempts must be at least 1");
  if (o.silence_periods < 1 || o.max_consecutive_timeouts < 1 || o.info_tries < 1)
    return InvalidArgument("mcu pool: silence_periods, max_consecutive_timeouts and info_tries must be at least 1");
  if (!positive(o.attempt_timeout) || !positive(o.heartbeat_interval) || !positive(o.connect_timeout) ||
      !positive(o.handshake_timeout) || !positive(o.reconnect_min) || o.reconnect_max < o.reconnect_min)
    return InvalidArgument("mcu pool: timeouts and intervals must be positive, reconnect_max >= reconnect_min");
  if (o.expected_input_size > HIRFW_FRAME_MAX_PAYLOAD)
    return InvalidArgument("mcu pool: expected_input_size exceeds a frame's payload (1024)");
  return Status::Ok();
}

timespec to_timespec(Duration d) {
  if (d < Duration::zero()) d = Duration::zero();
  // Wake at least once a second regardless: cheap, and it bounds the effect of any timer bug.
  if (d > std::chrono::seconds(1)) d = std::chrono::seconds(1);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

}  // namespace

McuPool::McuPool(McuPoolOptions opt, McuLoadCallback on_load, McuDeviceCallback on_device)
    : opt_(std::move(opt)), on_load_(std::move(on_load)), on_device_(std::move(on_device)) {}

Result<std::unique_ptr<McuPool>> McuPool::create(const std::vector<std::string>& urls,
                                                 McuPoolOptions opt, McuLoadCallback on_load,
                                                 McuDeviceCallback on_device) {
  if (urls.empty()) return InvalidArgument("mcu pool '" + opt.name + "': no device addresses");
  HIR_RETURN_IF_ERROR(check_options(opt));
  std::vector<McuAddress> addrs;
  std::set<std::string> seen;
  for (const auto& u : urls) {
    auto a = parse_mcu_address(u);
    if (!a.ok()) return a.status();
    const std::string key = a->kind == McuAddress::Kind::kSerial ? a->path : a->host + ":" + std::to_string(a->port);
    if (!seen.insert(key).second) return InvalidArgument("mcu pool '" + opt.name + "': " + u + " is listed twice");
    addrs.push_back(std::move(*a));
  }
  std::unique_ptr<McuPool> p(new McuPool(std::move(opt), std::move(on_load), std::move(on_device)));
  p->wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!p->wake_.valid()) return Unavailable(std::string("mcu pool: eventfd: ") + std::strerror(errno));
  const TimePoint now = SteadyClock::now();
  for (size_t i = 0; i < addrs.size(); ++i)
    p->devices_.push_back(std::make_unique<McuDevice>(std::move(addrs[i]), p->opt_, i, now));
  p->input_size_.store(p->opt_.expected_input_size, std::memory_order_release);
  p->requests_.resize(p->opt_.max_outstanding);
  for (auto& r : p->requests_) p->free_.push_back(&r);
  p->pending_.reserve(p->opt_.max_outstanding);
  p->done_.reserve(p->opt_.max_outstanding);
  p->loads_.reserve(p->devices_.size());
  p->device_events_.reserve(p->devices_.size());
  try {
    p->thread_ = std::thread([raw = p.get()] { raw->run(); });
  } catch (const std::system_error& e) {
    return Unavailable(std::string("mcu pool: cannot start its thread: ") + e.what());
  }
  return p;
}

McuPool::~McuPool() { stop(); }

void McuPool::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void McuPool::wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  [[maybe_unused]] const ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

Status McuPool::submit(const InferRequest& req, TimePoint deadline, McuCallback cb) {
  const auto reject = [this](Status s) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return s;
  };
  if (!cb) return reject(InvalidArgument("mcu pool: submit without a callback"));
  // Check and convert before taking the lock: the input size never changes once known.
  const size_t in = input_size();
  std::array<uint8_t, HIRFW_FRAME_MAX_PAYLOAD> px;
  if (in != 0) {
    Status st = pixels_from_request(req, in, px.data());
    if (!st.ok()) return reject(std::move(st));
  }
  const TimePoint now = SteadyClock::now();
  {
    std::lock_guard lk(mu_);
    if (stopping_) return reject(Unavailable("mcu pool '" + opt_.name + "' is stopped"));
    if (in == 0 || !any_up_locked()) {
      std::string why;
      for (const auto& d : devices_)
        if (!d->last_error().empty()) why += (why.empty() ? " (" : "; ") + d->url() + ": " + d->last_error();
      return reject(Unavailable("mcu pool '" + opt_.name + "': no device is up" + (why.empty() ? "" : why + ")")));
    }
    if (deadline <= now) return reject(DeadlineExceeded("mcu pool: the deadline has already passed"));
    if (free_.empty())
      return reject(ResourceExhausted("mcu pool '" + opt_.name + "': all " +
                                      std::to_string(opt_.max_outstanding) + " request slots in use"));
    McuRequest* r = free_.back();
    free_.pop_back();
    std::memcpy(r->pixels.data(), px.data(), in);
    r->len = static_cast<uint16_t>(in);
    r->id = req.id;
    r->model = req.model_name;
    r->submitted = now;
    r->deadline = deadline;
    r->cb = std::move(cb);
    r->attempts = 0;
    pending_.push_back(r);
    ++submitted_;
  }
  wake();
  return Status::Ok();
}

void McuPool::run() {
  std::vector<pollfd> pfds;
  std::vector<size_t> owner;
  pfds.reserve(devices_.size() + 1);
  owner.reserve(devices_.size());
  std::unique_lock lk(mu_);
  while (true) {
    now_ = SteadyClock::now();
    if (stopping_) {
      shutdown_locked();
      lk.unlock();
      deliver();
      return;
    }
    for (auto& d : devices_) d->tick(now_, *this);
    dispatch(now_);
    TimePoint next = TimePoint::max();
    for (const auto& d : devices_) next = std::min(next, d->next_timer(now_));
    for (const McuRequest* r : pending_) next = std::min(next, r->deadline);
    pfds.clear();
    owner.clear();
    pfds.push_back({wake_.get(), POLLIN, 0});
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (const short ev = devices_[i]->poll_events()) {
        pfds.push_back({devices_[i]->fd(), ev, 0});
        owner.push_back(i);
      }
    }
    lk.unlock();
    deliver();
    const timespec ts = to_timespec(next == TimePoint::max() ? std::chrono::seconds(1) : next - SteadyClock::now());
    const int n = ::ppoll(pfds.data(), pfds.size(), &ts, nullptr);
    lk.lock();
    now_ = SteadyClock::now();
    if (n <= 0) continue;  // timeout, or EINTR: the timers are checked at the top
    if (pfds[0].revents) {
      uint64_t v;
      [[maybe_unused]] const ssize_t r = ::read(wake_.get(), &v, sizeof v);
    }
    for (size_t k = 1; k < pfds.size(); ++k)
      if (pfds[k].revents) devices_[owner[k - 1]]->on_poll(pfds[k].revents, now_, *this);
  }
}

void McuPool::dispatch(TimePoint now) {
  auto keep = pending_.begin();
  for (McuRequest* r : pending_) {
    if (now >= r->deadline) {
      finish(r, DeadlineExceeded("mcu pool '" + opt_.name + "': deadline passed after " +
                                 std::to_string(r->attempts) + " tries (no device free in time)"));
    } else {
      *keep++ = r;
    }
  }
  pending_.erase(keep, pending_.end());
  const size_t n = devices_.size();
  while (!pending_.empty()) {
    McuDevice* free_dev = nullptr;
    for (size_t k = 0; k < n && !free_dev; ++k) {
      McuDevice* d = devices_[(rr_ + k) % n].get();
      if (d->can_take(now)) free_dev = d;
    }
    if (!free_dev) return;
    rr_ = (free_dev->index() + 1) % n;
    McuRequest* r = pending_.front();
    pending_.erase(pending_.begin());
    free_dev->start(r, now, *this);  // on failure the request comes back through hand_back
  }
}

void McuPool::deliver() {
  for (auto& c : done_) c.cb(std::move(c.result));
  done_.clear();
  if (on_load_)
    for (const auto& e : loads_) on_load_(e);
  loads_.clear();
  if (on_device_)
    for (const auto& e : device_events_) on_device_(e);
  device_events_.clear();
}

void McuPool::shutdown_locked() {
  const Status why = Unavailable("mcu pool '" + opt_.name + "' stopped");
  for (auto& d : devices_) d->shut(why, now_, *this);
  fail_pending(why);
}

void McuPool::fail_pending(const Status& why) {
  for (McuRequest* r : pending_) finish(r, why);
  pending_.clear();
}

void McuPool::finish(McuRequest* r, Result<McuReply> result) {
  ++(result.ok() ? succeeded_ : failed_);
  done_.push_back(Completion{std::move(r->cb), std::move(result)});
  r->cb = nullptr;
  r->id.clear();
  r->model.clear();
  free_.push_back(r);
}

bool McuPool::any_up_locked() const {
  return std::any_of(devices_.begin(), devices_.end(), [](const auto& d) { return d->up(); });
}

bool McuPool::any_up() const {
  std::lock_guard lk(mu_);
  return any_up_locked();
}

void McuPool::hand_back(McuRequest* r, Status why, bool count_attempt) {
  if (!count_attempt) --r->attempts;
  const std::string tries = " (after " + std::to_string(r->attempts) + " tries)";
  if (now_ >= r->deadline) {
    finish(r, DeadlineExceeded("mcu pool '" + opt_.name + "': deadline passed; last try: " + why.message()));
  } else if (r->attempts >= opt_.max_attempts || !any_up_locked()) {
    finish(r, Status(why.code(), why.message() + tries));
  } else {
    ++retried_;
    pending_.insert(pending_.begin(), r);  // first in line: it has waited longest
  }
}

void McuPool::succeeded(McuRequest* r, const McuDevice& d, const hirfw_result_msg& m) {
  McuReply reply;
  reply.response = make_response(r->id, r->model, m, opt_.output_name);
  reply.top_class = m.top_class;
  std::memcpy(&reply.top_probability, reply.response.outputs[0].data.data() + sizeof(float) * m.top_class,
              sizeof(float));
  reply.device_time = std::chrono::microseconds(m.infer_us);
  reply.latency = now_ - r->submitted;
  reply.occupied = now_ - r->try_started;
  reply.since_first_try = now_ - r->first_try;
  reply.device = d.index();
  reply.attempts = r->attempts;
  finish(r, std::move(reply));
}

void McuPool::failed(McuRequest* r, Status why) { finish(r, std::move(why)); }

Status McuPool::accept_info(const McuDevice&, const hirfw_info_msg& info) {
  const size_t want = input_size();
  if (want != 0 && info.input_size != want)
    return InvalidArgument("model takes " + std::to_string(info.input_size) + " input bytes, the pool's " +
                           std::to_string(want) + " (one pool serves one model)");
  if (output_size_ != 0 && info.output_size != output_size_)
    return InvalidArgument("model has " + std::to_string(info.output_size) + " outputs, the pool's " +
                           std::to_string(output_size_));
  // Same sizes are not the same model: one flashed with another blob would answer as this pool's
  // variant, wrongly. The model's CRC-32 (frame-protocol.md, INFO) says which it runs.
  if (!model_crc32_) model_crc32_ = opt_.model_crc32;
  if (model_crc32_ && info.model_crc32 != *model_crc32_) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "runs the model with CRC-32 0x%08x, the pool's is 0x%08x (one pool serves one model)",
                  info.model_crc32, *model_crc32_);
    return InvalidArgument(buf);
  }
  model_crc32_ = info.model_crc32;
  output_size_ = info.output_size;
  input_size_.store(info.input_size, std::memory_order_release);
  return Status::Ok();
}

void McuPool::status(const McuDevice& d, const hirfw_status_msg& s) {
  if (!on_load_) return;
  McuLoadEvent e;
  e.device = d.index();
  e.device_report = load_report_from_status(s, d.busy_fraction(now_));
  e.pool_report = pool_load(now_);
  loads_.push_back(std::move(e));
}

void McuPool::went_down(const McuDevice& d) {
  if (any_up_locked() || pending_.empty()) return;
  // Nothing left to serve the queue: fail it now so the router falls back within the deadline.
  fail_pending(Unavailable("mcu pool '" + opt_.name + "': no device up (" + d.url() + ": " + d.last_error() + ")"));
}

void McuPool::changed(const McuDevice& d) {
  if (!on_device_) return;
  device_events_.push_back({d.index(), d.url(), d.up(), d.up() ? std::string() : d.last_error()});
}

routing::LoadReport McuPool::pool_load(TimePoint now) const {
  routing::LoadReport r;
  uint32_t up = 0;
  double busy = 0;
  for (const auto& d : devices_) {
    if (!d->up()) continue;
    ++up;
    busy += d->busy_fraction(now);
    if (d->busy_flag()) ++r.in_flight;
  }
  r.queue_depth = static_cast<uint32_t>(pending_.size());
  r.queue_capacity = pool_queue_capacity(opt_.max_outstanding, up);
  r.concurrency = std::max<uint32_t>(1, up);
  r.busy_fraction = up ? busy / up : 0;
  return r;
}

routing::LoadReport McuPool::load_report() const {
  std::lock_guard lk(mu_);
  return pool_load(SteadyClock::now());
}

McuPoolStats McuPool::stats() const {
  std::lock_guard lk(mu_);
  const TimePoint now = SteadyClock::now();
  McuPoolStats s;
  for (const auto& d : devices_) {
    s.devices.push_back(d->stats(now));
    if (d->in_flight()) ++s.in_flight;
  }
  s.pending = pending_.size();
  s.submitted = submitted_;
  s.succeeded = succeeded_;
  s.failed = failed_;
  s.retried = retried_;
  s.rejected = rejected_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace hir::backends
