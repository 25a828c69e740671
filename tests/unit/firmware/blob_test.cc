// Model blob validation: the committed blob loads; every malformed variant is refused with its
// error code (re-sealed with a fresh CRC where the check under test lies behind the CRC), and
// random corruption never crashes the loader.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "fw_test_util.h"
#include "hirfw/model.h"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes committed_blob() { return hirfw_test::read_file(hirfw_test::source_path("models/fmnist-tiny/int8/model.hirm")); }

void put16(Bytes& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put32(Bytes& b, size_t at, uint32_t v) {
  put16(b, at, v);
  put16(b, at + 2, v >> 16);
}
uint32_t get32(const Bytes& b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}
// Recomputes the header's total size and CRC so a mutation reaches the checks behind them.
void reseal(Bytes& b) {
  put32(b, 8, static_cast<uint32_t>(b.size()));
  put32(b, 12, hirfw_crc32(0, b.data() + 16, b.size() - 16));
}
hirfw_status check(const Bytes& b) {
  size_t arena = 0;
  return hirfw_model_check(b.data(), b.size(), &arena);
}

constexpr size_t kLayer0 = HIRFW_BLOB_HEADER_BYTES, kLayer1 = kLayer0 + HIRFW_BLOB_LAYER_BYTES;

TEST(Blob, CommittedBlobLoads) {
  const Bytes b = committed_blob();
  ASSERT_FALSE(b.empty());
  size_t arena = 0;
  ASSERT_EQ(hirfw_model_check(b.data(), b.size(), &arena), HIRFW_OK);
  EXPECT_EQ(arena, get32(b, 28));  // the quantizer's figure equals the loader's
  alignas(4) static uint8_t mem[4096];
  hirfw_model m;
  ASSERT_EQ(hirfw_model_init(&m, b.data(), b.size(), mem, arena), HIRFW_OK);
  EXPECT_EQ(m.input_size, 784);
  EXPECT_EQ(m.output_size, 10);
  EXPECT_EQ(m.n_layers, 2);
  EXPECT_EQ(m.macs, 784u * 32 + 32 * 10);
  std::printf("blob %zu bytes, arena %zu bytes, %u MACs\n", b.size(), arena, m.macs);
}

TEST(Blob, ArenaTooSmallOrMisaligned) {
  const Bytes b = committed_blob();
  size_t arena = 0;
  ASSERT_EQ(hirfw_model_check(b.data(), b.size(), &arena), HIRFW_OK);
  alignas(4) static uint8_t mem[4096 + 4];
  hirfw_model m;
  EXPECT_EQ(hirfw_model_init(&m, b.data(), b.size(), mem, arena - 1), HIRFW_ERR_ARENA);
  EXPECT_EQ(hirfw_model_init(&m, b.data(), b.size(), mem + 1, 4096), HIRFW_ERR_ARENA);
  uint8_t px[784] = {};
  int8_t logits[10];
  int top;
  EXPECT_NE(hirfw_model_invoke(&m, px, 784, logits, 10, &top), HIRFW_OK);  // unusable after failure
}

TEST(Blob, HeaderErrors) {
  const Bytes good = committed_blob();
  Bytes b = good;
  b[0] = 'X';
  EXPECT_EQ(check(b), HIRFW_ERR_MAGIC);
  b = good;
  put16(b, 4, 2);
  EXPECT_EQ(check(b), HIRFW_ERR_VERSION);
  b = good;
  put16(b, 6, 40);
  EXPECT_EQ(check(b), HIRFW_ERR_SIZE);
  b.assign(good.begin(), good.begin() + 20);
  EXPECT_EQ(check(b), HIRFW_ERR_TRUNCATED);
  b.assign(good.begin(), good.end() - 1);
  EXPECT_EQ(check(b), HIRFW_ERR_TRUNCATED);
  b = good;
  b.push_back(0);
  EXPECT_EQ(check(b), HIRFW_ERR_SIZE);
  b = good;
  b[good.size() / 2] ^= 0x01;
  EXPECT_EQ(check(b), HIRFW_ERR_CRC);
  EXPECT_EQ(hirfw_model_check(nullptr, 0, nullptr), HIRFW_ERR_NULL);
  EXPECT_EQ(hirfw_model_check(good.data(), 3, nullptr), HIRFW_ERR_TRUNCATED);
}

TEST(Blob, TableErrorsBehindTheCrc) {
  const Bytes good = committed_blob();
  auto mutated = [&](auto fn) {
    Bytes b = good;
    fn(b);
    reseal(b);
    return check(b);
  };
  EXPECT_EQ(mutated([](Bytes& b) { put16(b, 16, 0); }), HIRFW_ERR_SHAPE);
  EXPECT_EQ(mutated([](Bytes& b) { put16(b, 16, HIRFW_MAX_LAYERS + 1); }), HIRFW_ERR_SHAPE);
  EXPECT_EQ(mutated([](Bytes& b) { put16(b, 16, 3); }), HIRFW_ERR_LAYER);  // 3rd entry is weights
  EXPECT_EQ(mutated([](Bytes& b) { b[kLayer0] = 9; }), HIRFW_ERR_LAYER);
  EXPECT_EQ(mutated([](Bytes& b) { b[kLayer1 + 1] = 7; }), HIRFW_ERR_LAYER);
  EXPECT_EQ(mutated([](Bytes& b) { put16(b, kLayer1 + 2, 31); }), HIRFW_ERR_SHAPE);
  EXPECT_EQ(mutated([](Bytes& b) { put16(b, 20, 11); }), HIRFW_ERR_SHAPE);
  EXPECT_EQ(mutated([](Bytes& b) { put16(b, 18, 0); }), HIRFW_ERR_SHAPE);
  EXPECT_EQ(mutated([](Bytes& b) { b[kLayer1 + 6] ^= 1; }), HIRFW_ERR_QUANT);  // zp chain broken
  EXPECT_EQ(mutated([](Bytes& b) { b[22] = 1; }), HIRFW_ERR_QUANT);
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, kLayer0 + 12, 0); }), HIRFW_ERR_QUANT);
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, kLayer1 + 16, 0x7FFFFFF0u); }), HIRFW_ERR_LAYER);
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, kLayer1 + 16, get32(b, kLayer1 + 16) + 2); }),
            HIRFW_ERR_LAYER);  // misaligned
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, kLayer1 + 20, get32(b, kLayer1 + 20) - 4); }),
            HIRFW_ERR_LAYER);
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, 28, get32(b, 28) + 4); }), HIRFW_ERR_SIZE);
  // The first shift of layer 1: after its 320 weights, 10 biases and 10 multipliers.
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, get32(b, kLayer1 + 16) + 320 + 80, 40); }),
            HIRFW_ERR_QUANT);
  EXPECT_EQ(mutated([](Bytes& b) { put32(b, get32(b, kLayer1 + 16) + 320 + 40, 0x80000000u); }),
            HIRFW_ERR_QUANT);  // a negative multiplier
}

