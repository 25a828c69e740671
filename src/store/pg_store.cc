// The PostgreSQL backend of SqlDb through libpq: one connection, statements prepared once per
// connection (PQprepare) and run with text-format parameters the server casts by context.
#include <libpq-fe.h>
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <map>
#include <memory>
#include <string>

#include "store/sql_db.h"

namespace hir::store {
namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// An arbitrary constant naming the lock that serializes migrations and seeding across replicas.
constexpr int64_t kSchemaLockKey = 0x6869725f73746f;  // "hir_sto"

std::string to_text(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    // Shortest text that reads back as the same double.
    auto r = std::to_chars(buf, buf + sizeof buf, *d);
    return std::string(buf, r.ptr);
  }
  return std::get<std::string>(v);
}

class PgDb final : public SqlDb {
 public:
  explicit PgDb(ConnPtr conn) : conn_(std::move(conn)) {}

  std::string_view backend() const override { return "postgres"; }

  Status exec_script(const std::string& sql) override {
    HIR_RETURN_IF_ERROR(ensure_connected());
    ResultPtr r(PQexec(conn_.get(), sql.c_str()));
    return check(r.get());
  }

  Result<int64_t> exec(const std::string& sql, const SqlParams& params) override {
    auto r = run(sql, params);
    if (!r.ok()) return r.status();
    const char* n = PQcmdTuples(r->get());  // "" for statements that change no rows
    int64_t changed = 0;
    if (n) std::from_chars(n, n + std::char_traits<char>::length(n), changed);
    return changed;
  }

  Result<std::vector<SqlRow>> query(const std::string& sql, const SqlParams& params) override {
    auto r = run(sql, params);
    if (!r.ok()) return r.status();
    PGresult* res = r->get();
    int rows = PQntuples(res), cols = PQnfields(res);
    std::vector<SqlRow> out;
    out.reserve(static_cast<size_t>(rows));
    for (int i = 0; i < rows; ++i) {
      std::vector<SqlValue> cells;
      cells.reserve(static_cast<size_t>(cols));
      for (int j = 0; j < cols; ++j) {
        if (PQgetisnull(res, i, j)) cells.emplace_back(nullptr);
        else cells.emplace_back(std::string(PQgetvalue(res, i, j),
                                            static_cast<size_t>(PQgetlength(res, i, j))));
      }
      out.emplace_back(std::move(cells));
    }
    return out;
  }

  Status begin(bool exclusive) override {
    HIR_RETURN_IF_ERROR(exec_script("BEGIN"));
    in_txn_ = true;
    if (!exclusive) return Status::Ok();
    // Held until COMMIT/ROLLBACK: replicas starting together migrate one after the other.
    auto r = query("SELECT pg_advisory_xact_lock($1)", {kSchemaLockKey});
    if (!r.ok()) {
      rollback();
      return r.status();
    }
    return Status::Ok();
  }
  Status commit() override {
    Status s = exec_script("COMMIT");
    in_txn_ = false;
    return s;
  }
  void rollback() override {
    if (PQstatus(conn_.get()) == CONNECTION_OK) (void)exec_script("ROLLBACK");
    in_txn_ = false;
  }
  // A frozen server's kernel still acknowledges what it is sent, so no libpq timeout fires: the
  // socket is shut down under the waiting call, which then fails as on a lost connection.
  void interrupt() override {
    interrupted_ = true;  // and no reconnect after it: a frozen server would hold that too
    const int fd = PQsocket(conn_.get());
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  Status check(PGresult* r) {
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::Ok();
    std::string msg = PQresultErrorMessage(r);
    if (msg.empty()) msg = PQerrorMessage(conn_.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    std::string sqlstate = state ? state : "";
    // Class 23 is an integrity violation (a duplicate key); 08 a connection problem, 40 a
    // serialization failure or deadlock, 53 insufficient resources: worth retrying.
    Code code = Code::kInternal;
    if (sqlstate.rfind("23", 0) == 0) code = Code::kFailedPrecondition;
    if (sqlstate.empty() || sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("40", 0) == 0 ||
        sqlstate.rfind("53", 0) == 0 || PQstatus(conn_.get()) != CONNECTION_OK) {
      code = Code::kUnavailable;
    }
    return Status(code, "postgres: " + msg);
  }

  // A dropped connection is reset before the next statement (its prepared statements went
  // with it), so a restarted server costs the ledger one failed batch, not the process. Never
  // inside a transaction: the rest of it would run on the new connection without its start.
  Status ensure_connected() {
    if (interrupted_) return Unavailable("postgres: interrupted: the process is stopping");
    if (PQstatus(conn_.get()) == CONNECTION_OK) return Status::Ok();
    if (in_txn_) return Unavailable("postgres: the connection dropped inside a transaction");
    PQreset(conn_.get());
    prepared_.clear();
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      return Unavailable(std::string("postgres: reconnect failed: ") + PQerrorMessage(conn_.get()));
    }
    return Status::Ok();
  }

  Result<ResultPtr> run(const std::string& sql, const SqlParams& params) {
    HIR_RETURN_IF_ERROR(ensure_connected());
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "hir_s" + std::to_string(prepared_.size() + 1);
      ResultPtr p(PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr));
      HIR_RETURN_IF_ERROR(check(p.get()));
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (std::holds_alternative<std::nullptr_t>(params[i])) {
        values[i] = nullptr;
      } else {
        texts[i] = to_text(params[i]);
        values[i] = texts[i].c_str();
      }
    }
    ResultPtr r(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(params.size()),
                               values.data(), nullptr, nullptr, 0));
    HIR_RETURN_IF_ERROR(check(r.get()));
    return r;
  }

  ConnPtr conn_;
  std::atomic<bool> interrupted_{false};
  bool in_txn_ = false;
  std::map<std::string, std::string> prepared_;  // SQL text → statement name
};

}  // namespace

Result<std::unique_ptr<SqlDb>> open_pg_db(const std::string& url) {
  // connect_timeout first, so a value in the URL (expanded from dbname) overrides it.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* vals[] = {"10", "hir", url.c_str(), nullptr};
  ConnPtr conn(PQconnectdbParams(keys, vals, /*expand_dbname=*/1));
  if (!conn) return Unavailable("postgres: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn.get());
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Unavailable("postgres: cannot connect: " + msg);
  }
  // Notices and warnings ("there is no transaction in progress", "terminating connection due to
  // immediate shutdown") would go to stderr as bare text among the JSON log lines; what matters
  // of them comes back as a failed call's error. The processor stays across PQreset, which a
  // SET client_min_messages would not.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  auto db = std::make_unique<PgDb>(std::move(conn));
  return std::unique_ptr<SqlDb>(std::move(db));
}

}  // namespace hir::store
