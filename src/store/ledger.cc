#include "store/ledger.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace hir::store {

LedgerWriter::LedgerWriter(UsageSink& sink, LedgerOptions options)
    : sink_(sink), opt_([&] {
        // A zero would make the queue refuse everything or a batch never fill.
        options.queue_capacity = std::max<size_t>(options.queue_capacity, 1);
        // A batch is written when it is full: one larger than half the queue would leave the
        // writer waiting out max_delay while the full queue turns records away.
        options.batch_size = std::clamp<size_t>(options.batch_size, 1, std::max<size_t>(options.queue_capacity / 2, 1));
        options.max_retries = std::max(options.max_retries, 0);
        return options;
      }()) {
  thread_ = std::thread([this] { run(); });
}

LedgerWriter::~LedgerWriter() { flush_and_stop(); }

bool LedgerWriter::submit(UsageRecord record) {
  {
    std::lock_guard lk(mu_);
    if (stopping_ || queue_.size() >= opt_.queue_capacity) {
      overflowed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back({std::chrono::steady_clock::now(), std::move(record)});
    accepted_.fetch_add(1, std::memory_order_relaxed);
    // Wake the writer only when it has something new to decide: the first record starts the
    // delay clock, a full batch is due at once.
    if (queue_.size() != 1 && queue_.size() != opt_.batch_size) return true;
  }
  wake_.notify_one();
  return true;
}

void LedgerWriter::flush_and_stop() {
  std::lock_guard stop_lk(stop_mu_);
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

LedgerCounters LedgerWriter::counters() const {
  LedgerCounters c;
  c.accepted = accepted_.load(std::memory_order_relaxed);
  c.overflowed = overflowed_.load(std::memory_order_relaxed);
  c.written = written_.load(std::memory_order_relaxed);
  c.batches = batches_.load(std::memory_order_relaxed);
  c.write_errors = write_errors_.load(std::memory_order_relaxed);
  c.lost = lost_.load(std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  c.queued = queue_.size() + writing_;
  return c;
}

void LedgerWriter::run() {
  std::vector<UsageRecord> batch;
  batch.reserve(opt_.batch_size);
  std::unique_lock lk(mu_);
  for (;;) {
    wake_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything accepted is written
    // Wait for a full batch, but no longer than max_delay after the oldest record arrived;
    // when stopping, write what is there now.
    wake_.wait_until(lk, queue_.front().arrived + opt_.max_delay,
                     [&] { return stopping_ || queue_.size() >= opt_.batch_size; });
    size_t n = std::min(queue_.size(), opt_.batch_size);
    batch.clear();
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front().record));
      queue_.pop_front();
    }
    writing_ = n;
    lk.unlock();
    const Status written = write_batch(batch);
    lk.lock();
    writing_ = 0;
    if (written.code() == Code::kUnavailable && stopping_) {
      // The database is still failing after this batch's last tries at stop: the rest would
      // each wait as long for the same answer, and the process is waiting to exit.
      lost_.fetch_add(queue_.size(), std::memory_order_relaxed);
      queue_.clear();
    }
  }
}

std::string LedgerWriter::next_batch_id() {
  if (id_prefix_.empty()) {
    std::random_device rd;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x-", rd(), rd(), rd(), rd());
    id_prefix_ = buf;
  }
  return id_prefix_ + std::to_string(batches_made_++);
}

Status LedgerWriter::write_batch(std::span<const UsageRecord> batch) {
  // One id for every try of this batch: a try whose COMMIT went through unanswered is not
  // written twice by the next (UsageSink::append_usage).
  const std::string id = next_batch_id();
  auto pause = opt_.retry_backoff;
  int tries_left = opt_.max_retries;
  bool waited_for_database = false;
  for (;;) {
    Status s = sink_.append_usage(batch, id);
    if (s.ok()) {
      written_.fetch_add(batch.size(), std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      return s;
    }
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lk(mu_);
    // A database that is down comes back: the batch waits for it as long as the router runs.
    const bool wait = s.code() == Code::kUnavailable && !stopping_;
    if (!wait) {
      if (waited_for_database) {  // stopping now: a fresh, short count of tries
        waited_for_database = false;
        pause = opt_.retry_backoff;
        tries_left = opt_.max_retries;
      }
      if (tries_left-- <= 0) {
        lost_.fetch_add(batch.size(), std::memory_order_relaxed);
        return s;
      }
    }
    waited_for_database |= wait;
    // A stop cuts a wait for the database short, not the pause between the counted tries.
    wake_.wait_for(lk, pause, [&] { return wait && stopping_; });
    pause = std::min(pause * 2, std::max(opt_.max_backoff, opt_.retry_backoff));
  }
}

}  // namespace hir::store
