// The frame codec: CRC check values, COBS vectors and round trips, and an incremental decoder
// that drops and counts corrupted, truncated, oversized and garbage input and then resyncs.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "fw_test_util.h"
#include "hirfw/frame.h"
#include "hirfw/messages.h"
#include "hirfw/model.h"

namespace {

using hirfw_test::hex;
using Bytes = std::vector<uint8_t>;

Bytes encode(uint8_t type, uint16_t id, const Bytes& payload) {
  Bytes out(HIRFW_FRAME_MAX_WIRE);
  const size_t n = hirfw_frame_encode(type, id, payload.data(), payload.size(), out.data(), out.size());
  out.resize(n);
  return out;
}

struct Got {
  uint8_t type;
  uint16_t id;
  Bytes payload;
};

// Feeds data in chunks of `chunk` bytes (0 = all at once) and collects every frame.
std::vector<Got> decode_all(hirfw_decoder& d, const Bytes& data, size_t chunk = 0) {
  std::vector<Got> frames;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t n = chunk ? std::min(chunk, data.size() - pos) : data.size() - pos;
    size_t used = 0;
    while (used < n) {
      hirfw_frame f;
      int got = 0;
      used += hirfw_decoder_feed(&d, data.data() + pos + used, n - used, &f, &got);
      if (got) frames.push_back({f.type, f.id, Bytes(f.payload, f.payload + f.len)});
    }
    pos += n;
  }
  return frames;
}

Bytes cobs(const Bytes& in) {
  Bytes out(HIRFW_COBS_MAX(in.size()) + 1);
  out.resize(hirfw_cobs_encode(in.data(), in.size(), out.data(), out.size()));
  return out;
}

TEST(Crc, CheckValues) {
  const auto* s = reinterpret_cast<const uint8_t*>("123456789");
  EXPECT_EQ(hirfw_crc16(HIRFW_CRC16_INIT, s, 9), 0x29B1);  // CRC-16/CCITT-FALSE
  EXPECT_EQ(hirfw_crc32(0, s, 9), 0xCBF43926u);            // CRC-32/ISO-HDLC
  // Running values compose.
  EXPECT_EQ(hirfw_crc16(hirfw_crc16(HIRFW_CRC16_INIT, s, 4), s + 4, 5), 0x29B1);
}

TEST(Cobs, KnownVectors) {
  // The examples of Cheshire & Baker's encoding (as listed in the COBS literature).
  EXPECT_EQ(cobs({0x00}), (Bytes{0x01, 0x01}));
  EXPECT_EQ(cobs({0x00, 0x00}), (Bytes{0x01, 0x01, 0x01}));
  EXPECT_EQ(cobs({0x00, 0x11, 0x00}), (Bytes{0x01, 0x02, 0x11, 0x01}));
  EXPECT_EQ(cobs({0x11, 0x22, 0x00, 0x33}), (Bytes{0x03, 0x11, 0x22, 0x02, 0x33}));
  EXPECT_EQ(cobs({0x11, 0x22, 0x33, 0x44}), (Bytes{0x05, 0x11, 0x22, 0x33, 0x44}));
  EXPECT_EQ(cobs({0x11, 0x00, 0x00, 0x00}), (Bytes{0x02, 0x11, 0x01, 0x01, 0x01}));
  Bytes run254, run255;
  for (int i = 1; i <= 254; ++i) run254.push_back(static_cast<uint8_t>(i));
  Bytes want = {0xFF};
  want.insert(want.end(), run254.begin(), run254.end());
  EXPECT_EQ(cobs(run254), want);  // a full block at the end needs no empty block after it
  run255 = run254;
  run255.push_back(0xFF);
  want.insert(want.end(), {0x02, 0xFF});
  EXPECT_EQ(cobs(run255), want);
}

TEST(Cobs, RoundTripsAllLengths) {
  std::mt19937 rng(1);
  for (size_t len = 0; len <= 1100; ++len) {
    Bytes in(len);
    const int zero_odds = static_cast<int>(len % 4);  // from no zeros to many
    for (auto& b : in) b = (zero_odds && rng() % (8 * zero_odds) == 0) ? 0 : 1 + rng() % 255;
    Bytes enc = cobs(in);
    ASSERT_LE(enc.size(), HIRFW_COBS_MAX(len));
    ASSERT_EQ(std::count(enc.begin(), enc.end(), 0), 0);
    const long n = hirfw_cobs_decode(enc.data(), enc.size());
    ASSERT_EQ(n, static_cast<long>(len));
    ASSERT_TRUE(std::equal(in.begin(), in.end(), enc.begin()));
  }
}

