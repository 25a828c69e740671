#include "worker/worker_metrics.h"

#include "telemetry/log.h"

namespace hir::worker {
namespace {

constexpr const char* kOutcomeNames[] = {"ok", "invalid", "rejected", "unavailable", "error"};

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

const std::vector<double>& batch_buckets() {
  static const std::vector<double> b = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  return b;
}

}  // namespace

Outcome outcome_of(int http_status, bool queue_full) {
  if (http_status < 400) return Outcome::kOk;
  if (http_status == 503) return queue_full ? Outcome::kRejected : Outcome::kUnavailable;
  if (http_status < 500) return Outcome::kInvalid;
  return Outcome::kError;
}

WorkerMetrics::WorkerMetrics(telemetry::Registry& registry, const Catalog& catalog,
                             const Executor& executor)
    : registry_(registry) {
  std::vector<std::string> names = {""};
  for (const RepositoryModel& m : catalog.models()) names.push_back(m.config.name);
  for (const std::string& name : names) {
    PerModel& p = models_[name];
    const telemetry::Labels model{{"model", name}};
    for (int o = 0; o < 5; ++o)
      p.outcomes[o] = &registry.counter("hir_worker_requests_total",
                                        "Inference requests by model and outcome",
                                        {{"model", name}, {"outcome", kOutcomeNames[o]}});
    if (name.empty()) continue;  // unknown models never reach the engine
    p.inference = &registry.histogram("hir_worker_inference_duration_seconds",
                                      "Engine run time of one request's batch", model);
    p.request = &registry.histogram("hir_worker_request_duration_seconds",
                                    "Time from receipt to response (queue wait included)", model);
    p.queue_wait = &registry.histogram("hir_worker_queue_wait_seconds",
                                       "Time a request waited for an inference thread", model);
    p.batch = &registry.histogram("hir_worker_batch_size", "Rows per inference request", model,
                                  batch_buckets());
  }

  auto fn = [&](const std::string& name, const std::string& help, telemetry::Labels labels,
                std::function<double()> f) {
    registry.gauge_fn(name, help, labels, std::move(f));
    gauge_fns_.emplace_back(name, std::move(labels));
  };
  const Executor* ex = &executor;
  fn("hir_worker_queue_depth", "Requests waiting for an inference thread", {},
     [ex] { return static_cast<double>(ex->queue_depth()); });
  fn("hir_worker_in_flight", "Requests queued or running", {},
     [ex] { return static_cast<double>(ex->in_flight()); });
  fn("hir_worker_busy_fraction", "Share of inference-thread time busy over the last 10 s", {},
     [ex] { return ex->busy_fraction(); });
  registry.counter_fn("hir_log_lines_dropped_total", "Log lines dropped since start because the log writer fell behind",
                      {}, [] { return static_cast<double>(telemetry::log_dropped()); });
  gauge_fns_.emplace_back("hir_log_lines_dropped_total", telemetry::Labels{});
  registry.gauge("hir_worker_queue_capacity", "Most requests that may wait")
      .set(static_cast<double>(executor.options().queue_depth));
  registry.gauge("hir_worker_concurrency", "Inference threads")
      .set(executor.options().concurrency);
  const Catalog* cat = &catalog;
  size_t slot = 0;  // slots run model by model, version by version (Catalog's order)
  for (const RepositoryModel& m : catalog.models())
    for (const ModelVersion& v : m.versions) {
      fn("hir_worker_model_ready", "1 when the model version is loaded and serving",
         {{"model", m.config.name}, {"version", std::to_string(v.version)}},
         [cat, slot] { return cat->state(slot) == VersionState::kReady ? 1.0 : 0.0; });
      ++slot;
    }
}

WorkerMetrics::~WorkerMetrics() {
  for (const auto& [name, labels] : gauge_fns_) registry_.remove_gauge_fn(name, labels);
}

WorkerMetrics::PerModel& WorkerMetrics::series(std::string_view model) {
  auto it = models_.find(model);
  return it != models_.end() ? it->second : models_.find("")->second;
}

void WorkerMetrics::count(std::string_view model, Outcome outcome) {
  series(model).outcomes[static_cast<int>(outcome)]->inc();
}

void WorkerMetrics::observe_run(std::string_view model, int64_t batch, Duration queue_wait,
                                Duration run) {
  PerModel& p = series(model);
  if (p.inference == nullptr) return;
  p.inference->observe(seconds(run));
  p.queue_wait->observe(seconds(queue_wait));
  p.batch->observe(static_cast<double>(batch));
}

void WorkerMetrics::observe_request(std::string_view model, Duration total) {
  PerModel& p = series(model);
  if (p.request != nullptr) p.request->observe(seconds(total));
}

}  // namespace hir::worker
