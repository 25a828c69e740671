// McuPool against the real hir-mcu-emu executable, behind a real pseudo-terminal and over TCP.
#include "backends/mcu_pool.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

#include "unit/backends/emu_process.h"

namespace hir::backends {
namespace {

using namespace std::chrono_literals;
using test::EmuProcess;
using test::eventually;
using test::infer;

class McuPoolTest : public test::EmuTest {
 protected:
  // Classifies n test images one after the other and checks each against the firmware.
  void expect_firmware_answers(McuPool& pool, int n, bool u8) {
    const auto& images = images_;
    int correct = 0;
    for (int i = 0; i < n; ++i) {
      const auto& px = images.px[static_cast<size_t>(i)];
      auto r = infer(pool, u8 ? test::u8_request(px) : test::fp32_request(px));
      ASSERT_TRUE(r.ok()) << "image " << i << ": " << r.status().to_string();
      const auto want = model_.run(px);
      EXPECT_EQ(r->top_class, want.top) << "image " << i;
      EXPECT_EQ(test::probabilities(*r), want.probs) << "image " << i;
      EXPECT_EQ(r->response.outputs[0].name, "probabilities");
      EXPECT_EQ(r->response.outputs[0].shape, (Shape{1, 10}));
      EXPECT_GT(r->device_time.count(), 0);
      // The device's time on it holds its compute and is part of what the caller waited.
      EXPECT_GE(r->occupied, r->device_time) << "image " << i;
      EXPECT_LE(r->occupied, r->latency) << "image " << i;
      EXPECT_FLOAT_EQ(r->top_probability, want.probs[static_cast<size_t>(want.top)]);
      correct += r->top_class == images.labels[static_cast<size_t>(i)];
    }
    std::printf("[ info ] %d of %d test images classified as labelled\n", correct, n);
  }
};

TEST_F(McuPoolTest, ClassifiesTestImagesLikeTheFirmwareThroughAPty) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_pty();
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()});
  ASSERT_TRUE(pool);
  const auto s = pool->stats().devices[0];
  EXPECT_EQ(s.input_size, 784);
  EXPECT_EQ(s.output_size, 10);
  EXPECT_EQ(pool->input_size(), 784u);
  expect_firmware_answers(*pool, 20, false);
}

TEST_F(McuPoolTest, ClassifiesTestImagesLikeTheFirmwareOverTcp) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_tcp();
  ASSERT_TRUE(emu.ok()) << emu.status().to_string();
  auto pool = up_pool({emu->url()});
  ASSERT_TRUE(pool);
  expect_firmware_answers(*pool, 20, true);
  EXPECT_EQ(pool->stats().succeeded, 20u);
}

TEST_F(McuPoolTest, TwoDevicesShareConcurrentRequests) {
  SKIP_WITHOUT_IMAGES();
  auto a = EmuProcess::start_pty();
  auto b = EmuProcess::start_tcp();
  ASSERT_TRUE(a.ok() && b.ok());
  auto pool = up_pool({a->url(), b->url()});
  ASSERT_TRUE(pool);
  const auto& images = images_;
  std::mutex mu;
  std::vector<std::optional<Result<McuReply>>> got(images.px.size());
  std::atomic<int> done{0};
  for (size_t i = 0; i < images.px.size(); ++i) {
    ASSERT_TRUE(pool->submit(test::fp32_request(images.px[i]), SteadyClock::now() + 30s,
                             [&, i](Result<McuReply> r) {
                               std::lock_guard lk(mu);
                               got[i].emplace(std::move(r));
                               ++done;
                             }).ok());
  }
  ASSERT_TRUE(eventually([&] { return done == static_cast<int>(images.px.size()); }, 90s));
  size_t on_a = 0, waited = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE((*got[i]).ok()) << (*got[i]).status().to_string();
    EXPECT_EQ((*got[i])->top_class, model_.run(images.px[i]).top) << i;
    on_a += (*got[i])->device == 0;
    // Submitted all at once: most waited in the pool's queue, which is not the device's time.
    EXPECT_GE((*got[i])->occupied, (*got[i])->device_time) << i;
    EXPECT_LE((*got[i])->occupied, (*got[i])->latency) << i;
    waited += (*got[i])->occupied < (*got[i])->latency / 2;
  }
  EXPECT_GT(waited, got.size() / 2);
  EXPECT_GT(on_a, 0u);
  EXPECT_LT(on_a, got.size());
  const auto s = pool->stats();
  EXPECT_GT(s.devices[0].counters.results_ok, 0u);
  EXPECT_GT(s.devices[1].counters.results_ok, 0u);
}

