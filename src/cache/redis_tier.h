// The shared level: values in Redis (hiredis 0.14, blocking API with timeouts), shared by every
// router replica that points at the same server and key prefix.
//
// Reads block the calling thread for at most about connect_timeout + command_timeout: that is
// the documented cost on the request path, chosen over an async client because the timeouts
// are short (20 ms by default) and a lookup happens only for cached models. Reads use a small
// pool of connections taken with try_lock, so a request never queues behind another one's
// Redis call: when all are busy it skips Redis (counted) and the in-process level answers alone.
// Writes never block the caller: put() queues the SET for one writer thread (bounded queue, the
// newest dropped when full), which sends them pipelined in batches.
//
// Failure: any failed connect or command marks Redis down, records the error text, invalidates
// every pooled connection, and closes a gate for a backoff (reconnect_min doubling up to
// reconnect_max). Reconnection is lazy: the next read or write after the gate opens tries once.
// Nothing polls, so a down Redis costs no CPU and at most one timeout per backoff period per
// connection. Nothing here logs; the service reads up()/last_error() and the counters.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/config.h"
#include "cache/key.h"
#include "cache/stats.h"
#include "core/time.h"

struct redisContext;

namespace hir::cache {

class RedisTier {
 public:
  // Starts the writer thread; connects lazily on first use. stats and clock must outlive this.
  RedisTier(RedisConfig config, CacheStats& stats, const Clock& clock);
  ~RedisTier();  // sends what is queued (one try), then stops the writer
  RedisTier(const RedisTier&) = delete;
  RedisTier& operator=(const RedisTier&) = delete;

  // GET prefix+key. nullopt: absent, or Redis down, slow, backing off or busy (counted apart in
  // stats: redis_errors / redis_skipped). Thread-safe.
  std::optional<std::string> get(const CacheKey& key);
  // Queues SET prefix+key value PX px (px > 0). Never blocks on Redis. Thread-safe.
  void put(const CacheKey& key, std::string value, Duration px);
  // Waits until every queued write has been sent or dropped; false if the timeout passed first.
  bool flush(Duration timeout);

  bool up() const;
  std::string last_error() const;  // "" until the first failure; kept after recovery
  std::string redis_key(const CacheKey& key) const { return config_.key_prefix + key.hex(); }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  struct Conn {
    std::mutex mu;
    ContextPtr ctx;
    uint64_t epoch = 0;  // health epoch it was made in; a later failure anywhere retires it
  };
  struct Write {
    std::string key;
    std::string value;
    long long px_ms;
  };

  redisContext* acquire(Conn& c);  // c.mu held; nullptr when the gate is closed or connect failed
  void failed(Conn& c, const std::string& what);
  void writer_loop();
  void send_batch(std::vector<Write>& batch);

  const RedisConfig config_;
  CacheStats& stats_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Conn>> readers_;
  Conn writer_conn_;

  // Health, shared by all connections.
  mutable std::mutex health_mu_;
  uint64_t epoch_ = 0;
  bool ever_failed_ = false;
  TimePoint next_attempt_{};
  Duration backoff_;
  std::string last_error_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Write> queue_;
  bool writing_ = false;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace hir::cache
