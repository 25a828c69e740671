// An event loop (Asio io_contexts behind a small interface) that the server, the client and
// timers share. Thread-safe: post() and run_after() may be called from any thread.
//
// Each thread of the loop runs an io_context of its own. A connection lives on one context, so
// everything that touches it runs on one thread, one handler at a time, without a strand: strands
// (their atomic reference counts, copies and mutex) cost about a tenth of the router's CPU per
// proxied request (docs/perf/proxy.md). Connections are spread over the contexts as they come.
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

  // Runs handlers on `threads` threads (the caller's included) until stop(), each thread on its
  // own context. A later run() keeps at least as many threads as the first, so that nothing
  // handed to a context of the first run is left without a thread.
  // busy_poll: after the last handler ran, each thread looks for ready work without sleeping for
  // this long before it waits in the kernel (0: it waits at once). On a virtual machine a thread
  // asleep in epoll_wait is woken through an interrupt of its virtual CPU, which costs tens of
  // microseconds on every request at low load (docs/perf/proxy.md, "Busy polling"); a thread that
  // polls sees the next event at once, at the price of a core while it polls.
  void run(int threads = 1, Duration busy_poll = Duration::zero());
  // Makes run() return once the handlers now running finish. Safe from any thread.
  void stop();
  bool stopped() const;

  // Runs fn on the loop: on the calling thread's context when it is one of the loop's threads,
  // else on the next context in turn.
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

  // The io_contexts, as void* so that this header stays free of Asio (net/*.cc only).
  // native(): the first context, where listening sockets and signals live.
  // native_here(): the calling thread's context when it runs this loop, else the next in turn.
  // native_next(): the next context in turn (where a new connection goes).
  void* native();
  void* native_here();
  void* native_next();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hir::net
