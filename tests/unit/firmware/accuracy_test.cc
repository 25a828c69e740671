// The int8 model through the firmware's kernels on all 10,000 Fashion-MNIST test images: accuracy
// within 0.1 point of the figure stated in models/MODEL_CARD.md ("fmnist-tiny int8 (MCU)"), and the
// optimized path bit-exact with the reference kernels on every image.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "fw_test_util.h"
#include "hirfw/model.h"

namespace {

// models/MODEL_CARD.md, section "fmnist-tiny int8 (MCU)": int8 test accuracy.
constexpr double kStatedInt8AccuracyPct = 85.77;

TEST(Int8Model, AccuracyOnFullTestSplit) {
  const auto blob = hirfw_test::read_file(hirfw_test::source_path("models/fmnist-tiny/int8/model.hirm"));
  const auto images = hirfw_test::read_gz(hirfw_test::fmnist_dir() + "/t10k-images-idx3-ubyte.gz");
  const auto labels = hirfw_test::read_gz(hirfw_test::fmnist_dir() + "/t10k-labels-idx1-ubyte.gz");
  if (images.size() < 16 + 10000 * 784 || labels.size() < 8 + 10000)
    GTEST_SKIP() << "Fashion-MNIST test split not found in " << hirfw_test::fmnist_dir();
  alignas(4) static uint8_t arena[4096];
  hirfw_model m;
  ASSERT_EQ(hirfw_model_init(&m, blob.data(), blob.size(), arena, sizeof arena), HIRFW_OK);
  int correct = 0;
  for (int i = 0; i < 10000; ++i) {
    const uint8_t* px = images.data() + 16 + static_cast<size_t>(i) * 784;
    int8_t fast[10], ref[10];
    int top_fast = -1, top_ref = -2;
    ASSERT_EQ(hirfw_model_invoke(&m, px, 784, fast, 10, &top_fast), HIRFW_OK);
    ASSERT_EQ(hirfw_model_invoke_ref(&m, px, 784, ref, 10, &top_ref), HIRFW_OK);
    ASSERT_EQ(std::vector<int8_t>(fast, fast + 10), std::vector<int8_t>(ref, ref + 10)) << i;
    ASSERT_EQ(top_fast, top_ref);
    correct += top_fast == labels[8 + i];
  }
  const double pct = correct / 100.0;
  std::printf("int8 accuracy: %.2f %% (%d/10000)\n", pct, correct);
  EXPECT_NEAR(pct, kStatedInt8AccuracyPct, 0.1);
}

}  // namespace
