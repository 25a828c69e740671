// The worker's execution engine: a bounded FIFO queue feeding N inference threads.
//
// Each thread owns its own model instance per served model version ("slot"), loaded on that
// thread at start, because an OpenCV dnn Net must not be shared between threads. A job names its
// slot and is a function that receives the calling thread's instance; it runs on the inference
// thread and answers its request from there.
//
// Thread-safety: submit(), snapshot() and the counters may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "worker/load_stats.h"

namespace hir::worker {

// The engine seam: a model that runs a batch of FP32 rows. Not thread-safe; one per thread.
class BatchModel {
 public:
  virtual ~BatchModel() = default;
  // `input`: batch × features floats. Returns batch × output_size() floats.
  virtual Result<std::vector<float>> run(const float* input, int batch, int features) = 0;
  virtual int output_size() const = 0;
};

// One model version the executor serves, with the row sizes its config promises.
struct Slot {
  std::string model;  // for the per-model statistics
  std::filesystem::path onnx_path;
  int features = 0;  // floats per input row
  int outputs = 0;   // floats per output row
};

using ModelLoader = std::function<Result<std::unique_ptr<BatchModel>>(const Slot& slot)>;

// Loads with hir::OnnxModel (OpenCV dnn) and checks the file's row sizes against the slot's, so a
// config that does not match its model.onnx fails at load, not on the first request.
ModelLoader onnx_model_loader();

struct ExecutorOptions {
  int concurrency = 1;       // inference threads
  size_t queue_depth = 256;  // jobs waiting (not yet running) before submit() refuses
  Duration busy_window = std::chrono::seconds(10);
  size_t latency_samples = 1024;  // per model, for the service-time percentiles
};

// A job gets the thread's instance of its slot, or nullptr when that instance failed to load. It
// returns the delivery (sending the response), which runs after the job's service time has been
// recorded, so a client that reads /v1/load after its answer always sees its request counted.
// A job must not throw; one that does is dropped (and its request never answered).
using Delivery = std::function<void()>;
using Job = std::function<Delivery(BatchModel* model)>;

struct ModelLoad {
  uint64_t requests = 0;  // jobs finished, all time
  double p50_ms = 0;      // service time (dequeue to done) over the recent window
  double p95_ms = 0;
};

struct LoadSnapshot {
  size_t in_flight = 0;  // queued + running
  size_t queue_depth = 0;
  size_t queue_capacity = 0;
  int concurrency = 0;
  double busy_fraction = 0;
  std::map<std::string, ModelLoad> models;
};

class Executor {
 public:
  Executor(ExecutorOptions opts, std::vector<Slot> slots, ModelLoader loader,
           const Clock& clock = default_clock());
  ~Executor();  // stop()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Starts the threads. Each loads every slot, then takes jobs. `on_loaded` runs once, on the
  // last thread to finish loading, with one Status per slot (the first failure seen, or ok).
  void start(std::function<void(std::vector<Status>)> on_loaded);

  // Queues a job. ResourceExhausted when the queue is full, Unavailable once stopping.
  Status submit(size_t slot, Job job);

  // Refuses new jobs, lets the threads finish the queued ones, joins them. Idempotent.
  void stop();

  LoadSnapshot snapshot() const;
  double busy_fraction() const;  // the snapshot's, without the percentiles' cost
  size_t queue_depth() const;
  size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  const ExecutorOptions& options() const { return opts_; }

 private:
  struct Queued {
    size_t slot;
    Job job;
  };
  static const Clock& default_clock();
  void thread_main(size_t index);
  void finish_loading(const std::vector<Status>& mine);

  ExecutorOptions opts_;
  std::vector<Slot> slots_;
  ModelLoader loader_;
  const Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::atomic<size_t> in_flight_{0};

  // Loading results, merged as threads finish.
  std::vector<Status> load_status_;
  int loading_threads_ = 0;
  std::function<void(std::vector<Status>)> on_loaded_;

  // Load statistics, under their own lock so that finishing a job does not contend with submit().
  mutable std::mutex stats_mu_;
  BusyWindow busy_;
  std::vector<std::optional<TimePoint>> running_since_;  // per thread
  std::map<std::string, LatencyWindow> latency_;
};

}  // namespace hir::worker
