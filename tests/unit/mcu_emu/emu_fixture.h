// Starts an Emulator on its own thread behind a real pty (or TCP) for a test, and stops it at the
// end; plus the test images and an in-process copy of the model to compare answers with.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "hirfw/messages.h"
#include "hirfw/model.h"
#include "mcu_emu/emulator.h"
#include "unit/mcu_emu/line_client.h"
#include "unit/firmware/fw_test_util.h"

namespace hir::mcu_emu::test {

inline std::string blob_path() { return hirfw_test::source_path("models/fmnist-tiny/int8/model.hirm"); }

// The first n test images (784 bytes each) and labels; empty if the data set is missing.
struct TestImages {
  std::vector<std::vector<uint8_t>> images;
  std::vector<uint8_t> labels;
  static TestImages load(int n) {
    TestImages t;
    const auto img = hirfw_test::read_gz(hirfw_test::fmnist_dir() + "/t10k-images-idx3-ubyte.gz");
    const auto lab = hirfw_test::read_gz(hirfw_test::fmnist_dir() + "/t10k-labels-idx1-ubyte.gz");
    if (img.size() < 16 + static_cast<size_t>(n) * 784 || lab.size() < 8 + static_cast<size_t>(n)) return t;
    for (int i = 0; i < n; ++i) {
      t.images.emplace_back(img.begin() + 16 + i * 784, img.begin() + 16 + (i + 1) * 784);
      t.labels.push_back(lab[8 + i]);
    }
    return t;
  }
};

// The firmware model run in-process: what the device must answer.
class LocalModel {
 public:
  LocalModel() : blob_(hirfw_test::read_file(blob_path())) {
    ok_ = hirfw_model_init(&m_, blob_.data(), blob_.size(), arena_, sizeof arena_) == HIRFW_OK;
  }
  bool ok() const { return ok_; }
  int classify(const std::vector<uint8_t>& px, std::vector<int8_t>* logits = nullptr) {
    int8_t l[HIRFW_MAX_OUTPUTS];
    int top = -1;
    if (hirfw_model_invoke(&m_, px.data(), px.size(), l, sizeof l, &top) != HIRFW_OK) return -1;
    if (logits) logits->assign(l, l + m_.output_size);
    return top;
  }
  const hirfw_model& model() const { return m_; }

 private:
  std::vector<uint8_t> blob_;
  alignas(4) uint8_t arena_[4096];
  hirfw_model m_{};
  bool ok_ = false;
};

// One emulator on a thread, serving a pty (default) or a TCP listener.
class RunningEmulator {
 public:
  explicit RunningEmulator(EmulatorConfig cfg, bool tcp = false) {
    cfg.model_path = blob_path();
    auto e = Emulator::create(cfg);
    if (!e.ok()) {
      error_ = e.status().to_string();
      return;
    }
    emu_ = std::move(*e);
    if (tcp) {
      auto l = TcpListener::bind_loopback(0);
      if (!l.ok()) return;
      listener_ = std::make_unique<TcpListener>(std::move(*l));
      thread_ = std::thread([this] { (void)emu_->serve_tcp(*listener_); });
    } else {
      auto p = Pty::open();
      if (!p.ok()) return;
      pty_ = std::make_unique<Pty>(std::move(*p));
      thread_ = std::thread([this] { (void)emu_->serve_pty(*pty_); });
    }
  }
  ~RunningEmulator() {
    if (emu_) emu_->request_stop();
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return thread_.joinable(); }
  const std::string& error() const { return error_; }
  std::optional<LineClient> open() {
    return pty_ ? LineClient::open_pty(pty_->slave_path()) : LineClient::connect_tcp(listener_->port());
  }
  Emulator& emu() { return *emu_; }

 private:
  std::unique_ptr<Emulator> emu_;
  std::unique_ptr<Pty> pty_;
  std::unique_ptr<TcpListener> listener_;
  std::thread thread_;
  std::string error_;
};

inline EmulatorConfig quiet_config() {
  EmulatorConfig c;
  c.heartbeat = Duration::zero();  // tests that count frames turn the heartbeat off
  return c;
}

inline size_t wire_bytes(uint8_t type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> w(HIRFW_FRAME_MAX_WIRE);
  return hirfw_frame_encode(type, 1, payload.data(), payload.size(), w.data(), w.size());
}

}  // namespace hir::mcu_emu::test
