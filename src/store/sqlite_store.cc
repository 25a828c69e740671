// The SQLite backend of SqlDb: one connection, statements prepared once and cached.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/time.h"
#include "store/sql_db.h"

namespace hir::store {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// $N (PostgreSQL's placeholder) → ?N, SQLite's numbered one; our SQL has no '$' elsewhere.
std::string to_sqlite_placeholders(const std::string& sql) {
  std::string out = sql;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '?';
  }
  return out;
}

class SqliteDb final : public SqlDb {
 public:
  // Waits up to 5 s for another process's lock (hir report reading while hir serve writes) rather
  // than failing at once, as sqlite3_busy_timeout would, but gives up at once when interrupted.
  // path: the file's, to name it in errors; "" for an in-memory or read-only database, whose
  // file is never checked for having moved (nothing is written to it).
  SqliteDb(DbPtr db, std::string path) : path_(std::move(path)), db_(std::move(db)) {
    sqlite3_busy_handler(db_.get(), [](void* self, int tries) {
      if (static_cast<SqliteDb*>(self)->interrupted_.load() || tries >= 5000) return 0;
      sqlite3_sleep(1);
      return 1;
    }, this);
  }

  std::string_view backend() const override { return "sqlite"; }

  Status exec_script(const std::string& sql) override {
    if (interrupted_) return Unavailable("sqlite: interrupted: the process is stopping");
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return error(rc, msg);
  }

  // WAL lets readers and the one writer proceed together. Switching a new file to it can fail at
  // once with SQLITE_BUSY, without the busy handler, while another process opens the same file
  // (replicas started together): retried for as long as the busy handler would wait.
  Status enable_wal() {
    const auto until = SteadyClock::now() + std::chrono::seconds(5);
    for (;;) {
      std::string mode;
      char* err = nullptr;
      const int rc = sqlite3_exec(
          db_.get(), "PRAGMA journal_mode=WAL",
          [](void* out, int n, char** values, char**) {
            if (n > 0 && values[0]) *static_cast<std::string*>(out) = values[0];
            return 0;
          },
          &mode, &err);
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      if (rc == SQLITE_OK && mode == "wal") return exec_script("PRAGMA synchronous=NORMAL;");
      const bool busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED || (rc == SQLITE_OK && mode != "wal");
      if (!busy || interrupted_ || SteadyClock::now() >= until)
        return rc == SQLITE_OK ? Unavailable("sqlite: the journal stayed '" + mode + "', not 'wal'") : error(rc, msg);
      sqlite3_sleep(5);
    }
  }

