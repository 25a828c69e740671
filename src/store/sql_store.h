// Store over a SqlDb: the one implementation both backends share (registry in sql_store.cc,
// ledger in sql_store_ledger.cc). Internal to src/store.
#pragma once

#include <memory>
#include <mutex>

#include "store/sql_db.h"
#include "store/store.h"

namespace hir::store {

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<SqlDb> db) : db_(std::move(db)) {}

  // Brings the schema up to `steps` in one exclusive transaction.
  Status migrate(const std::vector<Migration>& steps);
  // For a read-only open: the schema must be the steps' last version; nothing is written.
  Status check_schema(const std::vector<Migration>& steps);

  std::string_view backend() const override { return db_->backend(); }
  void interrupt() override { db_->interrupt(); }
  int schema_version() const override { return schema_version_; }
  int migrations_applied() const override { return applied_; }

  Result<int64_t> registry_version() override;
  Result<RegistrySnapshot> load_registry() override;
  Result<bool> seed_if_empty(const std::vector<ModelRecord>& models,
                             const std::vector<TargetRecord>& targets,
                             const std::vector<VariantRecord>& variants) override;

  Result<std::vector<ModelRecord>> list_models() override;
  Status add_model(const ModelRecord& m) override;
  Status remove_model(std::string_view name) override;

  Result<std::vector<TargetRecord>> list_targets() override;
  Result<TargetRecord> get_target(std::string_view name) override;
  Status add_target(const TargetRecord& t) override;
  Status update_target(const TargetRecord& t) override;
  Result<TargetRecord> modify_target(std::string_view name, const TargetChange& change) override;
  Status set_target_drained(std::string_view name, bool drained) override;
  Status remove_target(std::string_view name) override;

  Result<std::vector<VariantRecord>> list_variants(std::string_view model) override;
  Result<VariantRecord> get_variant(std::string_view model, std::string_view name) override;
  Status add_variant(const VariantRecord& v) override;
  Status update_variant(const VariantRecord& v) override;
  Result<VariantRecord> modify_variant(std::string_view model, std::string_view name,
                                       const VariantChange& change) override;
  Status set_variant_drained(std::string_view model, std::string_view name, bool drained) override;
  Status remove_variant(std::string_view model, std::string_view name) override;

  Status append_usage(std::span<const UsageRecord> records, std::string_view batch_id) override;
  Result<std::vector<UsageRecord>> query_usage(const UsageQuery& q) override;
  Result<int64_t> count_usage() override;

 private:
  // Runs body inside a transaction that also bumps the change counter; mu_ is taken here.
  template <class F>
  Status write_registry(F&& body);

  // Helpers below run inside a transaction the caller opened, with mu_ held.
  Status bump_version();
  Result<bool> exists(const std::string& sql, const SqlParams& params);
  Result<std::vector<TargetRecord>> read_targets(const std::string& where, const SqlParams& p);
  Result<std::vector<VariantRecord>> read_variants(const std::string& where, const SqlParams& p);
  Status insert_target(const TargetRecord& t);
  Status insert_model(const ModelRecord& m);
  Status insert_variant(const VariantRecord& v);
  Status write_deployments(const VariantRecord& v);
  Status check_variant_refs(const VariantRecord& v);

  std::mutex mu_;
  std::unique_ptr<SqlDb> db_;
  int schema_version_ = 0;
  int applied_ = 0;
  // Ledger batch ids (append_usage): kept a day, pruned every kPruneEvery batches.
  static constexpr int kPruneEvery = 256;
  static constexpr int64_t kKeepBatchIdsMs = 24 * 3600 * 1000;
  int batches_since_prune_ = 0;
};

// The Status of a Result, for HIR_RETURN_IF_ERROR on exec().
template <class T>
Status status_of(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace hir::store
