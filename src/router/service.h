// hir serve's request handling: the v2 REST API in front of the targets. Parses only what it must
// (the request's hints, and a validation against the logical model), asks the routing policy for
// a plan, forwards the client's body bytes unchanged to each attempt in turn within the request's
// deadline, and answers with the target's outputs plus what the router did (hir_* parameters).
// With a cache section it also answers from the fallback cache, as each model's policy allows
// (docs/cache.md): a fresh entry before dispatch, any entry once every target has failed.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/client.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "router/cache_glue.h"
#include "router/config.h"
#include "router/core_routing.h"
#include "telemetry/metrics.h"

namespace hir::router {

class RouterService {
 public:
  // cfg, client and metrics must outlive the service, and the client's event loop must have
  // stopped before the service is destroyed (callbacks in flight hold `this`). cache: from
  // CacheGlue::create for the same cfg and metrics; nullptr caches nothing.
  RouterService(const Config& cfg, net::EventLoop& loop, net::HttpClient& client,
                telemetry::Registry& metrics, uint64_t seed, std::unique_ptr<CacheGlue> cache = nullptr);
  ~RouterService();

  // The net::Handler: call from the server for every request.
  void handle(net::HttpRequest&& req, net::Responder respond);

  // Not ready while shutting down, so load balancers stop sending before the drain.
  void set_ready(bool ready) { ready_ = ready; }

  // Polls every target's GET /v1/load at the configured interval, feeding the routing core,
  // until stop_polling(). Call on the loop's thread or before it runs.
  void start_polling();
  void stop_polling();

 private:
  struct Target {
    const TargetConfig* cfg = nullptr;
    net::Url url;
    std::string authorization;  // "Bearer <token>" from the environment, or empty
  };
  struct Call;
  static net::HttpResponse v2_error(const Status& s);
  net::HttpResponse metadata_response(const std::string& model) const;
  net::HttpResponse model_list_response() const;
  net::HttpResponse explain_response(const net::HttpRequest& req);
  net::HttpResponse refusal(const Status& s, Duration retry_after);
  void poll(size_t target);
  void infer(net::HttpRequest&& req, const ModelConfig& model, std::string_view version, net::Responder respond);
  // Answers from the cache as `use` allows (marked hir_cache "hit" or "stale"); false, with
  // nothing sent, when the model's policy does not allow it or nothing usable is cached.
  bool answer_from_cache(Call& call, cache::Use use);
  net::HttpResponse http_answer(const InferResponse& resp, const std::string& request_id) const;
  void attempt(std::shared_ptr<Call> call);
  void finish_ok(std::shared_ptr<Call> call, const CoreRouting::Step& cand, net::HttpResponse&& upstream,
                 double attempt_ms);
  void settle(Call& call);
  void finish_error(std::shared_ptr<Call> call, int status, const std::string& message);
  void fail_attempt(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const std::string& why, double ms);
  void pass_through(std::shared_ptr<Call> call, const CoreRouting::Step& cand, net::HttpResponse&& r);
  const Target* target_of(const TargetConfig* t) const;

  // Metric handles made once, so the request path takes no registry lock.
  struct PairMetrics {  // per (model, target)
    telemetry::Counter* ok;
    telemetry::Counter* client_error;
    telemetry::Histogram* duration;
  };
  struct ModelMetrics {
    telemetry::Counter* failed;
    telemetry::Counter* fallbacks;
    telemetry::Counter* cache_hit;    // answered from a fresh entry, no target called
    telemetry::Counter* cache_stale;  // answered from cache after every target failed
  };
  struct TargetMetrics {
    telemetry::Counter* attempt_failures;
    telemetry::Counter* cost;
  };
  void make_metrics();
  PairMetrics& pair_metrics(const ModelConfig* m, const TargetConfig* t);

  const Config& cfg_;
  std::vector<PairMetrics> pair_metrics_;     // [model * targets + target]
  std::vector<ModelMetrics> model_metrics_;   // same order as cfg_.models
  std::vector<TargetMetrics> target_metrics_; // same order as cfg_.targets
  net::EventLoop& loop_;
  net::HttpClient& client_;
  telemetry::Registry& metrics_;
  CoreRouting routing_;
  std::atomic<bool> polling_{false};
  std::vector<std::shared_ptr<net::EventLoop::Timer>> poll_timers_;
  std::vector<uint8_t> poll_disabled_;  // targets that answered 404: no load endpoint
  telemetry::Counter* shed_ = nullptr;
  telemetry::Counter* hedges_ = nullptr;
  telemetry::Counter* poll_failures_ = nullptr;
  std::vector<Target> targets_;  // same order as cfg_.targets
  std::atomic<bool> ready_{true};
  telemetry::Gauge& inflight_;
  std::unique_ptr<CacheGlue> cache_;  // null: no cache section
};

}  // namespace hir::router
