#include "net/event_loop.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

namespace hir::net {

namespace asio = boost::asio;

namespace {

// The most threads a loop runs (the router's config allows 64).
constexpr int kMaxThreads = 256;

// One context and the guard that keeps its run() going while it has no work, until stop().
struct Context {
  // Concurrency hint 1: one thread runs it, so Asio queues what that thread posts to itself
  // without taking the scheduler's lock.
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
};

// The context the calling thread runs, and the loop it belongs to.
thread_local const void* tl_loop = nullptr;
thread_local asio::io_context* tl_io = nullptr;

}  // namespace

struct EventLoop::Impl {
  Impl() { ctx[0] = std::make_unique<Context>(); }
  // Created by run(), never destroyed before the loop: other threads read them without a lock
  // (up to `count`, published with release).
  std::array<std::unique_ptr<Context>, kMaxThreads> ctx;
  std::atomic<int> count{1};
  std::atomic<unsigned> next{0};  // round-robin over the contexts, for callers off the loop
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> ran{false};  // a run() has returned, so stopped contexts may be restarted
  std::mutex mu;
  std::vector<std::unique_ptr<asio::signal_set>> signal_sets;  // destroyed before the contexts

  asio::io_context& first() { return ctx[0]->io; }
  asio::io_context& next_in_turn() {
    const int n = count.load(std::memory_order_acquire);
    if (n == 1) return first();
    return ctx[next.fetch_add(1, std::memory_order_relaxed) % static_cast<unsigned>(n)]->io;
  }
  asio::io_context& here() { return tl_loop == this ? *tl_io : next_in_turn(); }
};

namespace {

class AsioTimer final : public EventLoop::Timer,
                        public std::enable_shared_from_this<AsioTimer> {
 public:
  AsioTimer(asio::io_context& io, std::function<void()> fn) : timer_(io), fn_(std::move(fn)) {}

  void start(Duration delay) {
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code) {
      // The flag, not the error code, decides: cancel() may land after the timer fired but
      // before this handler ran, and a cancelled fn must never run.
      auto fn = std::move(self->fn_);
      self->fn_ = nullptr;
      if (!self->cancelled_.load(std::memory_order_acquire) && fn) fn();
    });
  }

  void cancel() override {
    cancelled_.store(true, std::memory_order_release);
    // steady_timer is not thread-safe; touch it only on its context's thread. Cancelling wakes
    // the wait at once, which releases fn's captures without waiting for the deadline.
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
  }

 private:
  asio::steady_timer timer_;
  std::function<void()> fn_;  // touched only on the timer's context
  std::atomic<bool> cancelled_{false};
};

// Re-arms after each signal so that fn sees every one, not just the first.
void arm(asio::signal_set& set, std::shared_ptr<std::function<void(int)>> fn) {
  set.async_wait([&set, fn](boost::system::error_code ec, int sig) {
    if (ec) return;  // the set was cancelled or destroyed
    (*fn)(sig);
    arm(set, fn);
  });
}

}  // namespace

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}

EventLoop::~EventLoop() {
  for (auto& c : impl_->ctx)
    if (c) c->io.stop();
  std::lock_guard lk(impl_->mu);
  impl_->signal_sets.clear();
}

void EventLoop::run(int threads, Duration busy_poll) {
  Impl& im = *impl_;
  const int n = std::clamp(threads, im.count.load(), kMaxThreads);
  for (int i = im.count.load(); i < n; ++i) im.ctx[static_cast<size_t>(i)] = std::make_unique<Context>();
  im.count.store(n, std::memory_order_release);
  // A loop stopped by an earlier run() may be run again (tests do); a stop() that came before
  // any run() (or while the contexts above were made) still makes this one return at once.
  if (im.ran.load() && im.first().stopped()) {
    for (int i = 0; i < n; ++i) im.ctx[static_cast<size_t>(i)]->io.restart();
    im.stop_requested = false;
  }
  if (im.stop_requested.load())
    for (int i = 0; i < n; ++i) im.ctx[static_cast<size_t>(i)]->io.stop();
  auto run_one = [&im, busy_poll](int i) {
    tl_loop = &im;
    tl_io = &im.ctx[static_cast<size_t>(i)]->io;
    if (busy_poll <= Duration::zero()) {
      tl_io->run();
    } else {
      // poll() runs what is ready, the reactor's epoll_wait with a zero timeout included; only
      // after busy_poll without work does run_one() sleep in the kernel, until the next handler.
      asio::io_context& io = *tl_io;
      auto last = SteadyClock::now();
      while (!io.stopped()) {
        if (io.poll() > 0) {
          last = SteadyClock::now();
        } else if (SteadyClock::now() - last >= busy_poll) {
          if (io.run_one() == 0) break;
          last = SteadyClock::now();
        }
      }
    }
    tl_loop = nullptr;
    tl_io = nullptr;
  };
  std::vector<std::thread> extra;
  for (int i = 1; i < n; ++i) extra.emplace_back(run_one, i);
  run_one(0);
  for (auto& t : extra) t.join();
  im.ran = true;
}

void EventLoop::stop() {
  impl_->stop_requested = true;
  const int n = impl_->count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) impl_->ctx[static_cast<size_t>(i)]->io.stop();
}

bool EventLoop::stopped() const { return impl_->stop_requested.load() || impl_->ctx[0]->io.stopped(); }

void EventLoop::post(std::function<void()> fn) { asio::post(impl_->here(), std::move(fn)); }

std::shared_ptr<EventLoop::Timer> EventLoop::run_after(Duration delay, std::function<void()> fn) {
  auto t = std::make_shared<AsioTimer>(impl_->here(), std::move(fn));
  t->start(delay);
  return t;
}

void EventLoop::on_signals(std::vector<int> signals, std::function<void(int)> fn) {
  auto set = std::make_unique<asio::signal_set>(impl_->first());
  for (int s : signals) {
    boost::system::error_code ec;
    set->add(s, ec);  // an invalid number is skipped rather than fatal
  }
  arm(*set, std::make_shared<std::function<void(int)>>(std::move(fn)));
  std::lock_guard lk(impl_->mu);
  impl_->signal_sets.push_back(std::move(set));
}

void* EventLoop::native() { return &impl_->first(); }
void* EventLoop::native_here() { return &impl_->here(); }
void* EventLoop::native_next() { return &impl_->next_in_turn(); }

}  // namespace hir::net
