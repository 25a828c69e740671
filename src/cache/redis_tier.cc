#include "cache/redis_tier.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace hir::cache {
namespace {

constexpr size_t kBatch = 64;  // SETs per pipelined round trip

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(Duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

std::string context_error(const redisContext* c, const char* fallback) {
  return (c != nullptr && c->err != 0 && c->errstr[0] != '\0') ? std::string(c->errstr) : fallback;
}

// Error replies that say the server will answer no command of this kind on this connection (not
// authenticated, no permission, loading its data set, a replica without its master, read-only,
// out of memory, unable to persist): the level is down until it changes, as when it cannot be
// reached. Others (WRONGTYPE: a key some other program wrote) concern one key and are a miss.
bool server_refuses(const redisReply& r) {
  constexpr std::string_view kCodes[] = {"NOAUTH", "WRONGPASS", "NOPERM",   "LOADING",
                                         "MASTERDOWN", "READONLY", "OOM",   "MISCONF"};
  const std::string_view text(r.str, r.len);
  for (std::string_view code : kCodes)
    if (text.starts_with(code) && (text.size() == code.size() || text[code.size()] == ' ')) return true;
  return false;
}

std::string reply_text(const redisReply& r) {
  return r.type == REDIS_REPLY_ERROR ? std::string(r.str, r.len) : std::string("unexpected reply type");
}

}  // namespace

void RedisTier::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

RedisTier::RedisTier(RedisConfig config, CacheStats& stats, const Clock& clock)
    : config_(std::move(config)), stats_(stats), clock_(clock), backoff_(config_.reconnect_min) {
  readers_.resize(std::max<size_t>(1, config_.read_connections));
  for (auto& r : readers_) r = std::make_unique<Conn>();
  writer_ = std::thread([this] { writer_loop(); });
}

RedisTier::~RedisTier() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  writer_.join();
}

bool RedisTier::up() const { return stats_.redis_up.load(std::memory_order_relaxed); }

std::string RedisTier::last_error() const {
  std::lock_guard lock(health_mu_);
  return last_error_;
}

redisContext* RedisTier::acquire(Conn& c) {
  TimePoint now = clock_.now();
  {
    std::lock_guard lock(health_mu_);
    if (c.ctx && c.epoch == epoch_) return c.ctx.get();
    if (now < next_attempt_) {
      stats_.redis_skipped.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
  }
  c.ctx.reset();
  ContextPtr ctx(redisConnectWithTimeout(config_.host.c_str(), config_.port, to_timeval(config_.connect_timeout)));
  if (!ctx || ctx->err != 0 || redisSetTimeout(ctx.get(), to_timeval(config_.command_timeout)) != REDIS_OK) {
    std::string why = context_error(ctx.get(), "cannot allocate a connection");
    failed(c, "connect to " + config_.host + ":" + std::to_string(config_.port) + ": " + why);
    return nullptr;
  }
  if (!config_.password.empty()) {
    // AUTH [username] password: the secret goes to Redis only, never to a log or an error text.
    std::vector<const char*> argv{"AUTH"};
    std::vector<size_t> lens{4};
    for (const std::string* a : {&config_.username, &config_.password}) {
      if (a->empty()) continue;
      argv.push_back(a->c_str());
      lens.push_back(a->size());
    }
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(ctx.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      failed(c, "AUTH to " + config_.host + ":" + std::to_string(config_.port) + ": " +
                    (reply ? reply_text(*reply) : context_error(ctx.get(), "no reply")));
      return nullptr;
    }
  }
  std::lock_guard lock(health_mu_);
  c.ctx = std::move(ctx);
  c.epoch = epoch_;
  if (!stats_.redis_up.exchange(true) && ever_failed_) stats_.redis_reconnects.fetch_add(1);
  backoff_ = config_.reconnect_min;
  return c.ctx.get();
}

// A failure closes the gate for the current backoff and doubles it, unless a concurrent failure
// already closed it (several connections failing at once count as one round).
void RedisTier::failed(Conn& c, const std::string& what) {
  c.ctx.reset();
  TimePoint now = clock_.now();
  stats_.redis_errors.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(health_mu_);
  last_error_ = what;
  ever_failed_ = true;
  ++epoch_;
  stats_.redis_up.store(false);
  if (now >= next_attempt_) {
    next_attempt_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
  }
}

std::optional<std::string> RedisTier::get(const CacheKey& key) {
  for (auto& conn : readers_) {
    std::unique_lock lock(conn->mu, std::try_to_lock);
    if (!lock.owns_lock()) continue;
    redisContext* ctx = acquire(*conn);
    if (ctx == nullptr) return std::nullopt;
    std::string k = redis_key(key);
    const char* argv[] = {"GET", k.c_str()};
    const size_t lens[] = {3, k.size()};
    ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(ctx, 2, argv, lens)));
    if (!reply) {
      failed(*conn, "GET: " + context_error(ctx, "no reply"));
      return std::nullopt;
    }
    if (reply->type == REDIS_REPLY_STRING) return std::string(reply->str, reply->len);
    if (reply->type == REDIS_REPLY_NIL) return std::nullopt;
    if (reply->type == REDIS_REPLY_ERROR && server_refuses(*reply)) {
      failed(*conn, "GET: " + reply_text(*reply));
      return std::nullopt;
    }
    // An error about this key alone (WRONGTYPE) leaves the connection usable: a miss.
    stats_.redis_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard hl(health_mu_);
    last_error_ = "GET: " + reply_text(*reply);
    return std::nullopt;
  }
  stats_.redis_skipped.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void RedisTier::put(const CacheKey& key, std::string value, Duration px) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(px).count();
  if (ms <= 0) return;
  {
    std::lock_guard lock(queue_mu_);
    if (queue_.size() >= config_.write_queue) {
      stats_.redis_write_drops.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(Write{redis_key(key), std::move(value), static_cast<long long>(ms)});
  }
  queue_cv_.notify_all();
}

