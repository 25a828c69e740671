// hir-mcu-emu's engine through a real pseudo-terminal (and TCP): answers, pacing, busy handling,
// heartbeat, status and info.
#include <gtest/gtest.h>

#include "unit/mcu_emu/emu_fixture.h"
#include "mcu_emu/pacing.h"

namespace hir::mcu_emu::test {
namespace {

constexpr auto kWait = std::chrono::seconds(5);  // generous: only a hung emulator hits it

TEST(Emulator, PtyRoundTripGivesTheModelsClass) {
  const auto data = TestImages::load(12);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  LocalModel local;
  ASSERT_TRUE(local.ok());
  RunningEmulator run(quiet_config());
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  int label_matches = 0;
  Duration total{};
  for (size_t i = 0; i < data.images.size(); ++i) {
    const auto id = static_cast<uint16_t>(100 + i);
    const TimePoint t0 = SteadyClock::now();
    ASSERT_TRUE(line->send(HIRFW_T_INFER, id, data.images[i]));
    const auto f = line->wait_id(HIRFW_T_RESULT, id, kWait);
    total += SteadyClock::now() - t0;
    ASSERT_TRUE(f) << "no RESULT for image " << i;
    hirfw_result_msg r;
    ASSERT_EQ(hirfw_result_unpack(f->payload.data(), f->payload.size(), &r), HIRFW_OK);
    std::vector<int8_t> want_logits;
    EXPECT_EQ(r.top_class, local.classify(data.images[i], &want_logits));
    EXPECT_EQ(std::vector<int8_t>(r.logits, r.logits + r.n_logits), want_logits);
    EXPECT_EQ(r.infer_us, compute_us(local.model().macs, kDefaultMacsPerSecond));
    label_matches += r.top_class == data.labels[i];
  }
  std::printf("mean wall-clock INFER->RESULT through the pty at the defaults: %.3f ms\n",
              to_ms(total) / static_cast<double>(data.images.size()));
  // The first test images are easy ones (MODEL_CARD: 87.6 % on the first 1000).
  EXPECT_GE(label_matches, 9);
  EXPECT_EQ(line->decoder().bad_crc + line->decoder().bad_frame, 0u);
}

TEST(Emulator, LatencyIsAtLeastTransferPlusCompute) {
  const auto data = TestImages::load(3);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  EmulatorConfig cfg = quiet_config();
  cfg.baud = 115200;  // slow enough that the bound is well above scheduling noise
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  for (size_t i = 0; i < data.images.size(); ++i) {
    const auto id = static_cast<uint16_t>(i + 1);
    const TimePoint t0 = SteadyClock::now();
    ASSERT_TRUE(line->send(HIRFW_T_INFER, id, data.images[i]));
    const auto f = line->wait_id(HIRFW_T_RESULT, id, kWait);
    const Duration took = SteadyClock::now() - t0;
    ASSERT_TRUE(f);
    const size_t bytes = wire_bytes(HIRFW_T_INFER, data.images[i]) + wire_bytes(HIRFW_T_RESULT, f->payload);
    const Duration floor = transfer_time(bytes, cfg.baud) +
                           std::chrono::microseconds(compute_us(run.emu().model().macs, cfg.macs_per_second));
    EXPECT_GE(took, floor) << "took " << to_ms(took) << " ms, floor " << to_ms(floor) << " ms";
  }
}

TEST(Emulator, SecondRequestWhileBusyGetsErrorBusy) {
  const auto data = TestImages::load(2);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  EmulatorConfig cfg = quiet_config();
  cfg.macs_per_second = 25408 * 4;  // an inference takes ~250 ms
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  ASSERT_TRUE(line->send(HIRFW_T_INFER, 1, data.images[0]));
  ASSERT_TRUE(line->send(HIRFW_T_INFER, 2, data.images[1]));
  ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, 3, {}));
  const auto busy = line->wait_id(HIRFW_T_ERROR, 2, kWait);
  ASSERT_TRUE(busy);
  hirfw_error_msg e;
  ASSERT_EQ(hirfw_error_unpack(busy->payload.data(), busy->payload.size(), &e), HIRFW_OK);
  EXPECT_EQ(e.code, HIRFW_E_BUSY);
  const auto st = line->wait_id(HIRFW_T_STATUS, 3, kWait);
  ASSERT_TRUE(st);
  hirfw_status_msg s;
  ASSERT_EQ(hirfw_status_unpack(st->payload.data(), st->payload.size(), &s), HIRFW_OK);
  EXPECT_TRUE(s.flags & HIRFW_STATUS_BUSY);
  EXPECT_TRUE(s.flags & HIRFW_STATUS_MODEL_READY);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_TRUE(line->wait_id(HIRFW_T_RESULT, 1, kWait));  // the first one still completes
  ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, 4, {}));
  const auto after = line->wait_id(HIRFW_T_STATUS, 4, kWait);
  ASSERT_TRUE(after);
  ASSERT_EQ(hirfw_status_unpack(after->payload.data(), after->payload.size(), &s), HIRFW_OK);
  EXPECT_FALSE(s.flags & HIRFW_STATUS_BUSY);
  EXPECT_EQ(s.infer_count, 1u);
  EXPECT_EQ(s.last_infer_us, compute_us(run.emu().model().macs, cfg.macs_per_second));
}

