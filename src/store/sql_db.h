// The little a store needs from a SQL connection, implemented once per backend (sqlite_store.cc,
// pg_store.cc), so the registry, ledger and migrations are written once over portable SQL.
// Statements use $1, $2, ... placeholders (PostgreSQL's); the SQLite backend maps them to ?1, ?2.
// Values are always bound, never formatted into SQL. Not thread-safe: SqlStore serializes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace hir::store {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;
using SqlParams = std::vector<SqlValue>;

// One result row. SQLite hands back typed values, PostgreSQL text; the getters convert either.
class SqlRow {
 public:
  explicit SqlRow(std::vector<SqlValue> cells) : cells_(std::move(cells)) {}
  size_t size() const { return cells_.size(); }
  int64_t i64(size_t i) const;
  double f64(size_t i) const;
  std::string text(size_t i) const;  // "" for NULL

 private:
  std::vector<SqlValue> cells_;
};

class SqlDb {
 public:
  virtual ~SqlDb() = default;
  virtual std::string_view backend() const = 0;
  // Runs one or more statements without parameters (schema steps).
  virtual Status exec_script(const std::string& sql) = 0;
  // Runs one statement; returns the rows it changed.
  virtual Result<int64_t> exec(const std::string& sql, const SqlParams& params) = 0;
  virtual Result<std::vector<SqlRow>> query(const std::string& sql, const SqlParams& params) = 0;
  // exclusive: no other writer may run until commit (SQLite BEGIN IMMEDIATE; PostgreSQL a
  // transaction-scoped advisory lock), for migrations and seeding that read before they write.
  virtual Status begin(bool exclusive) = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;
  // From any thread: makes a call that waits on the database (a frozen server, a lock held
  // elsewhere) return with an error soon, so that a shutdown is not held by it. For the end of
  // the process: the connection may be lost (PostgreSQL reconnects at its next call).
  virtual void interrupt() = 0;
};

// path: a file path or ":memory:".
// read_only: SQLITE_OPEN_READONLY, and the journal mode left as the file has it.
Result<std::unique_ptr<SqlDb>> open_sqlite_db(const std::string& path, bool read_only = false);
// url: postgres://... or postgresql://..., handed to libpq as is.
Result<std::unique_ptr<SqlDb>> open_pg_db(const std::string& url);

// A transaction that rolls back unless committed (RAII, so every early error return is safe).
class SqlTxn {
 public:
  explicit SqlTxn(SqlDb& db, bool exclusive = false) : db_(db), status_(db.begin(exclusive)) {}
  SqlTxn(const SqlTxn&) = delete;
  SqlTxn& operator=(const SqlTxn&) = delete;
  ~SqlTxn() {
    if (status_.ok() && !done_) db_.rollback();
  }
  const Status& status() const { return status_; }
  Status commit() {
    done_ = true;
    Status s = db_.commit();
    if (!s.ok()) db_.rollback();  // a failed COMMIT can leave SQLite inside the transaction
    return s;
  }

 private:
  SqlDb& db_;
  Status status_;
  bool done_ = false;
};

}  // namespace hir::store
