// The store: the model registry and the usage ledger, behind one interface. DATABASE_URL picks
// the backend: sqlite://<path> (the embedded default, one process) or postgres://... through
// libpq (many router replicas sharing one registry and ledger). The schema is migrated at open.
//
// Thread-safety: every method may be called from any thread; a Store serializes its own calls
// (one connection, one mutex). Errors are values; nothing throws out of the store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/records.h"

namespace hir::store {

// One schema step: `sql` may hold several statements; it runs inside the migration transaction.
struct Migration {
  int version = 0;  // strictly increasing, from 1
  std::string description;
  std::string sql;
};

// The schema this build knows, oldest first (migrations.cc).
const std::vector<Migration>& builtin_migrations();
int latest_schema_version();

// Where ledger rows go. Store implements it; the LedgerWriter takes one, so a test (or a
// second sink) can stand in.
class UsageSink {
 public:
  virtual ~UsageSink() = default;
  // Writes every record or none (one transaction). batch_id, when not empty, names the batch
  // across retries: a batch with an id the sink has already committed is not written again (a
  // COMMIT whose answer was lost with its connection is retried, and must not count twice).
  virtual Status append_usage(std::span<const UsageRecord> records, std::string_view batch_id) = 0;
};

struct UsageQuery {
  int64_t since_ms = 0;        // time_ms >= since_ms
  int64_t until_ms = INT64_MAX;  // time_ms < until_ms
  std::string model;           // "" = every model
};

class Store : public UsageSink {
 public:
  ~Store() override = default;

  virtual std::string_view backend() const = 0;  // "sqlite" or "postgres"
  // From any thread: a call waiting on the database returns with an error soon (SqlDb::interrupt).
  virtual void interrupt() = 0;
  virtual int schema_version() const = 0;        // after migration
  virtual int migrations_applied() const = 0;    // steps this open applied (0 when up to date)

  // --- registry ---------------------------------------------------------------------------
  // The change counter: bumped in the same transaction as every registry change, so a router
  // that polls it (one tiny SELECT) reloads exactly when something changed, whichever replica
  // made the change.
  virtual Result<int64_t> registry_version() = 0;
  virtual Result<RegistrySnapshot> load_registry() = 0;

  // Fills an empty registry (no models and no targets) from configuration, in one transaction;
  // false when the registry already held something (nothing is changed then).
  virtual Result<bool> seed_if_empty(const std::vector<ModelRecord>& models,
                                     const std::vector<TargetRecord>& targets,
                                     const std::vector<VariantRecord>& variants) = 0;

  // Add fails (kFailedPrecondition) when the name exists, update and the others (kNotFound)
  // when it does not; bad fields are kInvalidArgument.
  virtual Result<std::vector<ModelRecord>> list_models() = 0;
  virtual Status add_model(const ModelRecord& m) = 0;
  virtual Status remove_model(std::string_view name) = 0;  // with its variants

  virtual Result<std::vector<TargetRecord>> list_targets() = 0;
  virtual Result<TargetRecord> get_target(std::string_view name) = 0;
  virtual Status add_target(const TargetRecord& t) = 0;
  virtual Status update_target(const TargetRecord& t) = 0;   // every field but the name
  // Reads the target, applies `change` and writes the result, in one transaction behind the
  // registry's lock: a concurrent change (another replica's drain) cannot land in between and be
  // undone. The change may refuse (its error is returned); it may not rename. Returns what was
  // written.
  using TargetChange = std::function<Result<TargetRecord>(const TargetRecord&)>;
  virtual Result<TargetRecord> modify_target(std::string_view name, const TargetChange& change) = 0;
  virtual Status set_target_drained(std::string_view name, bool drained) = 0;
  virtual Status remove_target(std::string_view name) = 0;   // and every deployment onto it

  virtual Result<std::vector<VariantRecord>> list_variants(std::string_view model = "") = 0;
  virtual Result<VariantRecord> get_variant(std::string_view model, std::string_view name) = 0;
  virtual Status add_variant(const VariantRecord& v) = 0;    // its model and targets must exist
  virtual Status update_variant(const VariantRecord& v) = 0;
  using VariantChange = std::function<Result<VariantRecord>(const VariantRecord&)>;
  virtual Result<VariantRecord> modify_variant(std::string_view model, std::string_view name,
                                               const VariantChange& change) = 0;
  virtual Status set_variant_drained(std::string_view model, std::string_view name,
                                     bool drained) = 0;
  virtual Status remove_variant(std::string_view model, std::string_view name) = 0;

  // --- usage ledger -----------------------------------------------------------------------
  // append_usage (UsageSink) writes a batch in one transaction. The request path should not
  // call it directly: submit to a LedgerWriter (ledger.h), which batches on its own thread.
  virtual Result<std::vector<UsageRecord>> query_usage(const UsageQuery& q) = 0;  // by time
  virtual Result<int64_t> count_usage() = 0;
};

struct OpenOptions {
  // The schema steps to apply; nullptr = builtin_migrations(). Tests pass their own list.
  const std::vector<Migration>* migrations = nullptr;
  // Opens for reading only (hir report): creates and migrates nothing, so a read-only role or a
  // read-only file will do; a schema other than this build's is refused with what to do.
  bool read_only = false;
};

// Opens (creating when needed) the database DATABASE_URL names and brings its schema up to date
// in one transaction. Fails on a malformed URL, an unreachable server, or a database whose schema
// is newer than this build knows (kFailedPrecondition; an older hir must not write to it).
Result<std::unique_ptr<Store>> open_store(std::string_view database_url,
                                          const OpenOptions& options = {});

struct DatabaseUrl {
  std::string backend;  // "sqlite" or "postgres"
  std::string target;   // sqlite: the file path or ":memory:"; postgres: the URL for libpq
};
// sqlite://<path> (relative, or absolute as sqlite:///abs/path; sqlite://:memory:),
// postgres://... or postgresql://...; anything else is kInvalidArgument naming the forms.
Result<DatabaseUrl> parse_database_url(std::string_view url);

// The URL with any password (user info, or a password= parameter) replaced by "***", for logs
// and error messages.
std::string redact_url(std::string_view url);
// `text` with the URL's secrets replaced wherever they appear: the whole URL as redact_url gives
// it, and each password alone (a driver's message may quote just the part it could not read).
std::string redact_secrets(std::string text, std::string_view url);

}  // namespace hir::store
