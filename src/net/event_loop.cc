#include "net/event_loop.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace hir::net {

namespace asio = boost::asio;

struct EventLoop::Impl {
  asio::io_context io;
  // Keeps run() going while there is no work, until stop().
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> ran{false};  // a run() has returned, so a stopped context may be restarted
  std::atomic<int> threads{0};   // running run()'s threads; 0 when none runs
  std::mutex mu;
  std::vector<std::unique_ptr<asio::signal_set>> signal_sets;  // destroyed before io
};

namespace {

class AsioTimer final : public EventLoop::Timer,
                        public std::enable_shared_from_this<AsioTimer> {
 public:
  AsioTimer(asio::io_context& io, std::function<void()> fn)
      : strand_(asio::make_strand(io)), timer_(strand_), fn_(std::move(fn)) {}

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
    // steady_timer is not thread-safe; touch it only on its strand. Cancelling wakes the wait at
    // once, which releases fn's captures without waiting for the deadline.
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

 private:
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::function<void()> fn_;  // touched only on strand_
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
  impl_->io.stop();
  std::lock_guard lk(impl_->mu);
  impl_->signal_sets.clear();
}

void EventLoop::run(int threads) {
  // A loop stopped by an earlier run() may be run again (tests do); a stop() that came before
  // any run() still makes this one return at once.
  if (impl_->io.stopped() && impl_->ran.load()) {
    impl_->io.restart();
    impl_->stop_requested = false;
  }
  impl_->threads = std::max(1, threads);
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& t : extra) t.join();
  impl_->threads = 0;
  impl_->ran = true;
}

bool EventLoop::alone_on_this_thread() const {
  return impl_->threads.load(std::memory_order_relaxed) == 1 && impl_->io.get_executor().running_in_this_thread();
}

void EventLoop::stop() {
  impl_->stop_requested = true;
  impl_->io.stop();
}

bool EventLoop::stopped() const { return impl_->stop_requested.load() || impl_->io.stopped(); }

void EventLoop::post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

std::shared_ptr<EventLoop::Timer> EventLoop::run_after(Duration delay, std::function<void()> fn) {
  auto t = std::make_shared<AsioTimer>(impl_->io, std::move(fn));
  t->start(delay);
  return t;
}

void EventLoop::on_signals(std::vector<int> signals, std::function<void(int)> fn) {
  auto set = std::make_unique<asio::signal_set>(impl_->io);
  for (int s : signals) {
    boost::system::error_code ec;
    set->add(s, ec);  // an invalid number is skipped rather than fatal
  }
  arm(*set, std::make_shared<std::function<void(int)>>(std::move(fn)));
  std::lock_guard lk(impl_->mu);
  impl_->signal_sets.push_back(std::move(set));
}

void* EventLoop::native() { return &impl_->io; }

}  // namespace hir::net
