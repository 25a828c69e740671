// Shared by the engine tests: the Fashion-MNIST test split as floats, and the committed models.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/idx.h"

namespace hir::testing {

struct FmnistTest {
  int count = 0;
  std::vector<float> x;  // count * 784, pixel / 255 as train.py scales them
  std::vector<uint8_t> y;
};

// Loaded once per test binary; nullptr (and a printed reason) when the data set is not installed.
inline const FmnistTest* fmnist_test_split() {
  static const FmnistTest* cached = [] () -> const FmnistTest* {
    const std::string dir = fashion_mnist_dir();
    auto images = read_idx_images(dir + "/t10k-images-idx3-ubyte.gz");
    auto labels = read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz");
    if (!images.ok() || !labels.ok()) {
      ADD_FAILURE() << "Fashion-MNIST not readable under " << dir << ": "
                    << (images.ok() ? labels.status() : images.status()).to_string();
      return nullptr;
    }
    auto* d = new FmnistTest;  // lives for the whole test run
    d->count = images->count;
    d->y = std::move(*labels);
    d->x.resize(images->pixels.size());
    std::transform(images->pixels.begin(), images->pixels.end(), d->x.begin(),
                   [](uint8_t p) { return static_cast<float>(p) / 255.0f; });
    return d;
  }();
  return cached;
}

inline std::string model_path(const std::string& name) {
  return std::string(HIR_SOURCE_DIR) + "/models/" + name + "/1/model.onnx";
}

inline int argmax(const float* row, int n) {
  return static_cast<int>(std::max_element(row, row + n) - row);
}

}  // namespace hir::testing
