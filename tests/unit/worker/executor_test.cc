#include "worker/executor.h"

#include <gtest/gtest.h>

#include <future>

#include "unit/worker/fake_model.h"

namespace hir::worker {
namespace {

using testing::fake_loader;
using testing::Gate;

std::vector<Status> start_and_wait(Executor& ex) {
  std::promise<std::vector<Status>> loaded;
  ex.start([&](std::vector<Status> s) { loaded.set_value(std::move(s)); });
  auto f = loaded.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  return f.get();
}

TEST(Executor, LoadsEverySlotOnEveryThreadAndReportsFailures) {
  ExecutorOptions o;
  o.concurrency = 3;
  Executor ex(o, {{"a", "a/1/model.onnx", 2, 2}, {"b", "fail/1/model.onnx", 2, 2}}, fake_loader());
  auto loaded = start_and_wait(ex);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_TRUE(loaded[0].ok());
  EXPECT_EQ(loaded[1].code(), Code::kInvalidArgument);

  // A failed slot's jobs get no engine, so they can answer instead of crashing.
  std::promise<bool> got_null;
  ASSERT_TRUE(ex.submit(1, [&](BatchModel* m) -> Delivery {
                  got_null.set_value(m == nullptr);
                  return nullptr;
                }).ok());
  EXPECT_TRUE(got_null.get_future().get());
}

TEST(Executor, RunsJobsAndCountsThemPerModel) {
  Executor ex({}, {{"a", "a", 2, 3}}, fake_loader());
  start_and_wait(ex);
  std::promise<std::vector<float>> result;
  const float in[] = {1, 2, 3, 4};
  ASSERT_TRUE(ex.submit(0, [&](BatchModel* m) -> Delivery {
                  auto out = m->run(in, 2, 2);
                  return [&, v = *out] { result.set_value(v); };
                }).ok());
  EXPECT_EQ(result.get_future().get(), std::vector<float>({3, 6, 9, 7, 14, 21}));
  // The delivery runs after the accounting, so the request is already counted.
  LoadSnapshot s = ex.snapshot();
  EXPECT_EQ(s.models.at("a").requests, 1u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.concurrency, 1);
  EXPECT_EQ(s.queue_capacity, 256u);
}

TEST(Executor, RefusesWhenTheQueueIsFull) {
  auto gate = std::make_shared<Gate>();
  ExecutorOptions o;
  o.concurrency = 1;
  o.queue_depth = 1;
  Executor ex(o, {{"a", "a", 1, 1}}, fake_loader(gate));
  start_and_wait(ex);
  std::atomic<int> done{0};
  const float in[] = {1};
  auto job = [&](BatchModel* m) -> Delivery {
    (void)m->run(in, 1, 1);
    return [&] { ++done; };
  };
  ASSERT_TRUE(ex.submit(0, job).ok());  // taken by the thread, held at the gate
  gate->wait_for_waiting(1);
  ASSERT_TRUE(ex.submit(0, job).ok());  // waits in the queue
  Status full = ex.submit(0, job);
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  LoadSnapshot s = ex.snapshot();
  EXPECT_EQ(s.queue_depth, 1u);
  EXPECT_EQ(s.in_flight, 2u);
  EXPECT_GT(s.busy_fraction, 0.0);  // the held run counts as busy
  gate->open();
  ex.stop();  // drains the queue before joining
  EXPECT_EQ(done.load(), 2);
  EXPECT_EQ(ex.submit(0, job).code(), Code::kUnavailable);
}

TEST(Executor, AThrowingJobDoesNotKillTheThread) {
  Executor ex({}, {{"a", "a", 1, 1}}, fake_loader());
  start_and_wait(ex);
  ASSERT_TRUE(ex.submit(0, [](BatchModel*) -> Delivery { throw std::runtime_error("bug"); }).ok());
  std::promise<void> ran;
  ASSERT_TRUE(ex.submit(0, [&](BatchModel*) -> Delivery { return [&] { ran.set_value(); }; }).ok());
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace hir::worker
