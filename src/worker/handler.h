// hir-worker's request handling: paths to endpoints to responses, apart from any transport, so it
// is tested without sockets (shared/protocol-v2.md §1; /v1/load; /metrics).
//
// Inference is asynchronous: handle() parses and validates on the calling (io) thread, queues the
// job and returns; the inference thread runs the model, encodes the response and calls the
// responder (the net layer makes that safe from any thread). Everything else answers before
// handle() returns.
//
// Thread-safety: handle() may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "core/time.h"
#include "net/http.h"
#include "telemetry/metrics.h"
#include "worker/catalog.h"
#include "worker/executor.h"
#include "worker/worker_metrics.h"

namespace hir::worker {

inline constexpr std::string_view kServerName = "hir-worker";
inline constexpr std::string_view kServerVersion = "0.1.0";

class WorkerHandler {
 public:
  // Each argument must outlive the handler; the registry receives the worker's series.
  WorkerHandler(const Catalog& catalog, Executor& executor, telemetry::Registry& registry,
                const Clock& clock);

  void handle(net::HttpRequest&& req, net::Responder respond);
  net::Handler as_handler() {
    return [this](net::HttpRequest&& r, net::Responder d) { handle(std::move(r), std::move(d)); };
  }

  // Server readiness (/v2/health/ready): set once every model has been loaded (or failed to).
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_release); }
  bool ready() const { return ready_.load(std::memory_order_acquire); }

  std::string load_json() const;  // the /v1/load body

 private:
  struct InferJob;
  net::HttpResponse model_list() const;
  net::HttpResponse model_metadata(const std::string& model, const std::string& version) const;
  net::HttpResponse model_ready(const std::string& model, const std::string& version) const;
  net::HttpResponse model_config(const std::string& model, const std::string& version) const;
  net::HttpResponse server_ready() const;
  void infer(const std::string& model, const std::string& version, net::HttpRequest&& http,
             net::Responder respond);
  // Runs on an inference thread; returns what delivers the response.
  Delivery run_job(const std::shared_ptr<InferJob>& job, BatchModel* engine);
  // Answers an infer request that failed before or during running, counting and logging it.
  void fail(const InferJob& job, const Status& status, const net::Responder& respond);

  const Catalog& catalog_;
  Executor& executor_;
  const Clock& clock_;
  WorkerMetrics metrics_;
  TimePoint started_;
  std::atomic<bool> ready_{false};
};

}  // namespace hir::worker
