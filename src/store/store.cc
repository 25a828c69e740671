// open_store: DATABASE_URL → backend, then the schema migration every open runs.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <vector>

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

namespace {

// The secrets a database URL can hold, as they are spelt in it: the user info's password
// (scheme://user:PASSWORD@host) and the value of any password= parameter of its query string
// (libpq's `password`, `sslpassword`), each with its [begin, end) in the URL.
std::vector<std::pair<size_t, size_t>> secret_spans(std::string_view url) {
  std::vector<std::pair<size_t, size_t>> out;
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return out;
  const size_t auth = scheme + 3;
  const size_t end_auth = std::min(url.find('/', auth), url.find('?', auth));
  const auto at = url.rfind('@', end_auth == std::string_view::npos ? url.size() : end_auth);
  if (at != std::string_view::npos && at >= auth) {
    const auto colon = url.find(':', auth);
    if (colon != std::string_view::npos && colon < at) out.emplace_back(colon + 1, at);
  }
  const auto q = url.find('?', auth);
  for (size_t i = q == std::string_view::npos ? url.size() : q + 1; i < url.size();) {
    const size_t amp = std::min(url.find('&', i), url.size());
    const std::string_view pair = url.substr(i, amp - i);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos) {
      std::string key(pair.substr(0, eq));
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key.find("password") != std::string::npos) out.emplace_back(i + eq + 1, amp);
    }
    i = amp + 1;
  }
  return out;
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out(url);
  auto spans = secret_spans(url);
  // From the last, so that earlier offsets stay valid.
  for (auto it = spans.rbegin(); it != spans.rend(); ++it)
    if (it->second > it->first) out.replace(it->first, it->second - it->first, "***");
  return out;
}

std::string redact_secrets(std::string text, std::string_view url) {
  auto replace_all = [&text](std::string_view from, std::string_view to) {
    if (from.empty()) return;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  };
  const std::string redacted = redact_url(url);
  if (redacted != url) replace_all(url, redacted);
  for (auto [b, e] : secret_spans(url))
    if (e - b >= 3) replace_all(url.substr(b, e - b), "***");  // as quoted alone (a bad %-escape)
  return text;
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

Status SqlStore::check_schema(const std::vector<Migration>& steps) {
  std::lock_guard lk(mu_);
  auto rows = db_->query("SELECT COALESCE(MAX(version), 0) FROM schema_version", {});
  if (!rows.ok()) return Status(rows.status().code(), "no hir schema here (" + rows.status().message() + ")");
  const int current = static_cast<int>(rows->at(0).i64(0));
  const int known = static_cast<int>(steps.size());
  if (current != known) {
    return Status(Code::kFailedPrecondition,
                  "the database schema is version " + std::to_string(current) + " and this hir reads version " +
                      std::to_string(known) + (current < known ? ": run this hir serve on it once to migrate it"
                                                               : ": upgrade hir to read it"));
  }
  schema_version_ = current;
  applied_ = 0;
  return Status::Ok();
}

Result<std::unique_ptr<Store>> open_store(std::string_view database_url,
                                          const OpenOptions& options) {
  // Errors may quote the URL, or the part of it a driver could not read: never its password.
  auto safe = [&](const Status& s) { return Status(s.code(), redact_secrets(s.message(), database_url)); };
  auto url = parse_database_url(database_url);
  if (!url.ok()) return safe(url.status());
  auto db = url->backend == "sqlite" ? open_sqlite_db(url->target, options.read_only) : open_pg_db(url->target);
  if (!db.ok()) return safe(db.status());
  auto store = std::make_unique<SqlStore>(std::move(db).value());
  const auto& steps = options.migrations ? *options.migrations : builtin_migrations();
  HIR_RETURN_IF_ERROR(options.read_only ? store->check_schema(steps) : store->migrate(steps));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace hir::store