TEST(Emulator, HeartbeatComesWithoutBeingAsked) {
  EmulatorConfig cfg;
  cfg.heartbeat = from_ms(20);
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(line->wait_id(HIRFW_T_STATUS, 0, kWait)) << i;
}

TEST(Emulator, InfoAndBadInputAndUnknownType) {
  RunningEmulator run(quiet_config());
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  ASSERT_TRUE(line->send(HIRFW_T_INFO_REQUEST, 1, {}));
  const auto info = line->wait_id(HIRFW_T_INFO, 1, kWait);
  ASSERT_TRUE(info);
  hirfw_info_msg m;
  ASSERT_EQ(hirfw_info_unpack(info->payload.data(), info->payload.size(), &m), HIRFW_OK);
  EXPECT_EQ(m.input_size, 784);
  EXPECT_EQ(m.output_size, 10);
  EXPECT_EQ(m.macs, run.emu().model().macs);
  EXPECT_EQ(m.model_crc32, run.emu().model().blob_crc32);
  ASSERT_TRUE(line->send(HIRFW_T_INFER, 2, std::vector<uint8_t>(10, 0)));
  const auto err = line->wait_id(HIRFW_T_ERROR, 2, kWait);
  ASSERT_TRUE(err);
  hirfw_error_msg e;
  ASSERT_EQ(hirfw_error_unpack(err->payload.data(), err->payload.size(), &e), HIRFW_OK);
  EXPECT_EQ(e.code, HIRFW_E_BAD_INPUT);
  EXPECT_EQ(e.detail, 784);
  ASSERT_TRUE(line->send(0x7E, 3, {}));
  const auto unk = line->wait_id(HIRFW_T_ERROR, 3, kWait);
  ASSERT_TRUE(unk);
  ASSERT_EQ(hirfw_error_unpack(unk->payload.data(), unk->payload.size(), &e), HIRFW_OK);
  EXPECT_EQ(e.code, HIRFW_E_UNKNOWN_TYPE);
}

TEST(Emulator, TcpRoundTripAndReconnect) {
  const auto data = TestImages::load(2);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  LocalModel local;
  RunningEmulator run(quiet_config(), /*tcp=*/true);
  ASSERT_TRUE(run.ok()) << run.error();
  for (int round = 0; round < 2; ++round) {
    auto line = run.open();
    ASSERT_TRUE(line) << round;
    ASSERT_TRUE(line->send(HIRFW_T_INFER, 7, data.images[round]));
    const auto f = line->wait_id(HIRFW_T_RESULT, 7, kWait);
    ASSERT_TRUE(f) << round;
    EXPECT_EQ(f->payload[0], local.classify(data.images[round]));
  }
}

// The figure docs/mcu-emulator.md and MODEL_CARD.md quote: the emulated latency of one inference
// at the default rates, from the pacing model (no wall clock), over the first 1000 test images.
TEST(Emulator, ReportEmulatedLatencyAtDefaults) {
  const auto data = TestImages::load(1000);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  LocalModel local;
  ASSERT_TRUE(local.ok());
  const double compute_ms = compute_us(local.model().macs, kDefaultMacsPerSecond) / 1000.0;
  double sum_ms = 0, in_bytes = 0;
  for (const auto& img : data.images) {
    const size_t in = wire_bytes(HIRFW_T_INFER, img);
    const size_t out = wire_bytes(HIRFW_T_RESULT, std::vector<uint8_t>(2 + 10 + 9, 1));
    in_bytes += static_cast<double>(in);
    sum_ms += to_ms(transfer_time(in + out, kDefaultBaud)) + compute_ms;
  }
  const double mean = sum_ms / static_cast<double>(data.images.size());
  std::printf("mean INFER wire bytes %.1f, RESULT wire bytes %zu, compute %.3f ms, latency %.3f ms\n",
              in_bytes / static_cast<double>(data.images.size()),
              wire_bytes(HIRFW_T_RESULT, std::vector<uint8_t>(21, 1)), compute_ms, mean);
  EXPECT_GT(mean, compute_ms);
}

}  // namespace
}  // namespace hir::mcu_emu::test
