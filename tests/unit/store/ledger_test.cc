// LedgerWriter: nothing accepted is lost at flush_and_stop, overflow is counted instead of
// blocking, and sink failures are retried, counted and survived. No assertion depends on timing:
// a gated sink holds the writer still where a test needs it to be slow.
#include "store/ledger.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "records_util.h"
#include "test_db.h"

namespace hir::store {
namespace {

using testing::make_usage;

LedgerOptions small_batches() {
  LedgerOptions o;
  o.queue_capacity = 100000;
  o.batch_size = 37;  // not a divisor of the totals below: the last batch is partial
  o.max_delay = std::chrono::milliseconds(5);
  return o;
}

class LedgerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LedgerTest, EveryAcceptedRecordIsWrittenFromManyThreads) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto store = open_store(url);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  constexpr int kThreads = 4, kEach = 500;
  LedgerWriter writer(**store, small_batches());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto id = "t" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(writer.submit(make_usage(1'700'000'000'000 + i, id, "edge-1", "edge-cpu", 2, 5)));
      }
    });
  }
  for (auto& th : threads) th.join();
  writer.flush_and_stop();
  auto c = writer.counters();
  EXPECT_EQ(c.accepted, uint64_t{kThreads * kEach});
  EXPECT_EQ(c.written, c.accepted);
  EXPECT_EQ(c.overflowed, 0u);
  EXPECT_EQ(c.write_errors, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_GE(c.batches, uint64_t{kThreads * kEach / 37});
  auto n = (*store)->count_usage();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, kThreads * kEach);
  // After stopping, submit refuses instead of losing the record silently.
  EXPECT_FALSE(writer.submit(make_usage(1, "late", "", "", 0, 0)));
  EXPECT_EQ(writer.counters().overflowed, 1u);
}

// A dropped database connection costs a failed attempt, not records: the retry reconnects.
TEST(LedgerPostgres, SurvivesADroppedConnection) {
  HIR_FRESH_STORE_URL(url, "postgres");
  auto store = open_store(url);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  ASSERT_TRUE(testing::pg_drop_connections(url));
  LedgerOptions o;
  o.retry_backoff = std::chrono::milliseconds(1);
  LedgerWriter writer(**store, o);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "x", "", "", 1, 1)));
  writer.flush_and_stop();
  auto c = writer.counters();
  EXPECT_EQ(c.written, 50u);
  EXPECT_EQ(c.lost, 0u);
  EXPECT_GE(c.write_errors, 1u);
  EXPECT_EQ(*(*store)->count_usage(), 50);
}

// A COMMIT that went through but whose answer was lost (the connection dropped after the server
// committed): the writer tries the batch again, and the database must not hold it twice.
class LosesTheFirstAnswer : public UsageSink {
 public:
  explicit LosesTheFirstAnswer(UsageSink& inner) : inner_(inner) {}
  Status append_usage(std::span<const UsageRecord> records, std::string_view batch_id) override {
    Status s = inner_.append_usage(records, batch_id);
    if (s.ok() && !lost_one_) {
      lost_one_ = true;
      return Unavailable("the connection dropped before COMMIT's answer came");
    }
    return s;
  }

 private:
  UsageSink& inner_;
  bool lost_one_ = false;  // the writer's thread alone calls this
};

TEST_P(LedgerTest, ABatchWhoseCommitAnswerWasLostIsWrittenOnce) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto store = open_store(url);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  LosesTheFirstAnswer sink(**store);
  LedgerOptions o;
  o.retry_backoff = std::chrono::milliseconds(1);
  o.max_delay = std::chrono::hours(1);  // one batch, written at the stop
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "once-" + std::to_string(i), "", "", 1, 1)));
  writer.flush_and_stop();
  auto c = writer.counters();
  EXPECT_EQ(c.write_errors, 1u);
  EXPECT_EQ(c.written, 30u);
  EXPECT_EQ(*(*store)->count_usage(), 30);
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest, ::testing::ValuesIn(testing::kBackends),
                         testing::backend_name);

