// The worker's Prometheus series, looked up once at start so the request path only touches
// atomics (telemetry/metrics.h).
//
//   hir_worker_requests_total{model,outcome}           outcome: ok|invalid|rejected|unavailable|error
//   hir_worker_inference_duration_seconds{model}       engine run time of one batch
//   hir_worker_request_duration_seconds{model}         receipt to response, queue wait included
//   hir_worker_queue_wait_seconds{model}
//   hir_worker_batch_size{model}                       rows per request
//   hir_worker_queue_depth, hir_worker_in_flight, hir_worker_queue_capacity, hir_worker_concurrency,
//   hir_worker_busy_fraction, hir_worker_model_ready{model,version}, hir_log_lines_dropped_total
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/time.h"
#include "telemetry/metrics.h"
#include "worker/catalog.h"
#include "worker/executor.h"

namespace hir::worker {

enum class Outcome { kOk, kInvalid, kRejected, kUnavailable, kError };

// The outcome an HTTP status stands for.
Outcome outcome_of(int http_status, bool queue_full = false);

class WorkerMetrics {
 public:
  // `catalog` and `executor` must outlive this object (gauges read them at render time).
  WorkerMetrics(telemetry::Registry& registry, const Catalog& catalog, const Executor& executor);
  ~WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // `model` empty or unknown: counted under model="" (never the client's string, which would let
  // a client mint series).
  void count(std::string_view model, Outcome outcome);
  void observe_run(std::string_view model, int64_t batch, Duration queue_wait, Duration run);
  void observe_request(std::string_view model, Duration total);

  std::string render() const { return registry_.render(); }

 private:
  struct PerModel {
    telemetry::Counter* outcomes[5] = {};
    telemetry::Histogram* inference = nullptr;
    telemetry::Histogram* request = nullptr;
    telemetry::Histogram* queue_wait = nullptr;
    telemetry::Histogram* batch = nullptr;
  };
  PerModel& series(std::string_view model);

  telemetry::Registry& registry_;
  std::map<std::string, PerModel, std::less<>> models_;  // fixed after construction
  std::vector<std::pair<std::string, telemetry::Labels>> gauge_fns_;  // and counter_fn series
};

}  // namespace hir::worker
