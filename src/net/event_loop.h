// An event loop (an Asio io_context behind a small interface) that the server, the client and
// timers share. Thread-safe: post() and run_after() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "core/time.h"

namespace hir::net {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs handlers on `threads` threads (the caller's included) until stop().
  void run(int threads = 1);
  // Makes run() return once the handlers now running finish. Safe from any thread.
  void stop();
  bool stopped() const;
  // True on the one thread of a loop run with threads = 1: whatever runs on the loop runs on this
  // thread, one handler at a time, so a strand of this loop adds nothing to it here.
  bool alone_on_this_thread() const;

  void post(std::function<void()> fn);

  // A timer that can be cancelled. fn runs on the loop unless cancelled first.
  class Timer {
   public:
    virtual ~Timer() = default;
    virtual void cancel() = 0;
  };
  std::shared_ptr<Timer> run_after(Duration delay, std::function<void()> fn);

  // Calls fn (on the loop) when one of the signals arrives, each time it arrives.
  void on_signals(std::vector<int> signals, std::function<void(int)> fn);

  // The io_context, as a void* so that this header stays free of Asio (net/*.cc only).
  void* native();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hir::net