  Result<int64_t> exec(const std::string& sql, const SqlParams& params) override {
    // Inside a transaction the check was made at its BEGIN.
    if (sqlite3_get_autocommit(db_.get())) HIR_RETURN_IF_ERROR(check_in_place());
    auto stmt = prepare(sql, params);
    if (!stmt.ok()) return stmt.status();
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    }
    sqlite3_reset(*stmt);
    if (rc != SQLITE_DONE) return error(rc, sqlite3_errmsg(db_.get()));
    return static_cast<int64_t>(sqlite3_changes(db_.get()));
  }

  Result<std::vector<SqlRow>> query(const std::string& sql, const SqlParams& params) override {
    auto stmt = prepare(sql, params);
    if (!stmt.ok()) return stmt.status();
    sqlite3_stmt* s = *stmt;
    std::vector<SqlRow> rows;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      int n = sqlite3_column_count(s);
      std::vector<SqlValue> cells;
      cells.reserve(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) cells.push_back(column(s, i));
      rows.emplace_back(std::move(cells));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return error(rc, sqlite3_errmsg(db_.get()));
    return rows;
  }

  Status begin(bool exclusive) override {
    // IMMEDIATE takes the write lock now, so a read-then-write (migrations, seeding) cannot
    // race another process; busy_timeout makes the second one wait instead of failing.
    HIR_RETURN_IF_ERROR(check_in_place());
    return exec_script(exclusive ? "BEGIN IMMEDIATE" : "BEGIN");
  }
  Status commit() override { return exec_script("COMMIT"); }
  void rollback() override {
    if (!sqlite3_get_autocommit(db_.get())) (void)exec_script("ROLLBACK");
  }
  void interrupt() override {
    interrupted_ = true;
    sqlite3_interrupt(db_.get());  // safe from any thread
  }

 private:
  static Status error(int rc, const std::string& msg) {
    int primary = rc & 0xff;
    Code code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
                 primary == SQLITE_FULL)
                    ? Code::kUnavailable
                    : primary == SQLITE_CONSTRAINT ? Code::kFailedPrecondition : Code::kInternal;
    return Status(code, "sqlite: " + msg);
  }

  // A database file deleted or renamed while open stays open: SQLite goes on writing to it (an
  // unlinked file nobody else can read, or one under another name), and every row written after
  // would be gone with the process, unseen. So writes are refused, as a database that is down:
  // the ledger keeps its rows and tries again (they land if the file is put back), and an admin
  // call is answered 503 with what to do. One stat() of the path a transaction.
  Status check_in_place() {
    if (path_.empty()) return Status::Ok();
    int moved = 0;
    if (sqlite3_file_control(db_.get(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || !moved)
      return Status::Ok();
    return Unavailable("sqlite: the database file '" + path_ +
                       "' was deleted or moved while hir had it open; nothing more is written to it: "
                       "put the file back, or restart hir to start a new one there");
  }

  static SqlValue column(sqlite3_stmt* s, int i) {
    switch (sqlite3_column_type(s, i)) {
      case SQLITE_INTEGER: return static_cast<int64_t>(sqlite3_column_int64(s, i));
      case SQLITE_FLOAT: return sqlite3_column_double(s, i);
      case SQLITE_NULL: return nullptr;
      default: {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        return std::string(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, i)));
      }
    }
  }

  // The cached statement for `sql`, reset and bound to `params`.
  Result<sqlite3_stmt*> prepare(const std::string& sql, const SqlParams& params) {
    if (interrupted_) return Unavailable("sqlite: interrupted: the process is stopping");
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) {
      sqlite3_stmt* raw = nullptr;
      std::string text = to_sqlite_placeholders(sql);
      int rc = sqlite3_prepare_v2(db_.get(), text.c_str(), static_cast<int>(text.size()), &raw,
                                  nullptr);
      if (rc != SQLITE_OK) return error(rc, sqlite3_errmsg(db_.get()));
      it = stmts_.emplace(sql, StmtPtr(raw)).first;
    }
    sqlite3_stmt* s = it->second.get();
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(s, idx);
            else if constexpr (std::is_same_v<T, int64_t>) return sqlite3_bind_int64(s, idx, v);
            else if constexpr (std::is_same_v<T, double>) return sqlite3_bind_double(s, idx, v);
            else
              return sqlite3_bind_text(s, idx, v.data(), static_cast<int>(v.size()),
                                       SQLITE_TRANSIENT);
          },
          params[i]);
      if (rc != SQLITE_OK) return error(rc, sqlite3_errmsg(db_.get()));
    }
    return s;
  }

  std::atomic<bool> interrupted_{false};
  const std::string path_;
  DbPtr db_;  // declared first: destroyed after the statements
  std::map<std::string, StmtPtr> stmts_;
};

}  // namespace

Result<std::unique_ptr<SqlDb>> open_sqlite_db(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  const int mode = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, mode | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) {
    return Unavailable("sqlite: cannot open '" + path + "': " +
                       (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  auto out = std::make_unique<SqliteDb>(std::move(db), path == ":memory:" || read_only ? std::string() : path);
  if (path != ":memory:" && !read_only) HIR_RETURN_IF_ERROR(out->enable_wal());
  return std::unique_ptr<SqlDb>(std::move(out));
}

}  // namespace hir::store