TEST(Cobs, RejectsInvalid) {
  Bytes runs_past_end = {0x05, 0x11, 0x22};
  EXPECT_EQ(hirfw_cobs_decode(runs_past_end.data(), runs_past_end.size()), -1);
  Bytes has_zero = {0x03, 0x11, 0x00};
  EXPECT_EQ(hirfw_cobs_decode(has_zero.data(), has_zero.size()), -1);
}

TEST(Frame, RoundTripAnyChunking) {
  std::mt19937 rng(2);
  Bytes stream;
  std::vector<Got> sent;
  for (int i = 0; i < 60; ++i) {
    Bytes p(rng() % (HIRFW_FRAME_MAX_PAYLOAD + 1));
    for (auto& b : p) b = rng() % 3 == 0 ? 0 : rng() & 0xFF;
    const auto type = static_cast<uint8_t>(1 + rng() % 7);
    const auto id = static_cast<uint16_t>(rng());
    const Bytes w = encode(type, id, p);
    ASSERT_FALSE(w.empty());
    ASSERT_LE(w.size(), size_t{HIRFW_FRAME_MAX_WIRE});
    stream.insert(stream.end(), w.begin(), w.end());
    sent.push_back({type, id, p});
  }
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
    hirfw_decoder d;
    hirfw_decoder_init(&d);
    const auto got = decode_all(d, stream, chunk);
    ASSERT_EQ(got.size(), sent.size()) << "chunk " << chunk;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].type, sent[i].type);
      EXPECT_EQ(got[i].id, sent[i].id);
      EXPECT_EQ(got[i].payload, sent[i].payload);
    }
    EXPECT_EQ(d.bad_crc + d.bad_frame, 0u);
    EXPECT_EQ(d.frames_ok, sent.size());
  }
}

TEST(Frame, EncodeRejectsOversizedPayloadAndSmallBuffer) {
  Bytes big(HIRFW_FRAME_MAX_PAYLOAD + 1, 1), out(HIRFW_FRAME_MAX_WIRE * 2);
  EXPECT_EQ(hirfw_frame_encode(HIRFW_T_INFER, 1, big.data(), big.size(), out.data(), out.size()), 0u);
  Bytes p(10, 1);
  EXPECT_EQ(hirfw_frame_encode(HIRFW_T_INFER, 1, p.data(), p.size(), out.data(), 12), 0u);
}

TEST(Decoder, CorruptedByteIsCountedAndNextFrameDecodes) {
  for (size_t at = 1; at < 12; ++at) {
    Bytes bad = encode(HIRFW_T_INFER, 9, {1, 2, 3, 4, 5, 6});
    bad[at] ^= 0x5A;
    if (bad[at] == 0) bad[at] = 0x01;
    Bytes stream = bad;
    const Bytes good = encode(HIRFW_T_STATUS_REQUEST, 10, {});
    stream.insert(stream.end(), good.begin(), good.end());
    hirfw_decoder d;
    hirfw_decoder_init(&d);
    const auto got = decode_all(d, stream, 1);
    ASSERT_EQ(got.size(), 1u) << at;
    EXPECT_EQ(got[0].id, 10);
    EXPECT_EQ(d.bad_crc + d.bad_frame, 1u) << at;
  }
}

TEST(Decoder, TruncatedFrameIsDroppedAtNextDelimiter) {
  const Bytes full = encode(HIRFW_T_INFER, 1, Bytes(100, 7));
  Bytes stream(full.begin(), full.begin() + 50);  // cut off: no trailing delimiter
  const Bytes good = encode(HIRFW_T_INFER, 2, Bytes(3, 9));
  stream.insert(stream.end(), good.begin(), good.end());  // its leading 00 ends the cut frame
  hirfw_decoder d;
  hirfw_decoder_init(&d);
  const auto got = decode_all(d, stream);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, 2);
  EXPECT_EQ(d.bad_crc + d.bad_frame, 1u);
}

TEST(Decoder, OversizedAndTinyFramesCountAsBad) {
  Bytes stream(1, 0x00);
  stream.insert(stream.end(), 5000, 0x42);  // far past HIRFW_FRAME_MAX_ENCODED
  stream.push_back(0x00);
  stream.insert(stream.end(), {0x03, 0x01, 0x02, 0x00});  // decodes to 4 bytes: too short
  const Bytes good = encode(HIRFW_T_INFER, 3, Bytes(HIRFW_FRAME_MAX_PAYLOAD, 0x11));
  stream.insert(stream.end(), good.begin(), good.end());
  hirfw_decoder d;
  hirfw_decoder_init(&d);
  const auto got = decode_all(d, stream, 13);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload.size(), size_t{HIRFW_FRAME_MAX_PAYLOAD});
  EXPECT_EQ(d.bad_frame, 2u);
}

