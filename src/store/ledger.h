// LedgerWriter: takes usage records from the request path without ever blocking it and writes
// them to a UsageSink (the Store) in batches on its own thread.
//
// Guarantees:
//  - submit() never waits for the database: it appends to a bounded in-memory queue under a short
//    lock, or, when the queue is full, returns false and counts the record as overflowed.
//  - Every record submit() accepted is written before flush_and_stop() returns, unless the sink
//    kept failing for every retry of its batch (then the batch is counted in `lost`). So on SIGTERM:
//    stop accepting requests, let those in flight finish and submit, then call flush_and_stop().
//  - A database that is down (the sink answers kUnavailable) is waited for while the writer runs:
//    the failed batch is tried again with a growing pause (up to max_backoff) until it is written,
//    and records behind it wait in the bounded queue (what no longer fits is counted in
//    `overflowed`). An outage shorter than the queue's worth of traffic loses nothing.
//  - Any other failure (a constraint, a broken schema) is retried max_retries times and then the
//    batch is given up. So is a batch once stopping: it gets max_retries more tries, and if the
//    database is still down then, it and every record still queued are counted in `lost` at once
//    rather than each batch paying for its own retries. The writer never throws or stops early.
// Thread-safety: submit() and counters() from any thread; flush_and_stop() from one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "store/store.h"

namespace hir::store {

struct LedgerOptions {
  size_t queue_capacity = 65536;  // records waiting to be written
  size_t batch_size = 512;        // records per transaction, at most
  // How long a record may wait for its batch to fill before it is written anyway.
  std::chrono::milliseconds max_delay{200};
  int max_retries = 3;            // extra attempts for a batch that fails for good, or at stop
  std::chrono::milliseconds retry_backoff{50};  // doubled after each failed attempt...
  std::chrono::milliseconds max_backoff{5000};  // ...up to this, while a database is down
};

struct LedgerCounters {
  uint64_t accepted = 0;    // submit() returned true
  uint64_t overflowed = 0;  // submit() returned false: the queue was full (or the writer stopped)
  uint64_t written = 0;     // records committed to the sink
  uint64_t batches = 0;     // transactions committed
  uint64_t write_errors = 0;  // failed write attempts, retries included
  uint64_t lost = 0;        // accepted records given up after every retry failed
  uint64_t queued = 0;      // waiting now, the batch being written included
};

class LedgerWriter {
 public:
  // `sink` must outlive the writer. Starts the writer thread.
  LedgerWriter(UsageSink& sink, LedgerOptions options = {});
  ~LedgerWriter();  // flush_and_stop()
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Never blocks on I/O. false: not queued (full, or stopping), counted in `overflowed`.
  bool submit(UsageRecord record);
  // Stops accepting, writes everything accepted, joins the thread. Idempotent.
  void flush_and_stop();
  LedgerCounters counters() const;

 private:
  void run();
  // Ok when written; else the last failure, once given up (counted in lost_).
  Status write_batch(std::span<const UsageRecord> batch);
  std::string next_batch_id();

  UsageSink& sink_;
  const LedgerOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  struct Entry {
    std::chrono::steady_clock::time_point arrived;  // starts the record's max_delay clock
    UsageRecord record;
  };
  std::deque<Entry> queue_;
  bool stopping_ = false;
  std::mutex stop_mu_;  // serializes flush_and_stop callers around the join
  std::thread thread_;

  size_t writing_ = 0;  // records of the batch in the writer's hands, under mu_
  // Batch ids: this writer's random prefix (unique across replicas and restarts) and a count.
  std::string id_prefix_;
  uint64_t batches_made_ = 0;
  std::atomic<uint64_t> accepted_{0}, overflowed_{0}, written_{0}, batches_{0}, write_errors_{0},
      lost_{0};
};

}  // namespace hir::store
