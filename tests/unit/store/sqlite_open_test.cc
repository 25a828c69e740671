// Opening one new SQLite file from many connections at once: replicas started together.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/sql_db.h"

namespace hir::store {
namespace {

// Switching a new file to WAL could fail at once with "database is locked" when another
// connection opened it at the same moment; each open now waits as a busy database is waited for.
TEST(SqliteOpen, ManyConnectionsOpeningOneNewFileAllSucceed) {
  const std::string dir = ::testing::TempDir() + "hir_sqlite_open_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  constexpr int kRounds = 20, kConnections = 8;
  int failed = 0;
  std::string why;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir + "/db" + std::to_string(round) + ".sqlite";
    std::atomic<bool> go{false};
    std::vector<std::string> errors(kConnections);
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        auto db = open_sqlite_db(path);
        if (!db.ok()) errors[static_cast<size_t>(i)] = db.status().message();
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
      if (!e.empty()) ++failed, why = e;
  }
  std::filesystem::remove_all(dir);
  EXPECT_EQ(failed, 0) << why;
}

}  // namespace
}  // namespace hir::store
