// A throwaway model repository under the test's temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace hir::worker::testing {

inline constexpr const char* kSmallConfig = R"(name: toy
platform: onnxruntime_onnx
max_batch_size: 8
inputs:
  - {name: input, datatype: FP32, shape: [4]}
outputs:
  - {name: probabilities, datatype: FP32, shape: [3]}
)";

class TempRepo {
 public:
  TempRepo() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::temp_directory_path() /
            ("hir_worker_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~TempRepo() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::filesystem::path& root() const { return root_; }

  void write(const std::string& rel, const std::string& text) const {
    const auto p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  // A model directory with config.yaml and (fake) version files.
  void add_model(const std::string& name, const std::string& config,
                 std::initializer_list<int> versions) const {
    write(name + "/config.yaml", config);
    for (int v : versions) write(name + "/" + std::to_string(v) + "/model.onnx", "not onnx");
  }

 private:
  std::filesystem::path root_;
};

inline std::string config_named(const std::string& name) {
  std::string c = kSmallConfig;
  c.replace(c.find("toy"), 3, name);
  return c;
}

}  // namespace hir::worker::testing