// Passes batches to a real sink, but only once the test opens the gate; can also fail on demand.
class GatedSink : public UsageSink {
 public:
  explicit GatedSink(UsageSink& inner) : inner_(inner) {}
  Status append_usage(std::span<const UsageRecord> records, std::string_view batch_id) override {
    std::unique_lock lk(mu_);
    ++calls_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    if (failures_left_ > 0) {
      --failures_left_;
      return Status(failure_code_, "injected failure");
    }
    return inner_.append_usage(records, batch_id);
  }
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait_for_first_call() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return calls_ > 0; });
  }
  void fail_next(int n, Code code = Code::kUnavailable) {
    std::lock_guard lk(mu_);
    failures_left_ = n;
    failure_code_ = code;
  }

 private:
  UsageSink& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int calls_ = 0;
  int failures_left_ = 0;
  Code failure_code_ = Code::kUnavailable;
};

std::unique_ptr<Store> memory_store() {
  auto s = open_store("sqlite://:memory:");
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(LedgerWriter, OverflowIsCountedAndNeverBlocks) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  GatedSink sink(*store);
  LedgerOptions o;
  o.queue_capacity = 4;
  o.batch_size = 2;
  o.max_delay = std::chrono::milliseconds(1);
  LedgerWriter writer(sink, o);
  // The first record goes out as a batch; the writer then waits inside the sink, so the queue
  // can only hold queue_capacity more and everything after that overflows.
  ASSERT_TRUE(writer.submit(make_usage(1, "first", "edge-1", "edge-cpu", 1, 1)));
  sink.wait_for_first_call();
  int accepted = 1;
  for (int i = 0; i < 20; ++i) accepted += writer.submit(make_usage(2, "r", "edge-1", "edge-cpu", 1, 1));
  EXPECT_EQ(accepted, 1 + 4);
  auto c = writer.counters();
  EXPECT_EQ(c.overflowed, 16u);
  EXPECT_EQ(c.accepted, 5u);
  sink.open();
  writer.flush_and_stop();
  c = writer.counters();
  EXPECT_EQ(c.written, 5u);
  EXPECT_EQ(*store->count_usage(), 5);
}

TEST(LedgerWriter, FailedBatchesAreRetriedThenCounted) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  GatedSink sink(*store);
  LedgerOptions o;
  o.batch_size = 1000;
  o.max_retries = 2;
  o.retry_backoff = std::chrono::milliseconds(1);
  o.max_delay = std::chrono::hours(1);  // one batch per writer: written only at the stop
  sink.fail_next(2);  // the first batch succeeds on its third attempt
  {
    LedgerWriter writer(sink, o);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "a", "", "", 1, 1)));
    sink.open();
    writer.flush_and_stop();
    auto c = writer.counters();
    EXPECT_EQ(c.write_errors, 2u);
    EXPECT_EQ(c.written, 10u);
    EXPECT_EQ(c.lost, 0u);
  }
  sink.fail_next(3);  // one more than the retries: the batch is given up, the writer lives on
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "b", "", "", 1, 1)));
  writer.flush_and_stop();
  auto c = writer.counters();
  EXPECT_EQ(c.write_errors, 3u);
  EXPECT_EQ(c.lost, 10u);
  EXPECT_EQ(c.written, 0u);
  EXPECT_EQ(*store->count_usage(), 10);
}

// While the router runs, a database that is down is waited for however long it takes: the batch
// is written when it is back, and nothing is lost.
TEST(LedgerWriter, ABatchWaitsForADatabaseThatIsDown) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  GatedSink sink(*store);
  LedgerOptions o;
  o.max_retries = 2;
  o.retry_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(2);
  o.max_delay = std::chrono::milliseconds(1);
  sink.fail_next(12);  // far more failures than max_retries
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "w", "", "", 1, 1)));
  sink.open();
  for (int i = 0; i < 10000 && writer.counters().written < 10; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto c = writer.counters();
  EXPECT_EQ(c.written, 10u);
  EXPECT_EQ(c.write_errors, 12u);
  EXPECT_EQ(c.lost, 0u);
  writer.flush_and_stop();
  EXPECT_EQ(*store->count_usage(), 10);
}

// Any other failure is the batch's own: it is given up after max_retries and the writer goes on.
TEST(LedgerWriter, ABatchThatFailsForGoodIsGivenUpWhileRunning) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  GatedSink sink(*store);
  LedgerOptions o;
  o.batch_size = 5;
  o.max_retries = 2;
  o.retry_backoff = std::chrono::milliseconds(1);
  o.max_delay = std::chrono::hours(1);  // a batch goes when it is full
  sink.fail_next(3, Code::kFailedPrecondition);
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "bad", "", "", 1, 1)));
  sink.open();
  for (int i = 0; i < 10000 && writer.counters().lost < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(writer.counters().lost, 5u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "good", "", "", 1, 1)));
  writer.flush_and_stop();
  auto c = writer.counters();
  EXPECT_EQ(c.written, 5u);
  EXPECT_EQ(c.write_errors, 3u);
  EXPECT_EQ(*store->count_usage(), 5);
}

