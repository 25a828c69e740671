// hir serve's use of the fallback cache (src/cache, docs/cache.md): owns the FallbackCache, asks
// it at the two points of a request the model's policy allows, exports its statistics to
// /metrics and logs when its Redis level goes down or comes back. The decisions (what is fresh,
// what is kept) are the cache's; this file only connects them to the service.
//
// Thread-safety: every method may be called from any I/O thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/fallback_cache.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"
#include "core/work_queue.h"
#include "router/config.h"
#include "telemetry/metrics.h"

namespace hir::router {

class CacheGlue {
 public:
  // nullptr when cfg has no cache section; an error when the section does not validate (the
  // config parser has checked it already, so that is a programming error, reported as a value).
  // metrics must outlive the glue.
  static Result<std::unique_ptr<CacheGlue>> create(const Config& cfg, telemetry::Registry& metrics);

  // The request's key when the cache may serve or keep answers for `model`; nullopt otherwise,
  // so uncached models cost no hashing.
  std::optional<cache::CacheKey> key_for(const InferRequest& req, std::string_view model) const;
  // Whether answers of this model are cached at all (its key needs the request's tensors).
  bool caches(std::string_view model) const;
  // A lookup: kFreshHit, before dispatch: a fresh answer for a fresh_hit model. kStaleIfError,
  // after every target failed: a fresh or stale answer for a stale_if_error model. nullopt when
  // the model's policy does not allow `use` or nothing usable is cached. In two halves
  // (FallbackCache::lookup_local), so that an I/O thread never waits on Redis: a slow Redis, under its timeout, would hold every connection of that thread. The local
  // half runs on the caller's thread; lookup_redis queues the Redis half for the glue's lookup
  // threads (one per Redis read connection) and calls `done` on one of them. With kMaxQueued
  // lookups already waiting it is a miss at once (counted as skipped): a slow Redis delays a
  // bounded number of requests, and the rest go to their targets.
  std::optional<cache::CacheHit> lookup_local(const cache::CacheKey& key, std::string_view model, cache::Use use,
                                              bool* ask_redis);
  void lookup_redis(const cache::CacheKey& key, cache::Use use,
                    std::function<void(std::optional<cache::CacheHit>)> done);
  ~CacheGlue();
  // Keeps a target's successful answer (the cache drops its id and hir_* parameters).
  void store(const cache::CacheKey& key, std::string_view model, const InferResponse& resp);

  // Copies the cache's counters and gauges into the registry; call before rendering /metrics.
  void export_metrics();

 private:
  explicit CacheGlue(telemetry::Registry& metrics) : metrics_(metrics) {}
  void make_metrics(bool with_redis);
  void watch_redis();  // logs a change of the Redis level's health, once per change

  struct Exported {
    const std::atomic<uint64_t>* source;
    telemetry::Counter* counter;
    uint64_t seen = 0;
  };

  telemetry::Registry& metrics_;
  RealClock clock_;  // the in-process level's time base; declared before the cache that uses it
  std::unique_ptr<cache::FallbackCache> cache_;
  std::string redis_address_;  // host:port for logs; empty without a Redis level

  std::mutex export_mu_;  // guards counters_' `seen` between concurrent scrapes
  std::vector<Exported> counters_;
  telemetry::Gauge* bytes_ = nullptr;
  telemetry::Gauge* entries_ = nullptr;
  telemetry::Gauge* redis_up_ = nullptr;
  // -1 unknown (no Redis operation failed or worked yet), 0 down, 1 up: what was last logged.
  std::atomic<int> redis_state_{-1};

  // The lookup threads and their queue; declared last, so that they stop before the cache goes.
  static constexpr size_t kMaxQueued = 256;
  std::unique_ptr<WorkQueue> lookups_;
};

// The answer to send for a cached response: the stored model answer with this request's id, each
// output in the form (JSON or binary) this request asks for, and `hir_cache` set to `how`
// ("hit" or "stale"). `form` needs only the request's parameters and requested outputs.
InferResponse cached_answer(const InferResponse& stored, const InferRequest& form, const std::string& id,
                            std::string_view how);

}  // namespace hir::router
