// hir serve's request handling: the v2 REST API in front of the targets. Parses only what it must
// (the request's hints, and a validation against the logical model), asks the routing policy for
// a plan, forwards the client's body bytes unchanged to each attempt in turn within the request's
// deadline, and answers with the target's outputs plus what the router did (hir_* parameters).
// With a cache section it also answers from the fallback cache, as each model's policy allows
// (docs/cache.md): a fresh entry before dispatch, any entry once every target has failed.
//
// With a store (docs/store.md) the targets and models come from the registry, not the YAML: the
// service polls the registry's version and, when it changes, builds a new routing generation
// (Config + CoreRouting + per-target data) and swaps it in. A request keeps the generation it
// started with until it ends, so indexes into the old registry stay valid. Every inference
// response is also recorded in the usage ledger, and /v1/admin/ edits the registry.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/work_queue.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "router/cache_glue.h"
#include "router/config.h"
#include "router/core_routing.h"
#include "router/mcu_glue.h"
#include "store/ledger.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace hir::protocol {
struct BatchPart;
struct HeadView;
struct RowCuts;
}  // namespace hir::protocol

namespace hir::router {

class AdminApi;

// The store hir serve runs with; all null/empty: the YAML configuration alone, no ledger.
struct StoreWiring {
  store::Store* store = nullptr;          // outlives the service; null: targets come from the YAML
  store::LedgerWriter* ledger = nullptr;  // outlives the service; null: no usage ledger
  Duration registry_poll = std::chrono::seconds(1);  // how often registry_version() is read
  std::string admin_key;                  // HIR_ADMIN_KEY; "" disables /v1/admin/ (403)
};

class RouterService {
 public:
  // cfg, client and metrics must outlive the service, and the client's event loop must have
  // stopped before the service is destroyed (callbacks in flight hold `this`). cache: from
  // CacheGlue::create for the same cfg and metrics; nullptr caches nothing.
  // The first routing generation is built from cfg; with a store, call reload_registry() before
  // serving to replace it with the registry's.
  RouterService(const Config& cfg, net::EventLoop& loop, net::HttpClient& client,
                telemetry::Registry& metrics, uint64_t seed, std::unique_ptr<CacheGlue> cache = nullptr,
                StoreWiring store = {});
  ~RouterService();

  // The net::Handler: call from the server for every request.
  void handle(net::HttpRequest&& req, net::Responder respond);

  // Not ready while shutting down, so load balancers stop sending before the drain.
  void set_ready(bool ready) { ready_ = ready; }

  // Polls every target's GET /v1/load at the configured interval, feeding the routing core, and
  // (with a store) the registry's version, until stop_polling(). Call on the loop's thread or
  // before it runs.
  void start_polling();
  void stop_polling();

  // Reads the registry and swaps in a routing generation built from it. Any thread; concurrent
  // calls are serialized. Fails only when the store cannot be read (the old generation stays).
  Status reload_registry();
  // The registry version the current generation was built from (-1: from the YAML).
  int64_t registry_version() const;

  // Copies the ledger writer's counters into /metrics; called before rendering.
  void export_ledger_metrics();

  // Stops the MCU pools (graceful shutdown: after the HTTP drain). Requests still held fail
  // with kUnavailable.
  void stop_devices();

 private:
  struct Target {
    const TargetConfig* cfg = nullptr;
    net::Url url;
    std::string host;           // url.authority(): the Host of every request to it, written once
    std::string authorization;  // "Bearer <token>" from the environment, or empty
    std::shared_ptr<backends::McuPool> pool;  // an MCU pool target's devices (mcu_glue.h); else null
    // Per variant it serves: the start of every request to it (upstream_prefix, service_call.h).
    std::vector<std::pair<const VariantConfig*, std::string>> prefixes;
    // The prefix for `variant`, written now if it has none kept.
    std::string_view prefix(const VariantConfig& variant, std::string& scratch) const;
  };
  struct Call;
  struct Generation;
  // The ledger record of one inference request, filled in as it goes; submitted when answered.
  struct Usage {
    store::UsageRecord rec;
    TimePoint start;
    std::atomic<bool> submitted{false};  // a responder called twice still records once
  };
  using GenPtr = std::shared_ptr<Generation>;
  static net::HttpResponse v2_error(const Status& s);
  net::HttpResponse metadata_response(const Generation& gen, const std::string& model) const;
  net::HttpResponse model_list_response(const Generation& gen) const;
  net::HttpResponse explain_response(const GenPtr& gen, const net::HttpRequest& req);
  net::HttpResponse refusal(const Status& s, Duration retry_after);
  // Whether a request head fits the model's signature (validate_request without the data).
  static bool head_fits(const Generation& gen, const ModelConfig& model, const protocol::HeadView& head);
  // Answers call 400 (s says why); client_id is the body's `id` once read ("" before).
  void refuse_invalid(Call& call, const net::Headers& h, const Status& s, std::string_view client_id = {});
  GenPtr current() const;
  GenPtr build_generation(std::shared_ptr<const Config> cfg, int64_t version);
  void swap_generation(GenPtr next);
  void start_load_polls(const GenPtr& gen);
  static void stop_load_polls(Generation& gen);
  void poll(const GenPtr& gen, size_t target);
  void watch_registry();
  void admin(net::HttpRequest&& req, net::Responder respond);

