// Threads that run blocking work (a Redis GET, a database call) so that an event loop never
// waits on it. A bounded queue: post() refuses work when it is full or stopping, and the caller
// answers without it. Stopping runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hir {

class WorkQueue {
 public:
  WorkQueue(size_t threads, size_t max_queued);
  ~WorkQueue();  // stop()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues fn for one of the threads; false (fn not kept) when the queue is full or stopping.
  bool post(std::function<void()> fn);
  // Runs what is queued, then joins the threads. Idempotent.
  void stop();

 private:
  void loop();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hir
