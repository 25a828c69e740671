// open_store: DATABASE_URL → backend, then the schema migration every open runs.
#include <chrono>

#include "store/sql_store.h"

namespace hir::store {

Result<DatabaseUrl> parse_database_url(std::string_view url) {
  auto starts = [&](std::string_view p) { return url.substr(0, p.size()) == p; };
  const std::string forms =
      "; use sqlite://<path> (sqlite:///abs/path, sqlite://:memory:) or "
      "postgres://user@host:port/db";
  if (starts("sqlite://")) {
    std::string path(url.substr(9));
    if (path.empty()) return InvalidArgument("DATABASE_URL 'sqlite://' names no file" + forms);
    return DatabaseUrl{"sqlite", path};
  }
  if (starts("postgres://") || starts("postgresql://")) {
    auto rest = url.substr(url.find("://") + 3);
    if (rest.empty()) return InvalidArgument("DATABASE_URL '" + redact_url(url) + "' names no server" + forms);
    return DatabaseUrl{"postgres", std::string(url)};
  }
  if (url.empty()) return InvalidArgument("DATABASE_URL is empty" + forms);
  return InvalidArgument("DATABASE_URL '" + redact_url(url) + "' has an unknown scheme" + forms);
}

std::string redact_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto auth_start = scheme + 3;
  auto at = url.find('@', auth_start);
  auto slash = url.find('/', auth_start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::string(url);
  }
  auto colon = url.find(':', auth_start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Status SqlStore::migrate(const std::vector<Migration>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version != static_cast<int>(i) + 1) {
      return Internal("schema steps must be numbered 1, 2, ... in order; step " +
                      std::to_string(i + 1) + " says " + std::to_string(steps[i].version));
    }
  }
  std::lock_guard lk(mu_);
  SqlTxn txn(*db_, /*exclusive=*/true);
  HIR_RETURN_IF_ERROR(txn.status());
  HIR_RETURN_IF_ERROR(db_->exec_script(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
      "description TEXT NOT NULL, applied_ms BIGINT NOT NULL)"));
  auto rows = db_->query("SELECT COALESCE(MAX(version), 0) FROM schema_version", {});
  if (!rows.ok()) return rows.status();
  int current = static_cast<int>(rows->at(0).i64(0));
  int known = static_cast<int>(steps.size());
  if (current > known) {
    return Status(Code::kFailedPrecondition,
                  "the database schema is version " + std::to_string(current) +
                      ", newer than this hir knows (" + std::to_string(known) +
                      "); upgrade hir before using this database");
  }
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int applied = 0;
  for (const auto& step : steps) {
    if (step.version <= current) continue;
    Status s = db_->exec_script(step.sql);
    if (!s.ok()) {
      return Status(s.code(), "schema step " + std::to_string(step.version) + " (" +
                                  step.description + "): " + s.message());
    }
    HIR_RETURN_IF_ERROR(status_of(db_->exec(
        "INSERT INTO schema_version (version, description, applied_ms) VALUES ($1, $2, $3)",
        {int64_t{step.version}, step.description, static_cast<int64_t>(now_ms)})));
    ++applied;
  }
  HIR_RETURN_IF_ERROR(txn.commit());
  schema_version_ = std::max(current, known);
  applied_ = applied;
  return Status::Ok();
}

Result<std::unique_ptr<Store>> open_store(std::string_view database_url,
                                          const OpenOptions& options) {
  auto url = parse_database_url(database_url);
  if (!url.ok()) return url.status();
  auto db = url->backend == "sqlite" ? open_sqlite_db(url->target) : open_pg_db(url->target);
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqlStore>(std::move(db).value());
  HIR_RETURN_IF_ERROR(store->migrate(options.migrations ? *options.migrations : builtin_migrations()));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace hir::store