// A device flashed with another model of the same sizes answers, but not as this pool's variant:
// it is refused at its INFO (it was taken, and served wrong classes as the pool's).
TEST_F(McuPoolTest, ADeviceRunningAnotherModelIsRefused) {
  // The shipped blob with one weight changed and its CRC-32 (over bytes 16..) written again at
  // offset 12 (docs/model-blob.md): a valid model the firmware loads, of the same sizes.
  std::ifstream in(test::source_path("models/fmnist-tiny/int8/model.hirm"), std::ios::binary);
  std::string blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(blob.size(), 1024u);
  auto crc_of = [](const std::string& b) {
    return static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(b.data() + 16), static_cast<uInt>(b.size() - 16)));
  };
  uint32_t stored;
  std::memcpy(&stored, blob.data() + 12, 4);
  ASSERT_EQ(stored, crc_of(blob)) << "the blob's CRC is not where docs/model-blob.md says";
  std::string other = blob;
  other[other.size() - 64] ^= 0x01;
  const uint32_t other_crc = crc_of(other);
  std::memcpy(other.data() + 12, &other_crc, 4);
  const std::string other_path = ::testing::TempDir() + "/other-model.hirm";
  std::ofstream(other_path, std::ios::binary) << other;

  // A board re-flashed while the router runs: the pool learnt the model from its first INFO, and
  // the device that comes back on the same address with another model stays out.
  auto a = std::make_optional(EmuProcess::start_tcp());
  ASSERT_TRUE(a->ok());
  const int port = (*a)->port();
  const std::string url = (*a)->url();
  auto pool = up_pool({url});
  ASSERT_TRUE(pool);
  ASSERT_EQ(pool->stats().devices[0].model_crc32, stored);
  a.reset();  // the device goes away...
  auto b = EmuProcess::start_tcp(port, {"--model", other_path});  // ...and comes back re-flashed
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE(eventually([&] { return pool->stats().devices[0].last_error.find("CRC-32") != std::string::npos; }))
      << pool->stats().devices[0].last_error;
  EXPECT_NE(pool->stats().devices[0].state, McuDeviceState::kUp);
  pool.reset();
  // Pinned in the options, the model is checked from the first device on.
  McuPoolOptions pinned;
  pinned.model_crc32 = stored;  // what the board ran before; it runs the other now
  auto pinned_pool = McuPool::create({url}, pinned);
  ASSERT_TRUE(pinned_pool.ok());
  ASSERT_TRUE(eventually([&] { return (*pinned_pool)->stats().devices[0].last_error.find("CRC-32") != std::string::npos; }));
  EXPECT_EQ((*pinned_pool)->stats().devices_up(), 0u);
}