TEST(Blob, RandomCorruptionNeverCrashes) {
  const Bytes good = committed_blob();
  std::mt19937 rng(5);
  alignas(4) static uint8_t mem[4096];
  int refused = 0;
  for (int t = 0; t < 3000; ++t) {
    Bytes b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % (t % 2 ? 96 : b.size())] = static_cast<uint8_t>(rng());
    if (t % 3) reseal(b);
    hirfw_model m;
    if (hirfw_model_init(&m, b.data(), b.size(), mem, sizeof mem) != HIRFW_OK) {
      ++refused;
      continue;
    }
    uint8_t px[784] = {};
    int8_t logits[HIRFW_MAX_OUTPUTS];
    int top = -1;
    ASSERT_EQ(hirfw_model_invoke(&m, px, 784, logits, sizeof logits, &top), HIRFW_OK);
    EXPECT_GE(top, 0);
  }
  EXPECT_GT(refused, 0);
}

TEST(Model, InvokeArgumentErrors) {
  const Bytes b = committed_blob();
  alignas(4) static uint8_t mem[4096];
  hirfw_model m;
  ASSERT_EQ(hirfw_model_init(&m, b.data(), b.size(), mem, sizeof mem), HIRFW_OK);
  uint8_t px[785] = {};
  int8_t logits[10];
  int top;
  EXPECT_EQ(hirfw_model_invoke(&m, px, 785, logits, 10, &top), HIRFW_ERR_INPUT);
  EXPECT_EQ(hirfw_model_invoke(&m, px, 784, logits, 9, &top), HIRFW_ERR_BUFFER);
  EXPECT_EQ(hirfw_model_invoke(&m, nullptr, 784, logits, 10, &top), HIRFW_ERR_NULL);
  EXPECT_STREQ(hirfw_status_name(HIRFW_ERR_CRC), "HIRFW_ERR_CRC");
}

}  // namespace
