// hir serve's side of the store (src/store, docs/store.md): converts the YAML configuration's
// targets, models and variants into store records (to seed an empty database) and a registry
// snapshot back into the Config the routing core is built from. The mapping is the table in
// docs/store.md ("Registry"). Pure functions: no I/O, no clock.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "router/config.h"
#include "store/records.h"
#include "store/store.h"

namespace hir::router {

// What `seed_if_empty` takes.
struct RegistryRecords {
  std::vector<store::ModelRecord> models;
  std::vector<store::TargetRecord> targets;
  std::vector<store::VariantRecord> variants;
};
RegistryRecords registry_records(const Config& cfg);
store::TargetRecord target_record(const TargetConfig& t);

// The Config to route with: `base` (server, routing, cache and demo sections) with its targets
// and models replaced by the snapshot's. Drained targets and variants are left out, and so is
// anything the data plane could not use (a target whose URL or class does not parse, a model with
// no signature): each such omission is appended to `skipped` as "what: why", never an error, so a
// bad row written by another replica cannot stop this one. A model's signature comes from `base`
// when it names the model (the YAML is authoritative for shapes), else from the record.
Config config_from_registry(const Config& base, const store::RegistrySnapshot& snap,
                            std::vector<std::string>* skipped = nullptr);

// The database hir serve opens: `flag` when given, else $DATABASE_URL, else "none" (no store).
std::string serve_database_url(std::string_view flag);
inline bool is_no_database(std::string_view url) { return url == "none" || url.empty(); }

// Opens the store at `url`, applies its migrations and seeds an empty registry from `cfg`.
// *seeded says whether this call seeded it.
Result<std::unique_ptr<store::Store>> open_seeded_store(std::string_view url, const Config& cfg, bool* seeded);

}  // namespace hir::router
