// The full 10,000-image test split through OpenCV: the figures MODEL_CARD.md quotes as
// "through OpenCV". Slower than the other engine tests (seconds, mostly the CNN).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "engine/onnx_model.h"
#include "unit/engine/fmnist_data.h"

namespace hir {
namespace {

using testing::argmax;

struct Measured {
  double accuracy = 0;
  double us_per_image = 0;
};

Measured measure(const std::string& name) {
  const auto* data = testing::fmnist_test_split();
  if (data == nullptr) return {};
  auto model = OnnxModel::load(testing::model_path(name));
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (!model.ok()) return {};
  constexpr int kBatch = 100;
  int correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i + kBatch <= data->count; i += kBatch) {
    auto out = (*model)->run(data->x.data() + size_t{784} * i, kBatch, 784);
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    if (!out.ok()) return {};
    for (int j = 0; j < kBatch; ++j) correct += argmax(out->data() + j * 10, 10) == data->y[i + j];
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Measured m{static_cast<double>(correct) / data->count, secs * 1e6 / data->count};
  std::printf("[ accuracy ] %s through OpenCV: %.4f (%d/%d), %.1f us/image at batch %d, 1 thread\n",
              name.c_str(), m.accuracy, correct, data->count, m.us_per_image, kBatch);
  ::testing::Test::RecordProperty(name + "_accuracy", std::to_string(m.accuracy));
  return m;
}

TEST(FmnistAccuracyFull, TiersAreOrderedAndAboveTheirFloors) {
  const Measured tiny = measure("fmnist-tiny");
  const Measured small = measure("fmnist-small");
  const Measured large = measure("fmnist-large");
  EXPECT_GE(tiny.accuracy, 0.83);  // measured 0.8586 (MODEL_CARD.md)
  EXPECT_GE(small.accuracy, 0.87);  // measured 0.8962
  EXPECT_GE(large.accuracy, 0.89);  // measured 0.9138
  // The router trades accuracy for cost, which only makes sense if the tiers differ.
  EXPECT_GT(small.accuracy, tiny.accuracy);
  EXPECT_GT(large.accuracy, small.accuracy + 0.01);
}

}  // namespace
}  // namespace hir