// At stop a database still down costs one batch's retries, not every batch's: the rest is
// counted lost at once and the process exits.
TEST(LedgerWriter, AtStopADatabaseStillDownLosesTheQueueAtOnce) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  GatedSink sink(*store);
  LedgerOptions o;
  o.batch_size = 4;
  o.max_retries = 1;
  o.retry_backoff = std::chrono::milliseconds(1);
  o.max_delay = std::chrono::hours(1);
  sink.fail_next(1000);
  LedgerWriter writer(sink, o);
  // The first full batch goes out at once and waits in the sink; more queue behind it.
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "s", "", "", 1, 1)));
  sink.wait_for_first_call();
  std::thread stopper([&] { writer.flush_and_stop(); });
  // Records are taken until the stop begins; the sink answers only once it has.
  while (writer.submit(make_usage(99, "s", "", "", 1, 1))) std::this_thread::yield();
  sink.open();
  stopper.join();
  auto c = writer.counters();
  EXPECT_GE(c.accepted, 12u);
  EXPECT_EQ(c.lost, c.accepted);
  EXPECT_EQ(c.written, 0u);
  EXPECT_EQ(c.queued, 0u);
  // The first batch's failed try, then at most its own tries at stop (two); the rest none.
  EXPECT_LE(c.write_errors, 3u);
  EXPECT_EQ(*store->count_usage(), 0);
}

// A queue smaller than a batch: the writer writes what half the queue holds instead of waiting
// out max_delay for a batch that can never fill while the queue turns records away.
TEST(LedgerWriter, ASmallQueueIsWrittenWithoutWaitingForABatchItCannotHold) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  LedgerOptions o;
  o.queue_capacity = 4;
  o.batch_size = 512;
  o.max_delay = std::chrono::hours(1);  // only a full batch is written before the stop
  LedgerWriter writer(*store, o);
  for (int i = 0; i < 200; ++i) {
    // Each record waits for room, which comes as soon as a batch fills (before, never: the
    // batch of 512 could not fill, and this waited for the stop).
    for (int spins = 0; !writer.submit(make_usage(i, "q", "", "", 1, 1)); ++spins) {
      ASSERT_LT(spins, 10'000'000) << "no room in the queue after record " << i;
      std::this_thread::yield();
    }
  }
  writer.flush_and_stop();
  EXPECT_EQ(writer.counters().written, 200u);
  EXPECT_EQ(*store->count_usage(), 200);
}

// A batch the database refuses for itself (a constraint, say) is given up at the stop, and the
// batches behind it are still written: only a database that is down loses the queue at once.
class RefusesPoison : public UsageSink {
 public:
  explicit RefusesPoison(UsageSink& inner) : inner_(inner) {}
  Status append_usage(std::span<const UsageRecord> records, std::string_view batch_id) override {
    for (const UsageRecord& u : records)
      if (u.request_id == "poison") return Status(Code::kFailedPrecondition, "a constraint refused it");
    return inner_.append_usage(records, batch_id);
  }

 private:
  UsageSink& inner_;
};

TEST(LedgerWriter, ABatchRefusedAtTheStopDoesNotTakeTheQueueWithIt) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  RefusesPoison sink(*store);
  LedgerOptions o;
  o.batch_size = 2;
  o.max_retries = 1;
  o.retry_backoff = std::chrono::milliseconds(1);
  o.max_delay = std::chrono::hours(1);
  LedgerWriter writer(sink, o);
  ASSERT_TRUE(writer.submit(make_usage(0, "poison", "", "", 1, 1)));
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "fine", "", "", 1, 1)));
  writer.flush_and_stop();
  auto c = writer.counters();
  EXPECT_EQ(c.lost, 2u);  // the poisoned batch: it and the record beside it
  EXPECT_EQ(c.written, 8u);
  EXPECT_EQ(*store->count_usage(), 8);
}

TEST(LedgerWriter, DestructorFlushes) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  {
    LedgerOptions o;
    o.max_delay = std::chrono::hours(1);  // only the stop can write these
    LedgerWriter writer(*store, o);
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(writer.submit(make_usage(i, "d", "", "", 1, 1)));
  }
  EXPECT_EQ(*store->count_usage(), 25);
}

}  // namespace
}  // namespace hir::store