 public:
  // Runs the database calls still queued (admin calls, a registry poll), then stops their thread.
  void stop_store_work() {
    if (store_work_) store_work_->stop();
  }

 private:
  void schedule_registry_poll();
  // Wraps an inference request's responder so that whatever is sent is recorded in the ledger.
  net::Responder recorded(const net::HttpRequest& req, std::shared_ptr<Usage> usage, net::Responder respond);
  // consulted: the request comes back after its fresh-hit lookup went to Redis off the I/O
  // thread and missed; the time it first arrived.
  void infer(GenPtr gen, net::HttpRequest&& req, const ModelConfig& model, std::string_view version,
             net::Responder respond, std::shared_ptr<Usage> usage, std::optional<TimePoint> consulted = std::nullopt);
  // Answers with a cache hit (marked hir_cache "hit" or "stale") when there is one that may serve
  // this request; false, with nothing sent, otherwise.
  void fail_now(const std::shared_ptr<Call>& call, int status, const std::string& message);
  bool serve_from_cache(Call& call, const std::optional<cache::CacheHit>& hit, cache::Use use);
  // Looks for an answer the cache may give as `use` allows and sends it, then calls
  // then(answered). The in-process level is asked on this thread; Redis on the cache's lookup
  // threads, and `then` comes back on the event loop, under the call's lock.
  void from_cache_then(const std::shared_ptr<Call>& call, cache::Use use, std::function<void(bool)> then);
  void ask_redis_then(const std::shared_ptr<Call>& call, cache::Use use, std::function<void(bool)> then);
  net::HttpResponse http_answer(const InferResponse& resp, const std::string& request_id) const;
  void attempt(std::shared_ptr<Call> call);
  // One HTTP attempt of call at cand, the request on its own. committed: when the request was
  // committed to the target (it waited for a batch): the routing core and the call count it
  // already, and its latency and the target's timeout run from then; nullopt: from now, and
  // counted here. done: run after the answer has been handled, on the same thread, with the
  // answer's HTTP status (0: none came).
  void send_alone(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const Target& tg,
                  std::optional<TimePoint> committed, std::function<void(int)> done = nullptr);
  // What comes back from an HTTP attempt, whatever it is: a success, a failure to fall back
  // from, a client error passed through. Takes the call's lock.
  bool accurate_enough(const Call& call, const InferResponse& stored) const;
  static bool fits(const InferResponse& stored, const ModelSignature& sig);
  // cancelled: its Cancellation fired (a hedge's loser, once the other copy answered).
  // price: what this attempt costs if it is charged, when it was one request of a merged call
  // (its share of the call's price; the call's time, not its wait for the call); else from t0.
  // out_id: its Call::out entry, when tracked (a hedged request's).
  // judged false: the target's breaker has had this answer from another request of the same
  // merged call (CoreRouting::result).
  static constexpr uint32_t kUntracked = ~uint32_t{0};
  void answered(const std::shared_ptr<Call>& call, const CoreRouting::Step& cand, TimePoint t0,
                Result<net::HttpResponse>&& r, bool cancelled = false, std::optional<Money> price = std::nullopt,
                uint32_t out_id = kUntracked, bool judged = true);
  // What the request pays for an attempt: its cost, the routing core's spend rate, the target's
  // hir_cost_usd_total. An attempt is charged when its target may have run it: it answered
  // (anything but a 4xx, 429 or 503), ran out of time on the wire, or was a hedge's loser.
  void charge(Call& call, const CoreRouting::Step& cand, Money cost);
  // A hedged request's attempt on its way (Call::out); came_back: false when settle charged it.
  static uint32_t track(Call& call, const CoreRouting::Step& cand, TimePoint t0);
  static bool came_back(Call& call, uint32_t id);
  static Money out_cost(const Call& call, TimePoint now);
  // Batching (service_batch.cc): requests for one (target, variant) wait while it has enough
  // calls on the wire and go out together when one returns.
  struct Waiting;
  struct BatchQueue;
  bool batchable(const Call& call, const CoreRouting::Step& cand) const;
  void enqueue(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const Target& tg);
  void arm_queue_timer(const GenPtr& gen, BatchQueue& q, TimePoint at);  // under batch_mu
  void expire_waiting(const std::weak_ptr<Generation>& gen, BatchQueue* q);
  // A timeout, under nobody's lock. judged false: m is in a merged call, whose own outcome the
  // target's breaker counts (CoreRouting::result).
  void end_attempt(Waiting& m, const std::string& why, bool judged = true);
  void batch_done(const GenPtr& gen, BatchQueue* q);
  bool send_batch(const GenPtr& gen, BatchQueue* q, std::vector<Waiting> members);
  // t0, expiry: when the merged call was sent, and its limit.
  void batch_answered(const GenPtr& gen, BatchQueue* q, std::vector<Waiting>& members, TimePoint t0,
                      TimePoint expiry, Result<net::HttpResponse> r);
  void arm_hedge(const std::shared_ptr<Call>& call);  // after the primary is sent
  void finish_ok(std::shared_ptr<Call> call, const CoreRouting::Step& cand, net::HttpResponse&& upstream,
                 double attempt_ms);
  // The answer from a target, whichever kind: cost, hir_* parameters, cache, metrics, ledger.
  // service_ms: the target's own service time when it reported one (the ledger's), else < 0.
  void respond_ok(std::shared_ptr<Call> call, const CoreRouting::Step& cand, double total_ms,
                  double service_ms, net::HttpResponse&& out);
  void deliver(std::shared_ptr<Call> call, const CoreRouting::Step& cand, InferResponse&& resp, Money cost,
               double service_ms);
  // deliver of part k of a merged call's answer (protocol/batch.h; check_split passed), written
  // from the whole answer's rows without copying them out, unless the cache keeps the answer.
  void deliver_part(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const InferResponse& whole,
                    std::span<const protocol::BatchPart> parts, size_t k, Money cost, double service_ms,
                    const protocol::RowCuts* cuts);
  // MCU pool targets (service_mcu.cc).
  void attempt_mcu(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const Target& tg, Duration remaining);
  void mcu_done(std::shared_ptr<Call> call, const CoreRouting::Step& cand, Result<backends::McuReply> r,
                Duration elapsed);
  void feed_mcu_load(const std::string& target, const routing::LoadReport& r, bool ready);
  std::string targets_json(const Generation& gen) const;
  void attach_pools(Generation& gen);
  void settle(Call& call, TimePoint now = SteadyClock::now());
  void finish_error(std::shared_ptr<Call> call, int status, const std::string& message);
  void fail_attempt(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const std::string& why, double ms);
  // A transport's failure (HTTP client, MCU pool): logged whole, told to the client as its kind.
  void fail_attempt(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const Status& failed, double ms);
  void fail_attempt(std::shared_ptr<Call> call, const CoreRouting::Step& cand, const std::string& why,
                    const std::string& told, double ms);
  void pass_through(std::shared_ptr<Call> call, const CoreRouting::Step& cand, net::HttpResponse&& r);
  static const Target* target_of(const Generation& gen, const TargetConfig* t);

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
    telemetry::Counter* invalid;      // refused with 400 before routing: a malformed request
  };
  struct TargetMetrics {
    telemetry::Counter* attempt_failures;
    telemetry::Counter* cost;
    telemetry::Counter* poll_failures;  // load polls that got no report: which worker went quiet
    // hir_breaker_state{state=...}, indexed by routing::BreakerState: exactly one is 1.
    std::array<telemetry::Gauge*, 3> breaker;
  };
  void make_metrics(Generation& gen);
  // Sets each target's hir_breaker_state series from its breaker now; called before rendering.
  static void export_breaker_metrics(const Generation& gen);
  // old's targets that next drops are no longer routed to: none of their states stays 1.
  static void clear_breaker_metrics(const Generation& old, const Generation& next);
  static PairMetrics& pair_metrics(Generation& gen, const ModelConfig* m, const TargetConfig* t);
  static size_t model_pos(const Generation& gen, const ModelConfig* m);
  static size_t target_pos(const Generation& gen, const TargetConfig* t);

