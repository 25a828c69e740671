// Internal to src/net (server.cc, client.cc): a TCP socket with a deadline, kept lazily.
//
// Beast's basic_stream arms a timer when each read or write starts and cancels it when the
// operation ends: per proxied request that was four timer-queue insertions, four cancellations
// and four cancelled handlers run through the scheduler, ~3k instructions (docs/perf/proxy.md).
// Here a connection has one timer. Moving its deadline later (what a healthy connection does at
// every step) is a store; the timer, when it fires, compares the time with the deadline and
// either closes the socket (the operation in progress then fails) or waits again for the rest.
//
// Unlike basic_stream, the deadline runs between operations too: set expires_never() while a
// connection is legitimately idle (a request being handled, a pooled connection).
//
// Touched only on its io_context's thread (event_loop.h), apart from destruction.
#pragma once

#include <memory>

#include <boost/beast/core/error.hpp>

#include "core/time.h"
#include "net/coro.h"

namespace hir::net::coro {

class TimedSocket {
 public:
  explicit TimedSocket(Socket s) : st_(std::make_shared<State>(std::move(s))) {}
  explicit TimedSocket(Executor ex) : TimedSocket(Socket(ex)) {}
  TimedSocket(const TimedSocket&) = delete;
  TimedSocket& operator=(const TimedSocket&) = delete;
  // Destroying the state cancels the timer; its handler holds only a weak reference and finds
  // nothing to do.
  ~TimedSocket() { close(); }

  Socket& socket() { return st_->sock; }

  void expires_at(TimePoint t) {
    State& s = *st_;
    s.timed_out = false;
    s.at = t;
    if (!s.armed) return arm(st_);
    if (t < s.armed_for) s.timer.cancel();  // earlier than the timer is set for: its handler re-arms
  }
  void expires_after(Duration d) { expires_at(SteadyClock::now() + d); }
  void expires_never() {
    st_->timed_out = false;
    st_->at = TimePoint::max();  // an armed timer finds this when it fires and stops
  }

  // An operation's error as basic_stream reported it: beast::error::timeout once the deadline
  // closed the socket (the operation itself then ends with operation_aborted or bad_descriptor).
  boost::system::error_code why(boost::system::error_code ec) const {
    return ec && st_->timed_out ? boost::system::error_code(boost::beast::error::timeout) : ec;
  }

  void close() {
    boost::system::error_code ignored;
    st_->sock.close(ignored);
  }

 private:
  struct State {
    explicit State(Socket s) : sock(std::move(s)), timer(sock.get_executor()) {}
    Socket sock;
    Timer timer;
    TimePoint at = TimePoint::max();
    TimePoint armed_for{};
    bool armed = false;
    bool timed_out = false;
  };

  static void arm(const std::shared_ptr<State>& st) {
    if (st->at == TimePoint::max()) return;
    st->armed = true;
    st->armed_for = st->at;
    st->timer.expires_at(st->at);
    st->timer.async_wait([w = std::weak_ptr<State>(st)](boost::system::error_code) {
      auto s = w.lock();
      if (!s) return;  // the socket is gone
      s->armed = false;
      if (s->at == TimePoint::max()) return;
      if (SteadyClock::now() < s->at) return arm(s);  // the deadline moved
      s->timed_out = true;
      boost::system::error_code ignored;
      s->sock.close(ignored);
    });
  }

  std::shared_ptr<State> st_;
};

}  // namespace hir::net::coro