TEST_F(McuPoolTest, InputsThatDoNotFitAreRejectedWithoutSending) {
  auto emu = EmuProcess::start_tcp();
  ASSERT_TRUE(emu.ok());
  auto pool = up_pool({emu->url()});
  ASSERT_TRUE(pool);
  const uint64_t sent = pool->stats().devices[0].counters.infers_sent;
  std::atomic<int> callbacks{0};
  auto cb = [&](Result<McuReply>) { ++callbacks; };
  std::vector<uint8_t> px(784, 10);
  InferRequest wrong_shape = test::fp32_request(std::vector<uint8_t>(783, 1), {1, 783});
  InferRequest batch = test::fp32_request(std::vector<uint8_t>(2 * 784, 1), {2, 784});
  InferRequest wrong_type = test::fp32_request(px);
  wrong_type.inputs[0].datatype = DataType::kFp64;
  for (const auto* r : {&wrong_shape, &batch, &wrong_type}) {
    const Status st = pool->submit(*r, SteadyClock::now() + 10s, cb);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
  }
  EXPECT_EQ(pool->submit(test::fp32_request(px), SteadyClock::now() - 1ms, cb).code(), Code::kDeadlineExceeded);
  // A good request afterwards goes through: the rejected ones left nothing behind.
  ASSERT_TRUE(infer(*pool, test::fp32_request(px)).ok());
  const auto s = pool->stats();
  EXPECT_EQ(s.devices[0].counters.infers_sent, sent + 1);
  EXPECT_EQ(s.rejected, 4u);
  EXPECT_EQ(callbacks, 0);
}

TEST_F(McuPoolTest, HeartbeatsBecomeLoadReports) {
  auto emu = EmuProcess::start_pty({"--heartbeat-ms", "50"});
  ASSERT_TRUE(emu.ok());
  std::mutex mu;
  std::vector<McuLoadEvent> events;
  McuPoolOptions o;
  o.heartbeat_interval = 50ms;
  auto pool = up_pool({emu->url()}, o, [&](const McuLoadEvent& e) {
    std::lock_guard lk(mu);
    events.push_back(e);
  });
  ASSERT_TRUE(pool);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return events.size() >= 3;
  }));
  std::lock_guard lk(mu);
  for (const auto& e : events) {
    EXPECT_EQ(e.device, 0u);
    EXPECT_EQ(e.device_report.concurrency, 1u);
    EXPECT_EQ(e.device_report.queue_depth, 0u);
    EXPECT_LE(e.device_report.in_flight, 1u);
    EXPECT_EQ(e.pool_report.concurrency, 1u);
    // max_outstanding counts the request in service on the one device: the rest is the queue.
    EXPECT_EQ(e.pool_report.queue_capacity, o.max_outstanding - 1);
  }
  const auto s = pool->stats().devices[0];
  ASSERT_TRUE(s.last_status.has_value());
  EXPECT_TRUE(s.last_status->flags & HIRFW_STATUS_MODEL_READY);
  EXPECT_GE(s.counters.status_frames, 3u);
  EXPECT_EQ(pool->load_report().concurrency, 1u);
}

TEST_F(McuPoolTest, ADeviceWithoutHeartbeatsIsProbedAndStaysUp) {
  auto emu = EmuProcess::start_tcp(0, {"--heartbeat-ms", "0"});
  ASSERT_TRUE(emu.ok());
  McuPoolOptions o;
  o.heartbeat_interval = 50ms;
  std::atomic<int> reports{0};
  auto pool = up_pool({emu->url()}, o, [&](const McuLoadEvent&) { ++reports; });
  ASSERT_TRUE(pool);
  // Five silent periods would mark it down; the STATUS probes' replies keep it up.
  ASSERT_TRUE(eventually([&] { return pool->stats().devices[0].counters.status_frames >= 12; }));
  const auto s = pool->stats().devices[0];
  EXPECT_EQ(s.state, McuDeviceState::kUp);
  EXPECT_EQ(s.counters.disconnects, 0u);
  EXPECT_GT(reports, 0);
  EXPECT_TRUE(infer(*pool, test::u8_request(std::vector<uint8_t>(784, 0))).ok());
}

TEST_F(McuPoolTest, ALongInferenceWithoutHeartbeatsDoesNotLookLikeSilence) {
  // ~1.3 s of compute, far beyond five 50-ms periods: the probes answered while busy show the
  // device is alive.
  auto emu = EmuProcess::start_pty({"--heartbeat-ms", "0", "--macs-per-second", "20000"});
  ASSERT_TRUE(emu.ok());
  McuPoolOptions o;
  o.heartbeat_interval = 50ms;
  o.attempt_timeout = 60s;
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  auto r = infer(*pool, test::u8_request(std::vector<uint8_t>(784, 9)), 60s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->attempts, 1);
  const auto s = pool->stats().devices[0];
  EXPECT_EQ(s.counters.disconnects, 0u);
  ASSERT_TRUE(s.last_status.has_value());
}