  // One registry's worth of routing: what a request needs from start to end. Immutable once
  // published, except the routing core's own (locked) state and the load-poll bookkeeping.
  struct Generation {
    std::shared_ptr<const Config> cfg;        // targets and models of this generation
    std::unique_ptr<CoreRouting> routing;     // over *cfg; destroyed before it
    std::vector<Target> targets;              // same order as cfg->targets
    std::vector<PairMetrics> pair_metrics;    // [model * targets + target]
    std::vector<ModelMetrics> model_metrics;  // same order as cfg->models
    std::vector<TargetMetrics> target_metrics;  // same order as cfg->targets
    int64_t version = -1;                     // registry version; -1: the YAML configuration
    uint64_t serial = 0;                      // one per generation this process built, never reused
    std::atomic<bool> polling{false};         // its load polls run; false once replaced
    std::vector<uint8_t> poll_disabled;       // targets that answered 404: no load endpoint
    std::mutex timers_mu;                     // guards poll_timers (any I/O thread)
    std::vector<std::shared_ptr<net::EventLoop::Timer>> poll_timers;
    // Batching: one queue per (target, variant) in use, keyed by (ti << 32 | vi); a queue, once
    // made, stays at its address. batch_mu guards the map and every queue. Never held while a
    // call's lock is taken (a call's lock may be held while this one is).
    std::mutex batch_mu;
    std::unordered_map<uint64_t, std::unique_ptr<BatchQueue>> batches;
  };

