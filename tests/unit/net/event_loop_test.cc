#include "net/event_loop.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "net_test_util.h"

namespace hir::net {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;

TEST(EventLoop, PostRunsOnTheLoopAndStopEndsRun) {
  EventLoop loop;
  std::thread::id ran_on;
  loop.post([&] {
    ran_on = std::this_thread::get_id();
    loop.stop();
  });
  loop.run();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(loop.stopped());
}

// With busy polling (run's second argument) work still arrives whether the thread is polling or
// has gone to sleep after its window: posts from other threads, timers; and stop() ends run().
TEST(EventLoop, BusyPollingRunsPostsAndTimersAndStops) {
  for (Duration poll : {Duration(50us), Duration(30s)}) {
    EventLoop loop;
    std::thread t([&] { loop.run(1, poll); });
    std::atomic<int> n{0};
    for (int i = 0; i < 100; ++i) loop.post([&] { n.fetch_add(1); });
    EXPECT_TRUE(wait_until([&] { return n.load() == 100; }));
    std::this_thread::sleep_for(2ms);  // past the short window, so that the thread sleeps (no assertion on it)
    std::atomic<bool> fired{false};
    auto timer = loop.run_after(1ms, [&] { fired = true; });
    EXPECT_TRUE(wait_until([&] { return fired.load(); }));
    std::this_thread::sleep_for(2ms);
    loop.post([&] { n.fetch_add(1); });
    EXPECT_TRUE(wait_until([&] { return n.load() == 101; }));
    loop.stop();
    t.join();
    EXPECT_TRUE(loop.stopped());
  }
}

TEST(EventLoop, RunsOnSeveralThreads) {
  testing::LoopThread lt(3);
  std::atomic<int> n{0};
  for (int i = 0; i < 100; ++i) lt.loop.post([&] { n.fetch_add(1); });
  EXPECT_TRUE(wait_until([&] { return n.load() == 100; }));
}

// Each thread runs a context of its own (event_loop.h): what a loop thread posts stays on that
// thread, and posts from outside are spread over all of them.
TEST(EventLoop, EachThreadRunsItsOwnContext) {
  testing::LoopThread lt(3);
  std::mutex mu;
  std::set<std::thread::id> seen;
  // The contexts beyond the first exist once run() has started them: keep posting until every
  // thread has run something.
  EXPECT_TRUE(wait_until([&] {
    lt.loop.post([&] {
      std::lock_guard lk(mu);
      seen.insert(std::this_thread::get_id());
    });
    std::lock_guard lk(mu);
    return seen.size() == 3;
  }));
  std::atomic<int> same{0}, done{0};
  for (int i = 0; i < 30; ++i) {
    lt.loop.post([&] {
      const auto outer = std::this_thread::get_id();
      lt.loop.post([&, outer] {
        if (std::this_thread::get_id() == outer) same.fetch_add(1);
        done.fetch_add(1);
      });
      // A timer set from a loop thread fires on that thread too.
      lt.loop.run_after(std::chrono::milliseconds(1), [&, outer] {
        if (std::this_thread::get_id() == outer) same.fetch_add(1);
        done.fetch_add(1);
      });
    });
  }
  EXPECT_TRUE(wait_until([&] { return done.load() == 60; }));
  EXPECT_EQ(same.load(), 60);
}

// A stop() before run() has made its extra contexts still ends every thread's run at once.
TEST(EventLoop, StopBeforeRunEndsAllThreads) {
  EventLoop loop;
  loop.stop();
  loop.run(4);  // returns: the test would hang otherwise
  EXPECT_TRUE(loop.stopped());
  int n = 0;
  loop.post([&] { ++n, loop.stop(); });
  loop.run(1);  // a later run keeps the first run's four threads
  EXPECT_EQ(n, 1);
}

TEST(EventLoop, RunAfterFiresAndCancelPreventsIt) {
  testing::LoopThread lt;
  std::atomic<int> fired{0}, cancelled_ran{0};
  auto keep = lt.loop.run_after(1ms, [&] { fired.fetch_add(1); });
  auto t = lt.loop.run_after(std::chrono::hours(1), [&] { cancelled_ran.fetch_add(1); });
  t->cancel();
  t->cancel();  // twice is harmless
  // A timer cancelled after its deadline passed, but before its handler got the (here
  // blocked) loop thread, must not run either.
  std::atomic<bool> blocked{false}, release{false};
  lt.loop.post([&] {
    blocked = true;
    while (!release) std::this_thread::sleep_for(1ms);
  });
  ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
  std::atomic<int> late{0};
  auto t2 = lt.loop.run_after(0ms, [&] { late.fetch_add(1); });
  std::this_thread::sleep_for(2ms);  // not a timing assertion: only makes the race likelier
  t2->cancel();
  release = true;
  EXPECT_TRUE(wait_until([&] { return fired.load() == 1; }));
  std::atomic<bool> marker{false};
  lt.loop.run_after(5ms, [&] { marker = true; });  // runs after t2's slot
  EXPECT_TRUE(wait_until([&] { return marker.load(); }));
  EXPECT_EQ(cancelled_ran.load(), 0);
  EXPECT_EQ(late.load(), 0);
}

TEST(EventLoop, DroppingTheTimerHandleDoesNotCancel) {
  testing::LoopThread lt;
  std::atomic<bool> fired{false};
  lt.loop.run_after(1ms, [&] { fired = true; });
  EXPECT_TRUE(wait_until([&] { return fired.load(); }));
}

TEST(EventLoop, SignalsRearm) {
  testing::LoopThread lt;
  std::atomic<int> seen{0};
  lt.loop.on_signals({SIGUSR1}, [&](int sig) {
    if (sig == SIGUSR1) seen.fetch_add(1);
  });
  // The signal_set is registered by the time on_signals returns.
  ::raise(SIGUSR1);
  EXPECT_TRUE(wait_until([&] { return seen.load() == 1; }));
  ::raise(SIGUSR1);
  EXPECT_TRUE(wait_until([&] { return seen.load() == 2; }));
}

TEST(EventLoop, CanRunAgainAfterStop) {
  EventLoop loop;
  int n = 0;
  loop.post([&] { ++n, loop.stop(); });
  loop.run();
  loop.post([&] { ++n, loop.stop(); });
  loop.run();
  EXPECT_EQ(n, 2);
  EXPECT_NE(loop.native(), nullptr);
}

}  // namespace
}  // namespace hir::net
