// Opening SQLite files: many connections opening one new file at once (replicas started
// together), and a file deleted or moved while it is open.
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

// A file deleted under a running router stays open, and SQLite would go on writing rows nobody
// can ever read. Writes are refused as Unavailable (the ledger waits and tries again), reads go
// on, and once the file is back under its name writes land again.
TEST(SqliteOpen, WritesAreRefusedWhileTheFileIsMovedOrDeleted) {
  const std::string dir = ::testing::TempDir() + "hir_sqlite_moved_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/hir.db";
  auto opened = open_sqlite_db(path);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  SqlDb& db = **opened;
  ASSERT_TRUE(db.exec_script("CREATE TABLE t (v INTEGER)").ok());
  ASSERT_TRUE(db.exec("INSERT INTO t (v) VALUES ($1)", {int64_t{1}}).ok());

  auto refused = [&](const Status& s) {
    return s.code() == Code::kUnavailable && s.message().find("deleted or moved") != std::string::npos &&
           s.message().find(path) != std::string::npos;
  };
  std::filesystem::rename(path, path + ".aside");
  auto insert = db.exec("INSERT INTO t (v) VALUES ($1)", {int64_t{2}});
  EXPECT_TRUE(!insert.ok() && refused(insert.status())) << (insert.ok() ? "written" : insert.status().message());
  Status txn = db.begin(false);
  EXPECT_TRUE(refused(txn)) << txn.message();
  auto rows = db.query("SELECT count(*) FROM t", {});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ((*rows)[0].i64(0), 1);

  std::filesystem::rename(path + ".aside", path);  // put back: the same file again
  ASSERT_TRUE(db.exec("INSERT INTO t (v) VALUES ($1)", {int64_t{3}}).ok());
  {
    SqlTxn t(db);
    ASSERT_TRUE(t.status().ok()) << t.status().message();
    ASSERT_TRUE(db.exec("INSERT INTO t (v) VALUES ($1)", {int64_t{4}}).ok());
    ASSERT_TRUE(t.commit().ok());
  }

  std::filesystem::remove(path);  // deleted: a new file by that name is not this one either
  insert = db.exec("INSERT INTO t (v) VALUES ($1)", {int64_t{5}});
  EXPECT_TRUE(!insert.ok() && refused(insert.status())) << (insert.ok() ? "written" : insert.status().message());
  rows = db.query("SELECT count(*) FROM t", {});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ((*rows)[0].i64(0), 3);
  std::filesystem::remove_all(dir);
}

// An in-memory database has no file to lose.
TEST(SqliteOpen, AnInMemoryDatabaseIsWrittenAsAlways) {
  auto opened = open_sqlite_db(":memory:");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  ASSERT_TRUE((*opened)->exec_script("CREATE TABLE t (v INTEGER)").ok());
  EXPECT_TRUE((*opened)->exec("INSERT INTO t (v) VALUES ($1)", {int64_t{1}}).ok());
  EXPECT_TRUE((*opened)->begin(false).ok());
  EXPECT_TRUE((*opened)->commit().ok());
}

}  // namespace
}  // namespace hir::store
