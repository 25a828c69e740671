// The usage ledger's SQL: batched multi-row inserts (one round trip per chunk rather than per
// row, which is what lets PostgreSQL keep up with the request rate) and the report's query.
#include "store/sql_store.h"

#include <cmath>

namespace hir::store {
namespace {

constexpr const char* kLedgerCols =
    "time_ms, request_id, tenant, model, variant, target, hw_class, latency_ms, cost_nano, "
    "outcome, fallbacks, cache, service_ms";
constexpr size_t kLedgerColCount = 13;
// Rows per INSERT: 64 × 13 = 832 parameters, far below either backend's limit (SQLite 32766,
// PostgreSQL 65535). Each distinct row count is its own prepared statement, so a batch uses at
// most two (a full chunk and the remainder).
constexpr size_t kRowsPerInsert = 64;

std::string insert_sql(size_t rows) {
  std::string sql = std::string("INSERT INTO usage_ledger (") + kLedgerCols + ") VALUES ";
  size_t p = 1;
  for (size_t r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (size_t c = 0; c < kLedgerColCount; ++c) {
      if (c) sql += ", ";
      sql += "$" + std::to_string(p++);
    }
    sql += ")";
  }
  return sql;
}

void append_params(SqlParams& out, const UsageRecord& u) {
  out.emplace_back(u.time_ms);
  out.emplace_back(u.request_id);
  out.emplace_back(u.tenant);
  out.emplace_back(u.model);
  out.emplace_back(u.variant);
  out.emplace_back(u.target);
  out.emplace_back(u.hw_class);
  out.emplace_back(u.latency_ms);
  out.emplace_back(u.cost.nano());
  out.emplace_back(u.outcome);
  out.emplace_back(int64_t{u.fallbacks});
  out.emplace_back(std::string(cache_use_name(u.cache)));
  out.emplace_back(std::isfinite(u.service_ms) && u.service_ms >= 0 ? u.service_ms : -1.0);  // NaN, inf: unknown
}

}  // namespace

Status SqlStore::append_usage(std::span<const UsageRecord> records, std::string_view batch_id) {
  if (records.empty()) return Status::Ok();
  std::lock_guard lk(mu_);
  SqlTxn txn(*db_);
  HIR_RETURN_IF_ERROR(txn.status());
  if (!batch_id.empty()) {
    // Committed before, its answer lost with the connection: the retry finds its id and stops.
    auto seen = db_->query("SELECT 1 FROM ledger_batches WHERE id = $1", {std::string(batch_id)});
    if (!seen.ok()) return seen.status();
    if (!seen->empty()) return Status::Ok();
    int64_t newest = 0;
    for (const UsageRecord& u : records) newest = std::max(newest, u.time_ms);
    HIR_RETURN_IF_ERROR(status_of(
        db_->exec("INSERT INTO ledger_batches (id, time_ms) VALUES ($1, $2)", {std::string(batch_id), newest})));
    // A retry never comes a day late: older ids are forgotten now and then, in this transaction.
    if (++batches_since_prune_ >= kPruneEvery) {
      batches_since_prune_ = 0;
      HIR_RETURN_IF_ERROR(status_of(
          db_->exec("DELETE FROM ledger_batches WHERE time_ms < $1", {newest - kKeepBatchIdsMs})));
    }
  }
  for (size_t start = 0; start < records.size(); start += kRowsPerInsert) {
    size_t n = std::min(kRowsPerInsert, records.size() - start);
    SqlParams params;
    params.reserve(n * kLedgerColCount);
    for (size_t i = 0; i < n; ++i) append_params(params, records[start + i]);
    HIR_RETURN_IF_ERROR(status_of(db_->exec(insert_sql(n), params)));
  }
  return txn.commit();
}

Result<std::vector<UsageRecord>> SqlStore::query_usage(const UsageQuery& q) {
  std::lock_guard lk(mu_);
  auto rows = db_->query(std::string("SELECT ") + kLedgerCols +
                             " FROM usage_ledger WHERE time_ms >= $1 AND time_ms < $2 "
                             "AND ($3 = '' OR model = $3) ORDER BY time_ms, request_id",
                         {q.since_ms, q.until_ms, q.model});
  if (!rows.ok()) return rows.status();
  std::vector<UsageRecord> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) {
    UsageRecord u;
    u.time_ms = r.i64(0);
    u.request_id = r.text(1);
    u.tenant = r.text(2);
    u.model = r.text(3);
    u.variant = r.text(4);
    u.target = r.text(5);
    u.hw_class = r.text(6);
    u.latency_ms = r.f64(7);
    u.cost = Money::from_nano(r.i64(8));
    u.outcome = r.text(9);
    u.fallbacks = static_cast<uint32_t>(r.i64(10));
    auto cache = parse_cache_use(r.text(11));
    u.cache = cache.ok() ? *cache : CacheUse::kNone;  // a row from a newer hir: read as none
    u.service_ms = r.f64(12);
    out.push_back(std::move(u));
  }
  return out;
}

Result<int64_t> SqlStore::count_usage() {
  std::lock_guard lk(mu_);
  auto rows = db_->query("SELECT COUNT(*) FROM usage_ledger", {});
  if (!rows.ok()) return rows.status();
  return rows->at(0).i64(0);
}

}  // namespace hir::store