TEST(Decoder, GarbageNeverCrashesAndResyncs) {
  std::mt19937 rng(3);
  hirfw_decoder d;
  hirfw_decoder_init(&d);
  int good_seen = 0;
  for (int round = 0; round < 200; ++round) {
    Bytes stream(rng() % 3000);
    for (auto& b : stream) b = rng() % 16 == 0 ? 0 : rng() & 0xFF;
    const Bytes good = encode(HIRFW_T_INFER, static_cast<uint16_t>(round), Bytes(784, 0x80));
    stream.insert(stream.end(), good.begin(), good.end());
    for (const auto& g : decode_all(d, stream, 1 + rng() % 64))
      if (g.type == HIRFW_T_INFER && g.id == round && g.payload.size() == 784) ++good_seen;
  }
  EXPECT_EQ(good_seen, 200);  // every good frame after garbage is recovered
  EXPECT_GT(d.bad_crc + d.bad_frame, 0u);
}

// The worked examples of docs/frame-protocol.md, produced by this code; each is checked so the
// document cannot drift from the codec.
Bytes result_example() {
  hirfw_result_msg r{};
  r.top_class = 9;
  r.n_logits = 10;
  const int8_t logits[10] = {-61, -79, -50, -70, -57, 3, -44, 10, -27, 38};
  std::memcpy(r.logits, logits, 10);
  r.out_scale = 0.25f;
  r.out_zp = 36;
  r.infer_us = 635;
  Bytes p(64);
  p.resize(hirfw_result_pack(&r, p.data(), p.size()));
  return p;
}
Bytes status_example() {
  const hirfw_status_msg s{HIRFW_STATUS_MODEL_READY, 635, 3, 1, 2, 0};
  Bytes p(HIRFW_STATUS_BYTES);
  hirfw_status_pack(&s, p.data(), p.size());
  return p;
}
Bytes info_example() {
  const hirfw_info_msg m{784, 10, HIRFW_INPUT_U8_PIXELS, 25408, 0x2ead0e46u, HIRFW_FRAME_MAX_PAYLOAD};
  Bytes p(HIRFW_INFO_BYTES);
  hirfw_info_pack(&m, p.data(), p.size());
  return p;
}

TEST(Frame, DocumentedExamples) {
  const std::pair<const char*, Bytes> examples[] = {
      {"STATUS_REQUEST id 0x0102", encode(HIRFW_T_STATUS_REQUEST, 0x0102, {})},
      {"ERROR busy id 7", encode(HIRFW_T_ERROR, 7, {HIRFW_E_BUSY, 0x00, 0x00})},
      {"INFER id 0x0203 (4-pixel payload, for illustration)", encode(HIRFW_T_INFER, 0x0203, {0, 0, 128, 255})},
      {"RESULT id 0x0203 payload", result_example()},
      {"RESULT id 0x0203", encode(HIRFW_T_RESULT, 0x0203, result_example())},
      {"STATUS heartbeat payload", status_example()},
      {"STATUS heartbeat", encode(HIRFW_T_STATUS, 0, status_example())},
      {"INFO_REQUEST id 5", encode(HIRFW_T_INFO_REQUEST, 5, {})},
      {"INFO id 5", encode(HIRFW_T_INFO, 5, info_example())},
  };
  const char* want[] = {
      "00 06 05 02 01 2f 51 00",
      "00 03 03 07 02 01 01 03 14 90 00",
      "00 04 01 03 02 01 05 80 ff a4 c6 00",
      "09 0a c3 b1 ce ba c7 03 d4 0a e5 26 00 00 80 3e 24 7b 02 00 00",
      "00 10 02 03 02 09 0a c3 b1 ce ba c7 03 d4 0a e5 26 01 06 80 3e 24 7b 02 01 03 cd 20 00",
      "02 7b 02 00 00 03 00 00 00 01 00 00 00 02 00 00 00 00 00 00 00",
      "00 02 04 01 04 02 7b 02 01 02 03 01 01 02 01 01 01 02 02 01 01 01 01 01 01 03 3e a3 00",
      "00 03 06 05 03 c9 81 00",
      "00 03 07 05 04 10 03 0a 01 03 40 63 01 05 46 0e ad 2e 04 04 30 25 00",
  };
  for (size_t i = 0; i < std::size(examples); ++i) {
    std::printf("%s: %s\n", examples[i].first, hex(examples[i].second).c_str());
    if (i < std::size(want)) {
      EXPECT_EQ(hex(examples[i].second), want[i]) << examples[i].first;
    }
  }
  // Every example decodes back to what was encoded.
  for (size_t i = 0; i < std::size(examples); ++i) {
    if (examples[i].second.empty() || examples[i].second[0] != 0) continue;
    hirfw_decoder d;
    hirfw_decoder_init(&d);
    EXPECT_EQ(decode_all(d, examples[i].second).size(), 1u) << examples[i].first;
  }
}

}  // namespace