bool RedisTier::flush(Duration timeout) {
  std::unique_lock lock(queue_mu_);
  return queue_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !writing_; });
}

void RedisTier::writer_loop() {
  std::vector<Write> batch;
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    size_t n = std::min(kBatch, queue_.size());
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    writing_ = true;
    lock.unlock();
    send_batch(batch);
    lock.lock();
    writing_ = false;
    queue_cv_.notify_all();  // flush() waiters
  }
}

// Pipelined: append every SET, then read the replies in order. A failure part-way drops the
// rest of the batch (they are counted); the cache is best effort and the next store repairs it.
void RedisTier::send_batch(std::vector<Write>& batch) {
  std::lock_guard lock(writer_conn_.mu);
  redisContext* ctx = acquire(writer_conn_);
  if (ctx == nullptr) {
    stats_.redis_write_drops.fetch_add(batch.size(), std::memory_order_relaxed);
    return;
  }
  for (const Write& w : batch) {
    std::string px = std::to_string(w.px_ms);
    const char* argv[] = {"SET", w.key.c_str(), w.value.data(), "PX", px.c_str()};
    const size_t lens[] = {3, w.key.size(), w.value.size(), 2, px.size()};
    redisAppendCommandArgv(ctx, 5, argv, lens);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
      stats_.redis_write_drops.fetch_add(batch.size() - i, std::memory_order_relaxed);
      failed(writer_conn_, "SET: " + context_error(ctx, "no reply"));
      return;
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR && server_refuses(*reply)) {
      // Every SET will be refused alike (a full memory, a read-only replica, no AUTH): the level
      // is down, logged as such, and tried again after the backoff; the rest of the batch is
      // dropped unread with the connection.
      stats_.redis_write_drops.fetch_add(batch.size() - i, std::memory_order_relaxed);
      failed(writer_conn_, "SET: " + reply_text(*reply));
      return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      stats_.redis_errors.fetch_add(1, std::memory_order_relaxed);
      stats_.redis_write_drops.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard hl(health_mu_);
      last_error_ = "SET: " + std::string(reply->str, reply->len);
    } else {
      stats_.redis_writes.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace hir::cache