  const Config& cfg_;  // server, routing and cache settings; targets/models only seed generation 0
  net::EventLoop& loop_;
  net::HttpClient& client_;
  telemetry::Registry& metrics_;
  uint64_t seed_;
  mutable std::mutex gen_mu_;  // guards gen_ (the pointer, not the generation)
  GenPtr gen_;
  // After gen_: destroyed (its pools stopped) first, since their load reports read gen_.
  std::unique_ptr<McuFleet> mcus_;
  std::mutex reload_mu_;       // one reload at a time
  // Token problems already logged ("line\0target\0env"): each is said once per service, not by
  // every generation (two at a start with a database, one more per admin change). Generations
  // are built at start and by reloads on the store's thread, hence the lock.
  std::mutex token_logged_mu_;
  std::unordered_set<std::string> token_logged_;
  bool first_token_report(std::string_view line, const std::string& target, const std::string& env);
  std::atomic<bool> polling_{false};
  telemetry::Counter* shed_ = nullptr;
  telemetry::Counter* refused_ = nullptr;
  telemetry::Counter* unknown_model_ = nullptr;
  telemetry::Counter* hedges_ = nullptr;
  telemetry::Counter* batch_calls_ = nullptr;      // merged calls sent
  telemetry::Counter* batched_requests_ = nullptr;  // requests they carried
  telemetry::Counter* batch_refused_ = nullptr;     // merged calls refused as a client error
  telemetry::Counter* registry_reloads_ = nullptr;
  telemetry::Counter* registry_errors_ = nullptr;
  std::atomic<bool> ready_{true};
  telemetry::Gauge& inflight_;
  std::unique_ptr<CacheGlue> cache_;  // null: no cache section
  StoreWiring store_;
  std::unique_ptr<AdminApi> admin_;
  std::shared_ptr<net::EventLoop::Timer> registry_timer_;
  std::mutex registry_timer_mu_;
  // Every database call of the service — the registry poll, the admin API — runs here, never on
  // an I/O thread: a database that hangs (a frozen server, a lock held elsewhere) must not stop
  // inference, health checks or a SIGTERM. Declared last: it stops, and runs what is queued,
  // before the rest of the service goes.
  static constexpr size_t kMaxStoreJobs = 64;
  std::unique_ptr<WorkQueue> store_work_;
  uint64_t ledger_lost_logged_ = 0;  // the store's thread alone reads and writes it
  // Ledger export: what was last copied into the counters below.
  std::mutex ledger_export_mu_;
  store::LedgerCounters ledger_seen_;
  telemetry::Counter* ledger_accepted_ = nullptr;
  telemetry::Counter* ledger_written_ = nullptr;
  telemetry::Counter* ledger_overflowed_ = nullptr;
  telemetry::Counter* ledger_lost_ = nullptr;
  telemetry::Counter* ledger_write_errors_ = nullptr;
  telemetry::Gauge* ledger_queue_ = nullptr;
  std::atomic<int64_t> overflow_logged_ms_{0};  // rate-limits the overflow warning
};

}  // namespace hir::router
