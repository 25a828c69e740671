// The schema, as an ordered list of steps. A step, once released, never changes: a new column or
// table is a new step with the next version, so every database reaches the same schema whatever
// version it started from. The SQL is portable: SQLite reads BIGINT and DOUBLE PRECISION by type
// affinity, booleans are 0/1 integers, and no step relies on auto-increment or cascades.
#include "store/store.h"

namespace hir::store {

const std::vector<Migration>& builtin_migrations() {
  static const std::vector<Migration> kSteps = {
      {1, "registry: models, targets, variants, deployments, change counter",
       R"sql(
CREATE TABLE models (
  name TEXT PRIMARY KEY,
  signature TEXT NOT NULL
);
CREATE TABLE targets (
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  hw_class TEXT NOT NULL,
  cost_per_request_nano BIGINT NOT NULL,
  cost_per_second_nano BIGINT NOT NULL,
  failure_domain TEXT NOT NULL,
  concurrency BIGINT NOT NULL,
  queue_capacity BIGINT NOT NULL,
  token_env TEXT NOT NULL,
  timeout_ms DOUBLE PRECISION NOT NULL,
  expected_rtt_ms DOUBLE PRECISION NOT NULL,
  poll_load INTEGER NOT NULL,
  drained INTEGER NOT NULL
);
CREATE TABLE variants (
  model TEXT NOT NULL,
  name TEXT NOT NULL,
  position INTEGER NOT NULL,
  accuracy DOUBLE PRECISION NOT NULL,
  accuracy_by_band TEXT NOT NULL,
  size_bytes BIGINT NOT NULL,
  hw_class TEXT NOT NULL,
  expected_service_ms DOUBLE PRECISION NOT NULL,
  drained INTEGER NOT NULL,
  PRIMARY KEY (model, name)
);
CREATE TABLE deployments (
  model TEXT NOT NULL,
  variant TEXT NOT NULL,
  target TEXT NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (model, variant, target)
);
CREATE INDEX deployments_target ON deployments (target);
CREATE TABLE registry_meta (
  id INTEGER PRIMARY KEY,
  version BIGINT NOT NULL
);
INSERT INTO registry_meta (id, version) VALUES (1, 0);
)sql"},
      {2, "usage ledger",
       R"sql(
CREATE TABLE usage_ledger (
  time_ms BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  model TEXT NOT NULL,
  variant TEXT NOT NULL,
  target TEXT NOT NULL,
  hw_class TEXT NOT NULL,
  latency_ms DOUBLE PRECISION NOT NULL,
  cost_nano BIGINT NOT NULL,
  outcome TEXT NOT NULL,
  fallbacks INTEGER NOT NULL,
  cache TEXT NOT NULL
);
CREATE INDEX usage_ledger_time ON usage_ledger (time_ms);
CREATE INDEX usage_ledger_model_time ON usage_ledger (model, time_ms);
)sql"},
      {3, "usage ledger: the target's own service time",
       R"sql(
ALTER TABLE usage_ledger ADD COLUMN service_ms DOUBLE PRECISION NOT NULL DEFAULT -1;
)sql"},
      {4, "usage ledger: batches written, so that a retried batch is written once",
       R"sql(
CREATE TABLE ledger_batches (
  id TEXT PRIMARY KEY,
  time_ms BIGINT NOT NULL
);
CREATE INDEX ledger_batches_time ON ledger_batches (time_ms);
)sql"},
  };
  return kSteps;
}

int latest_schema_version() { return builtin_migrations().back().version; }

}  // namespace hir::store
