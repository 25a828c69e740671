// McuPool when the line misbehaves: corrupted and dropped frames, garbage, a killed, restarted
// or hung emulator, an address nothing answers at. Always the real hir-mcu-emu executable.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/mcu_pool.h"
#include "unit/backends/emu_process.h"

namespace hir::backends {
namespace {

using namespace std::chrono_literals;
using test::EmuProcess;
using test::eventually;
using test::infer;

// What a pool's device callback heard, as "+url" (up) and "-url:reason" (down), in order.
class DeviceMoves {
 public:
  McuDeviceCallback callback() {
    return [this](const McuDeviceEvent& e) {
      std::lock_guard lk(mu_);
      moves_.push_back((e.up ? "+" : "-") + e.url + (e.up ? "" : ":" + e.reason));
    };
  }
  std::vector<std::string> get() const {
    std::lock_guard lk(mu_);
    return moves_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> moves_;
};

class McuFaultsTest : public test::EmuTest {
 protected:
  // Sends n test images; every answer that comes back must be the firmware's (errors are
  // allowed, wrong answers are not). Returns how many succeeded.
  int never_wrong(McuPool& pool, int n) {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      const auto& px = images_.px[static_cast<size_t>(i) % images_.px.size()];
      auto r = infer(pool, test::fp32_request(px), 10s);
      if (!r.ok()) {
        EXPECT_NE(r.status().code(), Code::kInternal) << r.status().to_string();
        continue;
      }
      ++ok;
      const auto want = model_.run(px);
      EXPECT_EQ(r->top_class, want.top) << "image " << i;
      EXPECT_EQ(test::probabilities(*r), want.probs) << "image " << i;
    }
    return ok;
  }
  static McuPoolOptions retrying() {
    McuPoolOptions o;
    o.attempt_timeout = 150ms;  // a try takes ~10 ms at 921600 baud
    o.max_attempts = 5;
    o.max_consecutive_timeouts = 6;
    return o;
  }
};

TEST_F(McuFaultsTest, CorruptedRepliesAreNeverTakenForAnswers) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_pty({"--corrupt-every", "3"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()}, retrying());
  ASSERT_TRUE(pool);
  const int ok = never_wrong(*pool, 30);
  EXPECT_GT(ok, 0);
  const auto s = pool->stats();
  const auto& c = s.devices[0].counters;
  EXPECT_GT(c.bad_crc + c.bad_frame, 0u);  // the decoder caught the flipped bytes
  EXPECT_GT(c.timeouts, 0u);               // replies lost to the CRC...
  EXPECT_GT(s.retried, 0u);                // ...were asked again
  std::printf("[ info ] %d of 30 answered; bad_crc %llu bad_frame %llu timeouts %llu retried %llu\n", ok,
              static_cast<unsigned long long>(c.bad_crc), static_cast<unsigned long long>(c.bad_frame),
              static_cast<unsigned long long>(c.timeouts), static_cast<unsigned long long>(s.retried));
}

TEST_F(McuFaultsTest, DroppedRequestsAreRetriedWithNewIds) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_tcp(0, {"--drop-every", "4"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()}, retrying());
  ASSERT_TRUE(pool);
  const int ok = never_wrong(*pool, 30);
  EXPECT_GT(ok, 0);
  const auto s = pool->stats();
  EXPECT_GT(s.devices[0].counters.timeouts, 0u);
  EXPECT_GT(s.retried, 0u);
  std::printf("[ info ] %d of 30 answered; timeouts %llu retried %llu\n", ok,
              static_cast<unsigned long long>(s.devices[0].counters.timeouts),
              static_cast<unsigned long long>(s.retried));
}

// An answer that took several tries: the device's time on it is the answering try's, and the
// time since the first try holds the tries that were lost (each waited out its 150-ms timeout).
TEST_F(McuFaultsTest, ARetriedAnswerCountsItsLostTriesSinceTheFirst) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_tcp(0, {"--drop-every", "3"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()}, retrying());
  ASSERT_TRUE(pool);
  int retried = 0;
  for (int i = 0; i < 24; ++i) {
    auto r = infer(*pool, test::fp32_request(images_.px[static_cast<size_t>(i) % images_.px.size()]), 10s);
    if (!r.ok()) continue;
    EXPECT_GE(r->occupied, r->device_time) << i;
    EXPECT_GE(r->since_first_try, r->occupied) << i;
    EXPECT_LE(r->since_first_try, r->latency) << i;
    if (r->attempts > 1) {
      ++retried;
      EXPECT_LT(r->occupied, 150ms) << i;
      EXPECT_GE(r->since_first_try, 150ms * (r->attempts - 1)) << i;
    } else {
      EXPECT_EQ(r->since_first_try, r->occupied) << i;
    }
  }
  EXPECT_GT(retried, 0);
}

