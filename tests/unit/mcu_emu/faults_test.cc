// The fault switches do what they say, and the device survives garbage on its line.
#include <gtest/gtest.h>

#include <random>

#include "unit/mcu_emu/emu_fixture.h"

namespace hir::mcu_emu::test {
namespace {

constexpr auto kWait = std::chrono::seconds(5);
// How long a test waits to conclude that no answer is coming: an answer to a STATUS_REQUEST at
// 921600 baud takes well under a millisecond of line time.
constexpr auto kSilence = std::chrono::milliseconds(300);

TEST(Faults, DropEveryNthIncomingFrame) {
  EmulatorConfig cfg = quiet_config();
  cfg.faults.drop_every = 3;
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  for (uint16_t id = 1; id <= 6; ++id) {
    ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, id, {}));
    const bool dropped = id % 3 == 0;
    const auto f = line->wait_id(HIRFW_T_STATUS, id, dropped ? kSilence : kWait);
    EXPECT_EQ(f.has_value(), !dropped) << "id " << id;
  }
  EXPECT_EQ(run.emu().stats().dropped_by_fault, 2u);
}

TEST(Faults, CorruptEveryNthOutgoingFrameIsCaughtByTheCrc) {
  EmulatorConfig cfg = quiet_config();
  cfg.faults.corrupt_every = 2;
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  int answered = 0;
  for (uint16_t id = 1; id <= 6; ++id) {
    ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, id, {}));
    const bool corrupted = id % 2 == 0;
    if (line->wait_id(HIRFW_T_STATUS, id, corrupted ? kSilence : kWait)) ++answered;
  }
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(line->decoder().bad_crc + line->decoder().bad_frame, 3u);
  EXPECT_EQ(run.emu().stats().corrupted, 3u);
}

TEST(Faults, StallAfterNRequestsAnswersNothingMore) {
  const auto data = TestImages::load(3);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  EmulatorConfig cfg;
  cfg.heartbeat = from_ms(20);
  cfg.faults.stall_after = 2;
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  for (uint16_t id = 1; id <= 2; ++id) {
    ASSERT_TRUE(line->send(HIRFW_T_INFER, id, data.images[id - 1]));
    ASSERT_TRUE(line->wait_id(HIRFW_T_RESULT, id, kWait)) << id;
  }
  ASSERT_TRUE(line->send(HIRFW_T_INFER, 3, data.images[2]));
  ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, 4, {}));
  const auto after = line->collect(kSilence);
  for (const auto& f : after) {
    EXPECT_NE(f.type, HIRFW_T_RESULT);
    EXPECT_NE(f.id, 4);
  }
  // Heartbeats stop too (a frame already on the line may still have arrived above).
  EXPECT_TRUE(line->collect(kSilence).empty());
}

TEST(Faults, GarbageOnTheLineThenAGoodFrameIsAnswered) {
  const auto data = TestImages::load(1);
  if (data.images.empty()) GTEST_SKIP() << "Fashion-MNIST test split not found";
  LocalModel local;
  RunningEmulator run(quiet_config());
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  std::mt19937 rng(11);
  for (uint16_t id = 1; id <= 5; ++id) {
    std::vector<uint8_t> junk(1 + rng() % 3000);
    for (auto& b : junk) b = rng() % 10 == 0 ? 0 : static_cast<uint8_t>(rng());
    ASSERT_TRUE(line->write_raw(junk));
    ASSERT_TRUE(line->send(HIRFW_T_INFER, id, data.images[0]));
    const auto f = line->wait_id(HIRFW_T_RESULT, id, kWait);
    ASSERT_TRUE(f) << id;
    EXPECT_EQ(f->payload[0], local.classify(data.images[0]));
  }
  ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, 9, {}));
  const auto st = line->wait_id(HIRFW_T_STATUS, 9, kWait);
  ASSERT_TRUE(st);
  hirfw_status_msg s;
  ASSERT_EQ(hirfw_status_unpack(st->payload.data(), st->payload.size(), &s), HIRFW_OK);
  EXPECT_GT(s.bad_crc + s.bad_frame, 0u);  // the device counted what it threw away
  EXPECT_EQ(s.infer_count, 5u);
}

TEST(Faults, GarbageSwitchNeverCostsAFrame) {
  EmulatorConfig cfg = quiet_config();
  cfg.faults.garbage = true;
  RunningEmulator run(cfg);
  ASSERT_TRUE(run.ok()) << run.error();
  auto line = run.open();
  ASSERT_TRUE(line);
  for (uint16_t id = 1; id <= 40; ++id) {
    ASSERT_TRUE(line->send(HIRFW_T_STATUS_REQUEST, id, {}));
    ASSERT_TRUE(line->wait_id(HIRFW_T_STATUS, id, kWait)) << id;
  }
  EXPECT_GT(run.emu().stats().garbage_bytes, 0u);
}

}  // namespace
}  // namespace hir::mcu_emu::test
