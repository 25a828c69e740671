// Helpers for the mcu backend tests: the real hir-mcu-emu executable started behind a pty or a
// TCP port, the Fashion-MNIST test images, the firmware model run in-process (the answers the
// device must give), and a blocking wrapper around McuPool::submit.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/mcu_pool.h"
#include "core/idx.h"
#include "core/process.h"
#include "hirfw/kernels.h"
#include "hirfw/model.h"

namespace hir::backends::test {

inline std::string source_path(const std::string& rel) { return std::string(HIR_SOURCE_DIR) + "/" + rel; }
inline std::string emu_binary() { return executable_dir() + "/hir-mcu-emu"; }
inline bool emu_available() { return ::access(emu_binary().c_str(), X_OK) == 0; }

// Polls `pred` until it holds or a generous limit passes (a hang guard, not a timing check).
inline bool eventually(const std::function<bool()>& pred, Duration limit = std::chrono::seconds(30)) {
  const TimePoint end = SteadyClock::now() + limit;
  while (!pred()) {
    if (SteadyClock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A scratch directory for the emulator's path/port file and log, removed with its owner.
class TempDir {
 public:
  TempDir() = default;
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  TempDir& operator=(TempDir&& o) noexcept {
    std::swap(path_, o.path_);
    return *this;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One hir-mcu-emu process; stopped (SIGTERM, then SIGKILL) when destroyed.
class EmuProcess {
 public:
  // Behind a new pty; url() is serial:///dev/pts/N.
  static Result<EmuProcess> start_pty(const std::vector<std::string>& extra = {}) {
    return start(false, 0, extra);
  }
  // Behind 127.0.0.1:port (0: any free port); url() is tcp://127.0.0.1:P.
  static Result<EmuProcess> start_tcp(int port = 0, const std::vector<std::string>& extra = {}) {
    return start(true, port, extra);
  }

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  void kill() { proc_.kill_now(); }
  void stop() { proc_.stop(std::chrono::seconds(5)); }

 private:
  static Result<EmuProcess> start(bool tcp, int port, const std::vector<std::string>& extra) {
    char dir_tmpl[] = "/tmp/hir-be-XXXXXX";
    if (!::mkdtemp(dir_tmpl)) return Unavailable("mkdtemp failed");
    const std::string dir = dir_tmpl;
    TempDir cleanup(dir);  // until the process owns it
    const std::string file = dir + (tcp ? "/port" : "/path");
    // The shipped model unless the caller names another.
    std::vector<std::string> argv{emu_binary()};
    if (std::find(extra.begin(), extra.end(), "--model") == extra.end())
      argv.insert(argv.end(), {"--model", source_path("models/fmnist-tiny/int8/model.hirm")});
    if (tcp) {
      argv.insert(argv.end(), {"--tcp", std::to_string(port), "--port-file", file});
    } else {
      argv.insert(argv.end(), {"--path-file", file});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = ChildProcess::spawn(argv, dir + "/emu.log");
    if (!child.ok()) return child.status();
    EmuProcess e;
    e.dir_ = std::move(cleanup);
    e.proc_ = std::move(*child);
    if (tcp) {
      auto p = wait_for_port_file(file, std::chrono::seconds(30));
      if (!p.ok()) return p.status();
      e.port_ = *p;
      e.url_ = "tcp://127.0.0.1:" + std::to_string(*p);
      return e;
    }
    std::string path;
    const bool ok = eventually([&] {
      std::ifstream f(file);
      return static_cast<bool>(std::getline(f, path)) && !path.empty();
    });
    if (!ok) return Unavailable("hir-mcu-emu wrote no pty path");
    e.url_ = "serial://" + path;
    return e;
  }

  TempDir dir_;  // declared first: removed after the process has stopped
  ChildProcess proc_;
  std::string url_;
  int port_ = 0;
};

// The first n Fashion-MNIST test images (empty if the data set is not installed).
struct Images {
  std::vector<std::vector<uint8_t>> px;
  std::vector<uint8_t> labels;
  static Images load(int n) {
    Images out;
    auto img = read_idx_images(fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz");
    auto lab = read_idx_labels(fashion_mnist_dir() + "/t10k-labels-idx1-ubyte.gz");
    if (!img.ok() || !lab.ok() || img->count < n) return out;
    for (int i = 0; i < n; ++i) {
      out.px.emplace_back(img->image(i), img->image(i) + img->image_size());
      out.labels.push_back((*lab)[static_cast<size_t>(i)]);
    }
    return out;
  }
};

// The firmware model in-process: its class and softmax are what the device must answer.
class LocalModel {
 public:
  LocalModel() {
    std::ifstream f(source_path("models/fmnist-tiny/int8/model.hirm"), std::ios::binary);
    blob_.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    ok_ = hirfw_model_init(&m_, blob_.data(), blob_.size(), arena_, sizeof arena_) == HIRFW_OK;
  }
  bool ok() const { return ok_; }
  struct Answer {
    int top = -1;
    std::vector<float> probs;
  };
  Answer run(const std::vector<uint8_t>& px) {
    Answer a;
    int8_t logits[HIRFW_MAX_OUTPUTS];
    if (hirfw_model_invoke(&m_, px.data(), px.size(), logits, sizeof logits, &a.top) != HIRFW_OK) return a;
    float scale;
    int32_t zp;
    hirfw_model_output_quant(&m_, &scale, &zp);
    a.probs.resize(static_cast<size_t>(m_.output_size));
    hirfw_softmax_dequant(logits, m_.output_size, scale, zp, a.probs.data());
    return a;
  }

 private:
  std::vector<uint8_t> blob_;
  alignas(8) uint8_t arena_[16384];
  hirfw_model m_{};
  bool ok_ = false;
};

inline InferRequest fp32_request(const std::vector<uint8_t>& px, Shape shape = {1, 784}) {
  InferRequest r;
  r.id = "req";
  r.model_name = "fmnist-mcu";
  Tensor t;
  t.name = "input";
  t.datatype = DataType::kFp32;
  t.shape = std::move(shape);
  t.data.resize(px.size() * sizeof(float));
  for (size_t i = 0; i < px.size(); ++i) {
    const float x = static_cast<float>(px[i]) / 255.0f;
    std::memcpy(t.data.data() + i * sizeof x, &x, sizeof x);
  }
  r.inputs.push_back(std::move(t));
  return r;
}

inline InferRequest u8_request(const std::vector<uint8_t>& px) {
  InferRequest r;
  r.model_name = "fmnist-mcu";
  Tensor t;
  t.name = "input";
  t.datatype = DataType::kUint8;
  t.shape = {1, static_cast<int64_t>(px.size())};
  t.data.assign(px.begin(), px.end());
  r.inputs.push_back(std::move(t));
  return r;
}

inline std::vector<float> probabilities(const McuReply& r) {
  const Tensor& t = r.response.outputs.at(0);
  std::vector<float> p(t.data.size() / sizeof(float));
  std::memcpy(p.data(), t.data.data(), p.size() * sizeof(float));
  return p;
}

// submit() and wait for the callback.
inline Result<McuReply> infer(McuPool& pool, const InferRequest& req,
                              Duration deadline = std::chrono::seconds(20)) {
  auto done = std::make_shared<std::promise<Result<McuReply>>>();
  auto fut = done->get_future();
  Status st = pool.submit(req, SteadyClock::now() + deadline,
                          [done](Result<McuReply> r) { done->set_value(std::move(r)); });
  if (!st.ok()) return st;
  if (fut.wait_for(deadline + std::chrono::seconds(60)) != std::future_status::ready)
    return Internal("the callback never ran");
  return fut.get();
}

// Skips when the emulator is not built; loads the first 24 test images and the local model.
class EmuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!emu_available()) GTEST_SKIP() << "hir-mcu-emu is not built next to this test: " << emu_binary();
    ASSERT_TRUE(model_.ok());
    images_ = Images::load(24);
  }
  bool no_images() const { return images_.px.empty(); }
  // A pool over `urls`, up (INFO learned) before it is returned.
  std::unique_ptr<McuPool> up_pool(const std::vector<std::string>& urls, McuPoolOptions o = {},
                                   McuLoadCallback on_load = {}, McuDeviceCallback on_device = {}) {
    auto p = McuPool::create(urls, o, std::move(on_load), std::move(on_device));
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    if (!p.ok()) return nullptr;
    const bool up = eventually([&] { return (*p)->stats().devices_up() == urls.size(); });
    EXPECT_TRUE(up) << "devices never came up; first error: " << (*p)->stats().devices[0].last_error;
    return std::move(*p);
  }
  LocalModel model_;
  Images images_;
};

#define SKIP_WITHOUT_IMAGES() \
  if (no_images()) GTEST_SKIP() << "Fashion-MNIST test set not found in " << fashion_mnist_dir()

}  // namespace hir::backends::test