TEST_F(McuFaultsTest, GarbageOnTheLineIsResynchronised) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_pty({"--garbage", "--seed", "7"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()});
  ASSERT_TRUE(pool);
  EXPECT_EQ(never_wrong(*pool, 24), 24);  // garbage never costs a frame: every request answered
  const auto& c = pool->stats().devices[0].counters;
  EXPECT_GT(c.bad_crc + c.bad_frame, 0u);
}

// Kills the emulator while a request computes on it (~25 s at this compute rate): the request
// must fail with kUnavailable when the line drops, not with kDeadlineExceeded at its deadline.
void kill_mid_request(McuPool& pool, EmuProcess& emu) {
  std::promise<Status> done;
  ASSERT_TRUE(pool.submit(test::u8_request(std::vector<uint8_t>(784, 3)), SteadyClock::now() + 120s,
                          [&](Result<McuReply> r) { done.set_value(r.status()); }).ok());
  ASSERT_TRUE(eventually([&] { return pool.stats().in_flight == 1; }));
  emu.kill();
  const Status st = done.get_future().get();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.to_string();
  const auto d = pool.stats().devices[0];
  EXPECT_NE(d.state, McuDeviceState::kUp);
  EXPECT_FALSE(d.last_error.empty());
  EXPECT_EQ(d.counters.disconnects, 1u);
  // While it is down, new requests are refused at once.
  EXPECT_EQ(pool.submit(test::u8_request(std::vector<uint8_t>(784, 3)), SteadyClock::now() + 10s,
                        [](Result<McuReply>) {}).code(),
            Code::kUnavailable);
}

McuPoolOptions patient() {
  McuPoolOptions o;
  o.attempt_timeout = 120s;
  o.reconnect_max = 200ms;  // come back quickly once the emulator is back
  return o;
}

TEST_F(McuFaultsTest, KillingTheEmulatorFailsTheRequestInFlightThroughAPty) {
  auto emu = EmuProcess::start_pty({"--macs-per-second", "1000"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()}, patient());
  ASSERT_TRUE(pool);
  kill_mid_request(*pool, *emu);
}

TEST_F(McuFaultsTest, KillingTheEmulatorFailsTheRequestInFlightAndARestartBringsItBack) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_tcp(0, {"--macs-per-second", "1000"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  const int port = emu->port();
  const std::string url = emu->url();
  DeviceMoves moves;
  auto pool = up_pool({url}, patient(), {}, moves.callback());
  ASSERT_TRUE(pool);
  kill_mid_request(*pool, *emu);
  // Same port, normal speed: the pool reconnects by itself.
  auto again = EmuProcess::start_tcp(port);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  ASSERT_TRUE(eventually([&] { return pool->any_up(); })) << pool->stats().devices[0].last_error;
  // Up, down with why, up again: the callback hears each move once (delivered after the lock).
  ASSERT_TRUE(eventually([&] { return moves.get().size() >= 3; }));
  const auto heard = moves.get();
  ASSERT_EQ(heard.size(), 3u);
  EXPECT_EQ(heard[0], "+" + url);
  EXPECT_TRUE(heard[1].starts_with("-" + url + ":") && heard[1].size() > url.size() + 2) << heard[1];
  EXPECT_EQ(heard[2], "+" + url);
  auto r = infer(*pool, test::fp32_request(images_.px[0]));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->top_class, model_.run(images_.px[0]).top);
  EXPECT_EQ(pool->stats().devices[0].counters.connects, 2u);
}

TEST_F(McuFaultsTest, AHungDeviceIsMarkedDown) {
  auto emu = EmuProcess::start_tcp(0, {"--stall-after", "1"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  McuPoolOptions o;
  o.attempt_timeout = 200ms;
  o.reconnect_min = 1s;  // so the test sees it down between attempts
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  EXPECT_TRUE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 1))).ok());
  auto second = infer(*pool, test::u8_request(std::vector<uint8_t>(784, 2)));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().code() == Code::kDeadlineExceeded || second.status().code() == Code::kUnavailable)
      << second.status().to_string();
  ASSERT_TRUE(eventually([&] { return pool->stats().devices[0].counters.disconnects >= 1; }));
  EXPECT_FALSE(pool->stats().devices[0].last_error.empty());
}

