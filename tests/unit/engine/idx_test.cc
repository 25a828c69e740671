#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/idx.h"

namespace hir {
namespace {

namespace fs = std::filesystem;

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hir_idx_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `bytes` gzip-compressed (or plain) and returns the path.
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes, bool gzip = true) {
    std::string path = (dir_ / name).string();
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      EXPECT_NE(f, nullptr) << path;
      if (f == nullptr) return path;
      EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
      gzclose(f);
    } else {
      FILE* f = std::fopen(path.c_str(), "wb");
      EXPECT_NE(f, nullptr) << path;
      if (f == nullptr) return path;
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
    return path;
  }

  static void be32(std::vector<uint8_t>& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  }
  static std::vector<uint8_t> images_file(uint32_t n, uint32_t rows, uint32_t cols, size_t data_bytes,
                                          uint32_t magic = 0x803) {
    std::vector<uint8_t> b;
    be32(b, magic);
    be32(b, n);
    be32(b, rows);
    be32(b, cols);
    for (size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<uint8_t>(i * 7));
    return b;
  }

  fs::path dir_;
};

TEST_F(IdxTest, ReadsImages) {
  auto r = read_idx_images(write("img.gz", images_file(3, 2, 4, 24)));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->count, 3);
  EXPECT_EQ(r->rows, 2);
  EXPECT_EQ(r->cols, 4);
  ASSERT_EQ(r->pixels.size(), 24u);
  EXPECT_EQ(r->image(2)[1], static_cast<uint8_t>(17 * 7));
}

TEST_F(IdxTest, ReadsUncompressedToo) {
  auto r = read_idx_images(write("img", images_file(1, 2, 2, 4), /*gzip=*/false));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->count, 1);
}

TEST_F(IdxTest, ReadsLabels) {
  std::vector<uint8_t> b;
  be32(b, 0x801);
  be32(b, 5);
  for (uint8_t v : {9, 0, 0, 3, 1}) b.push_back(v);
  auto r = read_idx_labels(write("lab.gz", b));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, (std::vector<uint8_t>{9, 0, 0, 3, 1}));
}

TEST_F(IdxTest, RejectsBadMagic) {
  auto r = read_idx_images(write("img.gz", images_file(1, 2, 2, 4, /*magic=*/0x801)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("magic"), std::string::npos) << r.status().message();
  // An image file passed as labels is caught the same way.
  auto l = read_idx_labels(write("img2.gz", images_file(1, 2, 2, 4)));
  EXPECT_EQ(l.status().code(), Code::kInvalidArgument);
}

TEST_F(IdxTest, RejectsTruncatedData) {
  auto r = read_idx_images(write("img.gz", images_file(3, 2, 4, 23)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
}

TEST_F(IdxTest, RejectsTruncatedHeader) {
  auto r = read_idx_images(write("img.gz", {0, 0, 8, 3, 0, 0}));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(IdxTest, RejectsTrailingData) {
  auto r = read_idx_images(write("img.gz", images_file(1, 2, 2, 5)));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(IdxTest, RejectsAbsurdSizesWithoutAllocating) {
  auto r = read_idx_images(write("img.gz", images_file(0x7fffffff, 0x7fffffff, 28, 0)));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(IdxTest, RejectsCorruptGzip) {
  std::vector<uint8_t> b = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
  auto r = read_idx_images(write("bad.gz", b, /*gzip=*/false));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(IdxTest, MissingFileIsNotFound) {
  auto r = read_idx_labels((dir_ / "nope.gz").string());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST(FashionMnistDir, DefaultsToDebianPathAndHonoursEnv) {
  const char* old = std::getenv("HIR_FMNIST_DIR");
  std::string saved = old ? old : "";
  ::unsetenv("HIR_FMNIST_DIR");
  EXPECT_EQ(fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
  ::setenv("HIR_FMNIST_DIR", "/data/fm", 1);
  EXPECT_EQ(fashion_mnist_dir(), "/data/fm");
  if (old) ::setenv("HIR_FMNIST_DIR", saved.c_str(), 1);
  else ::unsetenv("HIR_FMNIST_DIR");
}

TEST(FashionMnistData, RealFilesHaveTheExpectedShape) {
  const std::string dir = fashion_mnist_dir();
  auto train = read_idx_images(dir + "/train-images-idx3-ubyte.gz");
  auto labels = read_idx_labels(dir + "/train-labels-idx1-ubyte.gz");
  ASSERT_TRUE(train.ok()) << train.status().to_string();
  ASSERT_TRUE(labels.ok()) << labels.status().to_string();
  EXPECT_EQ(train->count, 60000);
  EXPECT_EQ(train->rows, 28);
  EXPECT_EQ(train->cols, 28);
  EXPECT_EQ(labels->size(), 60000u);
  for (uint8_t l : *labels) ASSERT_LT(l, 10);
}

}  // namespace
}  // namespace hir
