// Readers for the IDX files Fashion-MNIST (and MNIST) ship in, gzip-compressed.
//
// Format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a big-endian header — a magic number
// whose third byte is the element type (0x08 = unsigned byte) and fourth the number of dimensions,
// then one uint32 size per dimension — followed by the elements, row-major. Only the two layouts
// the data sets use are accepted: 3-d uint8 images (magic 0x00000803) and 1-d uint8 labels
// (magic 0x00000801). Uncompressed files are read too (zlib passes them through).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace hir {

struct IdxImages {
  int count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols bytes, image after image, row-major

  size_t image_size() const { return static_cast<size_t>(rows) * static_cast<size_t>(cols); }
  const uint8_t* image(int i) const { return pixels.data() + static_cast<size_t>(i) * image_size(); }
};

// Errors: NotFound when the file cannot be opened; InvalidArgument for a bad magic number, an
// implausible size or a file shorter than its header says (a truncated download).
Result<IdxImages> read_idx_images(const std::string& path);
Result<std::vector<uint8_t>> read_idx_labels(const std::string& path);

// Where the Fashion-MNIST files are: $HIR_FMNIST_DIR when set and non-empty, else
// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist package).
std::string fashion_mnist_dir();

}  // namespace hir
