#include "core/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>

namespace hir {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // uint8, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // uint8, 1 dimension
// Far above any real data set; stops a corrupt header from asking for gigabytes.
constexpr uint64_t kMaxElements = uint64_t{1} << 31;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly n bytes; gzread takes an unsigned int, so large reads go in chunks.
Status read_exact(gzFile f, uint8_t* out, size_t n, const std::string& path) {
  while (n > 0) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    int got = gzread(f, out, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      return InvalidArgument(path + ": corrupt gzip stream: " + (msg ? msg : "?"));
    }
    if (got == 0) return InvalidArgument(path + ": truncated (file shorter than its header says)");
    out += got;
    n -= static_cast<size_t>(got);
  }
  return Status::Ok();
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Opens the file, checks the magic and returns the dimension sizes that follow it.
template <size_t Dims>
Result<std::array<uint32_t, Dims>> read_header(const std::string& path, uint32_t magic, GzFile& file) {
  file.reset(gzopen(path.c_str(), "rb"));
  if (!file) return NotFound(path + ": cannot open");
  std::array<uint8_t, 4 * (Dims + 1)> raw{};
  HIR_RETURN_IF_ERROR(read_exact(file.get(), raw.data(), raw.size(), path));
  if (be32(raw.data()) != magic) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ": bad magic 0x%08x, want 0x%08x", be32(raw.data()), magic);
    return InvalidArgument(path + buf);
  }
  std::array<uint32_t, Dims> dims{};
  uint64_t total = 1;
  for (size_t i = 0; i < Dims; ++i) {
    dims[i] = be32(raw.data() + 4 * (i + 1));
    if (dims[i] > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
      return InvalidArgument(path + ": dimension too large");
    }
    total *= dims[i];
    if (total > kMaxElements) return InvalidArgument(path + ": header asks for too many elements");
  }
  return dims;
}

// A trailing byte after the declared data means the header and the payload disagree.
Status expect_eof(gzFile f, const std::string& path) {
  uint8_t extra = 0;
  if (gzread(f, &extra, 1) != 0) return InvalidArgument(path + ": data longer than its header says");
  return Status::Ok();
}

}  // namespace

Result<IdxImages> read_idx_images(const std::string& path) {
  GzFile file;
  auto dims = read_header<3>(path, kImagesMagic, file);
  if (!dims.ok()) return dims.status();
  IdxImages out;
  out.count = static_cast<int>((*dims)[0]);
  out.rows = static_cast<int>((*dims)[1]);
  out.cols = static_cast<int>((*dims)[2]);
  out.pixels.resize(static_cast<size_t>(out.count) * out.image_size());
  HIR_RETURN_IF_ERROR(read_exact(file.get(), out.pixels.data(), out.pixels.size(), path));
  HIR_RETURN_IF_ERROR(expect_eof(file.get(), path));
  return out;
}

Result<std::vector<uint8_t>> read_idx_labels(const std::string& path) {
  GzFile file;
  auto dims = read_header<1>(path, kLabelsMagic, file);
  if (!dims.ok()) return dims.status();
  std::vector<uint8_t> labels((*dims)[0]);
  HIR_RETURN_IF_ERROR(read_exact(file.get(), labels.data(), labels.size(), path));
  HIR_RETURN_IF_ERROR(expect_eof(file.get(), path));
  return labels;
}

std::string fashion_mnist_dir() {
  const char* env = std::getenv("HIR_FMNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

}  // namespace hir