// A board that still sends heartbeats but no longer reads its line: the frames to it pile up
// until the line takes no more. The device is then taken down for its stuck line; before, the
// request came back as if never sent and went to the same free-looking device again, in a loop
// that held the pool's lock and so stopped every request to the router (the pool's calls below
// would never return).
TEST_F(McuFaultsTest, ADeviceThatStopsReadingItsLineIsTakenDown) {
  auto emu = EmuProcess::start_pty({"--deaf-after", "1", "--heartbeat-ms", "10"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  McuPoolOptions o;
  o.attempt_timeout = 500ms;
  o.reconnect_min = 5s;  // so the test sees it down
  o.max_consecutive_timeouts = 1000;  // so only the stuck line can take it down
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  EXPECT_TRUE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 1))).ok());
  // Deadlines shorter than the attempt timeout, as a 40 ms latency budget is.
  for (int i = 0; i < 60 && pool->stats().devices[0].counters.disconnects == 0; ++i)
    EXPECT_FALSE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 2)), 20ms).ok());
  const auto s = pool->stats();
  EXPECT_GE(s.devices[0].counters.disconnects, 1u);
  EXPECT_NE(s.devices[0].last_error.find("takes no more bytes"), std::string::npos) << s.devices[0].last_error;
}

// The same board behind a TCP bridge, whose buffers take every frame a test sends: the line never
// fills. Each try is cut by its caller's deadline, below attempt_timeout, which alone says nothing
// about the device; tries cut in a row with no reply of any kind between them do, and take it
// down. Before, it stayed up and took every short-budget request to its deadline.
TEST_F(McuFaultsTest, ADeviceThatHeartbeatsButNeverAnswersIsTakenDownThoughCallersCutItsTries) {
  auto emu = EmuProcess::start_tcp(0, {"--deaf-after", "1", "--heartbeat-ms", "10"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  McuPoolOptions o;
  o.attempt_timeout = 500ms;
  o.reconnect_min = 5s;  // so the test sees it down
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  EXPECT_TRUE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 1))).ok());
  for (int i = 0; i < 30 && pool->stats().devices[0].counters.disconnects == 0; ++i)
    EXPECT_FALSE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 2)), 20ms).ok());
  const auto s = pool->stats();
  EXPECT_GE(s.devices[0].counters.disconnects, 1u);
  EXPECT_NE(s.devices[0].last_error.find("in a row unanswered"), std::string::npos) << s.devices[0].last_error;
}

// Firmware stuck in its busy state answers every INFER with ERROR busy at once. Such a reply is not
// an attempt (the request never ran), so before, the request was offered to the device every
// busy_retry until its deadline, every time, and the device never went down.
TEST_F(McuFaultsTest, ADeviceStuckBusyIsTakenDown) {
  auto emu = EmuProcess::start_tcp(0, {"--busy-after", "1"});
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  McuPoolOptions o;
  o.attempt_timeout = 100ms;
  o.reconnect_min = 5s;  // so the test sees it down
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  EXPECT_TRUE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 1))).ok());
  auto second = infer(*pool, test::u8_request(std::vector<uint8_t>(784, 2)), 5s);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable) << second.status().to_string();
  const auto s = pool->stats();
  EXPECT_GE(s.devices[0].counters.busy_replies, 2u);
  EXPECT_EQ(s.devices[0].counters.disconnects, 1u);
  EXPECT_NE(s.devices[0].last_error.find("busy for"), std::string::npos) << s.devices[0].last_error;
}

TEST_F(McuFaultsTest, AnAddressNobodyAnswersAtStaysDownWithAReason) {
  auto closed = EmuProcess::start_tcp();  // take a free port, then free it again
  ASSERT_TRUE(closed.ok());
  const std::string url = closed->url();
  closed->stop();
  // Retried every millisecond: each failure but the first must go unreported, or a device that
  // stays away would flood the router's log.
  McuPoolOptions o;
  o.reconnect_min = o.reconnect_max = 1ms;
  DeviceMoves moves;
  auto pool = McuPool::create({url, "serial:///dev/pts/no-such-pty"}, o, {}, moves.callback());
  ASSERT_TRUE(pool.ok()) << pool.status().to_string();
  ASSERT_TRUE(eventually([&] {
    const auto s = (*pool)->stats();
    return !s.devices[0].last_error.empty() && !s.devices[1].last_error.empty();
  }));
  std::this_thread::sleep_for(100ms);  // dozens of failed reconnections
  const auto heard = moves.get();
  ASSERT_EQ(heard.size(), 2u);
  // The two devices' first failures, in either order, each with its reason.
  const auto heard_from = [&](const std::string& prefix) {
    return std::count_if(heard.begin(), heard.end(), [&](const std::string& m) { return m.starts_with(prefix); });
  };
  EXPECT_EQ(heard_from("-" + url + ":"), 1) << heard[0] << " " << heard[1];
  EXPECT_EQ(heard_from("-serial:///dev/pts/no-such-pty:open "), 1) << heard[0] << " " << heard[1];
  const auto s = (*pool)->stats();
  EXPECT_EQ(s.devices_up(), 0u);
  EXPECT_NE(s.devices[1].last_error.find("No such file"), std::string::npos) << s.devices[1].last_error;
  const Status st = (*pool)->submit(test::u8_request(std::vector<uint8_t>(784, 0)), SteadyClock::now() + 5s,
                                    [](Result<McuReply>) {});
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("no device is up"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace hir::backends