TEST_F(McuPoolTest, RequestIdsWrapAround) {
  SKIP_WITHOUT_IMAGES();
  auto emu = EmuProcess::start_pty();
  ASSERT_TRUE(emu.ok());
  McuPoolOptions o;
  o.first_request_id = 65530;
  o.attempt_timeout = 20s;  // so that every request takes exactly one try, however slow the host
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  const auto& images = images_;
  for (size_t i = 0; i < 12; ++i) {
    auto r = infer(*pool, test::fp32_request(images.px[i]));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_EQ(r->top_class, model_.run(images.px[i]).top);
    EXPECT_EQ(r->attempts, 1);
  }
  EXPECT_EQ(pool->stats().devices[0].counters.stray_replies, 0u);
}

// A slow device (compute takes ~25 s) keeps one request in flight for as long as a test needs.
std::vector<std::string> slow_device() { return {"--macs-per-second", "1000"}; }
McuPoolOptions patient() {
  McuPoolOptions o;
  o.attempt_timeout = 120s;
  return o;
}

TEST_F(McuPoolTest, StopFailsEveryOutstandingRequestWithUnavailable) {
  auto emu = EmuProcess::start_tcp(0, slow_device());
  ASSERT_TRUE(emu.ok());
  auto pool = up_pool({emu->url()}, patient());
  ASSERT_TRUE(pool);
  std::mutex mu;
  std::vector<Status> results;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool->submit(test::u8_request(std::vector<uint8_t>(784, 1)), SteadyClock::now() + 120s,
                             [&](Result<McuReply> r) {
                               std::lock_guard lk(mu);
                               results.push_back(r.status());
                             }).ok());
  }
  ASSERT_TRUE(eventually([&] { return pool->stats().in_flight == 1; }));
  EXPECT_EQ(pool->stats().pending, 2u);
  pool.reset();  // the destructor stops: every callback has run when it returns
  ASSERT_EQ(results.size(), 3u);
  for (const auto& st : results) EXPECT_EQ(st.code(), Code::kUnavailable) << st.to_string();
}

TEST_F(McuPoolTest, AFullPoolIsResourceExhaustedAndAQueuedRequestMeetsItsDeadline) {
  auto emu = EmuProcess::start_tcp(0, slow_device());
  ASSERT_TRUE(emu.ok());
  McuPoolOptions o = patient();
  o.max_outstanding = 2;
  auto pool = up_pool({emu->url()}, o);
  ASSERT_TRUE(pool);
  std::atomic<int> unavailable{0};
  std::promise<Status> queued;
  const auto px = test::u8_request(std::vector<uint8_t>(784, 1));
  ASSERT_TRUE(pool->submit(px, SteadyClock::now() + 120s, [&](Result<McuReply> r) {
    unavailable += r.status().code() == Code::kUnavailable;
  }).ok());
  ASSERT_TRUE(eventually([&] { return pool->stats().in_flight == 1; }));
  ASSERT_TRUE(pool->submit(px, SteadyClock::now() + 300ms, [&](Result<McuReply> r) {
    queued.set_value(r.status());
  }).ok());
  const Status full = pool->submit(px, SteadyClock::now() + 120s, [](Result<McuReply>) {});
  EXPECT_EQ(full.code(), Code::kResourceExhausted) << full.to_string();
  // The second waits behind the slow first one and runs out of time in the queue.
  EXPECT_EQ(queued.get_future().get().code(), Code::kDeadlineExceeded);
  pool->stop();
  EXPECT_EQ(unavailable, 1);
}

}  // namespace
}  // namespace hir::backends
