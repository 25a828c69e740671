#include "worker/executor.h"

#include <algorithm>

namespace hir::worker {
namespace {
// 100 buckets of 100 ms for the default 10 s window: the busy share is right to about 1%.
constexpr int kBusyBuckets = 100;
}  // namespace

const Clock& Executor::default_clock() {
  static const RealClock clock;
  return clock;
}

Executor::Executor(ExecutorOptions opts, std::vector<Slot> slots, ModelLoader loader,
                   const Clock& clock)
    : opts_(opts),
      slots_(std::move(slots)),
      loader_(std::move(loader)),
      clock_(clock),
      busy_(opts.busy_window, kBusyBuckets, std::max(opts.concurrency, 1), clock.now()) {
  opts_.concurrency = std::max(opts_.concurrency, 1);
  running_since_.resize(static_cast<size_t>(opts_.concurrency));
  for (const Slot& s : slots_) latency_.try_emplace(s.model, opts_.latency_samples);
}

Executor::~Executor() { stop(); }

void Executor::start(std::function<void(std::vector<Status>)> on_loaded) {
  std::lock_guard lock(mu_);
  if (!threads_.empty() || stopping_) return;
  on_loaded_ = std::move(on_loaded);
  load_status_.assign(slots_.size(), Status::Ok());
  loading_threads_ = opts_.concurrency;
  for (int i = 0; i < opts_.concurrency; ++i)
    threads_.emplace_back([this, i] { thread_main(static_cast<size_t>(i)); });
}

Status Executor::submit(size_t slot, Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("the worker is shutting down");
    if (slot >= slots_.size()) return Internal("no such model slot");
    if (queue_.size() >= opts_.queue_depth)
      return ResourceExhausted("the worker's queue is full (" + std::to_string(opts_.queue_depth) +
                               " requests waiting); retry later");
    queue_.push_back({slot, std::move(job)});
    in_flight_.fetch_add(1, std::memory_order_relaxed);
  }
  cv_.notify_one();
  return Status::Ok();
}

void Executor::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads)
    if (t.joinable()) t.join();
}

size_t Executor::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void Executor::finish_loading(const std::vector<Status>& mine) {
  std::function<void(std::vector<Status>)> done;
  std::vector<Status> all;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < mine.size(); ++i)
      if (load_status_[i].ok() && !mine[i].ok()) load_status_[i] = mine[i];
    if (--loading_threads_ > 0) return;
    done = std::move(on_loaded_);
    all = load_status_;
  }
  if (done) done(std::move(all));
}

void Executor::thread_main(size_t index) {
  // Load on this thread: the instance is used only here, so it needs no lock.
  std::vector<std::unique_ptr<BatchModel>> models(slots_.size());
  std::vector<Status> loaded(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i) {
    auto m = loader_(slots_[i]);
    if (m.ok())
      models[i] = std::move(*m);
    else
      loaded[i] = m.status();
  }
  finish_loading(loaded);

  while (true) {
    Queued q;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and the queue is drained
      q = std::move(queue_.front());
      queue_.pop_front();
    }
    const TimePoint begin = clock_.now();
    {
      std::lock_guard lock(stats_mu_);
      running_since_[index] = begin;
    }
    Delivery deliver;
    try {
      deliver = q.job(models[q.slot].get());
    } catch (...) {
      // A bug in a job must not take the thread (and every later request) with it.
    }
    q.job = nullptr;  // release the request's buffers
    const TimePoint end = clock_.now();
    {
      std::lock_guard lock(stats_mu_);
      running_since_[index].reset();
      busy_.add(begin, end);
      latency_.at(slots_[q.slot].model).add(to_ms(end - begin));
    }
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (deliver) {
      try {
        deliver();
      } catch (...) {
      }
    }
  }
}

double Executor::busy_fraction() const {
  const TimePoint now = clock_.now();
  std::lock_guard lock(stats_mu_);
  std::vector<TimePoint> running;
  for (const auto& r : running_since_)
    if (r) running.push_back(*r);
  return busy_.fraction(now, running);
}

LoadSnapshot Executor::snapshot() const {
  LoadSnapshot s;
  s.in_flight = in_flight();
  s.queue_depth = queue_depth();
  s.queue_capacity = opts_.queue_depth;
  s.concurrency = opts_.concurrency;
  s.busy_fraction = busy_fraction();
  std::lock_guard lock(stats_mu_);
  for (const auto& [name, w] : latency_)
    s.models[name] = ModelLoad{w.count(), w.percentile(0.50), w.percentile(0.95)};
  return s;
}

}  // namespace hir::worker
