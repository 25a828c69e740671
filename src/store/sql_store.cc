// The registry over portable SQL: every change runs in one transaction that also bumps the
// change counter, so a poller never sees a change without the counter moving.
#include <charconv>

#include "store/sql_store.h"

namespace hir::store {
namespace {

constexpr const char* kTargetCols =
    "name, url, hw_class, cost_per_request_nano, cost_per_second_nano, failure_domain, "
    "concurrency, queue_capacity, token_env, timeout_ms, expected_rtt_ms, poll_load, drained";
constexpr const char* kVariantCols =
    "model, name, position, accuracy, accuracy_by_band, size_bytes, hw_class, "
    "expected_service_ms, drained";

// Bands as a comma-separated list of shortest round-trip decimals: readable in either
// database's shell, and exact on the way back.
std::string encode_bands(const std::vector<double>& bands) {
  std::string out;
  for (double b : bands) {
    if (!out.empty()) out += ',';
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, b);
    out.append(buf, r.ptr);
  }
  return out;
}

std::vector<double> decode_bands(const std::string& s) {
  std::vector<double> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    double v = 0;
    std::from_chars(s.data() + start, s.data() + end, v);
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

SqlParams target_params(const TargetRecord& t) {
  return {t.name, t.url, t.hw_class, t.cost_per_request.nano(), t.cost_per_second.nano(),
          t.failure_domain, int64_t{t.concurrency}, int64_t{t.queue_capacity}, t.token_env,
          t.timeout_ms, t.expected_rtt_ms, int64_t{t.poll_load}, int64_t{t.drained}};
}

TargetRecord target_from(const SqlRow& r) {
  TargetRecord t;
  t.name = r.text(0);
  t.url = r.text(1);
  t.hw_class = r.text(2);
  t.cost_per_request = Money::from_nano(r.i64(3));
  t.cost_per_second = Money::from_nano(r.i64(4));
  t.failure_domain = r.text(5);
  t.concurrency = static_cast<uint32_t>(r.i64(6));
  t.queue_capacity = static_cast<uint32_t>(r.i64(7));
  t.token_env = r.text(8);
  t.timeout_ms = r.f64(9);
  t.expected_rtt_ms = r.f64(10);
  t.poll_load = r.i64(11) != 0;
  t.drained = r.i64(12) != 0;
  return t;
}

Status not_found(const std::string& what, std::string_view name) {
  return NotFound(what + " '" + std::string(name) + "' is not in the registry");
}
Status already(const std::string& what, std::string_view name) {
  return Status(Code::kFailedPrecondition, what + " '" + std::string(name) + "' already exists");
}

}  // namespace

// The version is bumped first: on PostgreSQL that takes registry_meta's row lock, so registry
// writes of every replica run one after another, and what one checks (a variant's targets
// exist, the next free position) is still true when it writes. Bumped last, two replicas could
// each pass their checks against the other's uncommitted change: a variant deployed on a target
// deleted at the same time, two variants at one position. (SQLite has one writer at a time.)
template <class F>
Status SqlStore::write_registry(F&& body) {
  std::lock_guard lk(mu_);
  SqlTxn txn(*db_);
  HIR_RETURN_IF_ERROR(txn.status());
  HIR_RETURN_IF_ERROR(bump_version());
  HIR_RETURN_IF_ERROR(body());
  return txn.commit();
}

Status SqlStore::bump_version() {
  return status_of(db_->exec("UPDATE registry_meta SET version = version + 1 WHERE id = 1", {}));
}

Result<bool> SqlStore::exists(const std::string& sql, const SqlParams& params) {
  auto rows = db_->query(sql, params);
  if (!rows.ok()) return rows.status();
  return !rows->empty();
}

Result<int64_t> SqlStore::registry_version() {
  std::lock_guard lk(mu_);
  auto rows = db_->query("SELECT version FROM registry_meta WHERE id = 1", {});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Internal("registry_meta has no row");
  return rows->front().i64(0);
}

Result<std::vector<TargetRecord>> SqlStore::read_targets(const std::string& where,
                                                         const SqlParams& p) {
  auto rows = db_->query(std::string("SELECT ") + kTargetCols + " FROM targets " + where +
                             " ORDER BY name", p);
  if (!rows.ok()) return rows.status();
  std::vector<TargetRecord> out;
  for (const auto& r : *rows) out.push_back(target_from(r));
  return out;
}

Result<std::vector<VariantRecord>> SqlStore::read_variants(const std::string& where,
                                                           const SqlParams& p) {
  auto rows = db_->query(std::string("SELECT ") + kVariantCols + " FROM variants " + where +
                             " ORDER BY model, position, name", p);
  if (!rows.ok()) return rows.status();
  auto deps = db_->query(
      "SELECT model, variant, target FROM deployments ORDER BY model, variant, position", {});
  if (!deps.ok()) return deps.status();
  std::vector<VariantRecord> out;
  for (const auto& r : *rows) {
    VariantRecord v;
    v.model = r.text(0);
    v.name = r.text(1);
    v.position = static_cast<int>(r.i64(2));
    v.accuracy = r.f64(3);
    v.accuracy_by_band = decode_bands(r.text(4));
    v.size_bytes = r.i64(5);
    v.hw_class = r.text(6);
    v.expected_service_ms = r.f64(7);
    v.drained = r.i64(8) != 0;
    for (const auto& d : *deps) {
      if (d.text(0) == v.model && d.text(1) == v.name) v.targets.push_back(d.text(2));
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<RegistrySnapshot> SqlStore::load_registry() {
  std::lock_guard lk(mu_);
  SqlTxn txn(*db_);  // one transaction: the counter and the tables agree
  HIR_RETURN_IF_ERROR(txn.status());
  RegistrySnapshot snap;
  auto ver = db_->query("SELECT version FROM registry_meta WHERE id = 1", {});
  if (!ver.ok()) return ver.status();
  snap.version = ver->empty() ? 0 : ver->front().i64(0);
  auto models = db_->query("SELECT name, signature FROM models ORDER BY name", {});
  if (!models.ok()) return models.status();
  for (const auto& r : *models) snap.models.push_back({r.text(0), r.text(1)});
  auto targets = read_targets("", {});
  if (!targets.ok()) return targets.status();
  snap.targets = std::move(targets).value();
  auto variants = read_variants("", {});
  if (!variants.ok()) return variants.status();
  snap.variants = std::move(variants).value();
  HIR_RETURN_IF_ERROR(txn.commit());
  return snap;
}

Status SqlStore::insert_model(const ModelRecord& m) {
  HIR_RETURN_IF_ERROR(validate(m));
  auto e = exists("SELECT 1 FROM models WHERE name = $1", {m.name});
  if (!e.ok()) return e.status();
  if (*e) return already("model", m.name);
  return status_of(db_->exec("INSERT INTO models (name, signature) VALUES ($1, $2)",
                             {m.name, m.signature}));
}

Status SqlStore::insert_target(const TargetRecord& t) {
  HIR_RETURN_IF_ERROR(validate(t));
  auto e = exists("SELECT 1 FROM targets WHERE name = $1", {t.name});
  if (!e.ok()) return e.status();
  if (*e) return already("target", t.name);
  return status_of(db_->exec(std::string("INSERT INTO targets (") + kTargetCols +
                                 ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                             target_params(t)));
}

Status SqlStore::check_variant_refs(const VariantRecord& v) {
  HIR_RETURN_IF_ERROR(validate(v));
  auto m = exists("SELECT 1 FROM models WHERE name = $1", {v.model});
  if (!m.ok()) return m.status();
  if (!*m) return not_found("model", v.model);
  for (const auto& t : v.targets) {
    auto e = exists("SELECT 1 FROM targets WHERE name = $1", {t});
    if (!e.ok()) return e.status();
    if (!*e) return InvalidArgument("variant '" + v.model + "/" + v.name + "' names unknown target '" + t + "'");
  }
  return Status::Ok();
}

Status SqlStore::write_deployments(const VariantRecord& v) {
  HIR_RETURN_IF_ERROR(status_of(
      db_->exec("DELETE FROM deployments WHERE model = $1 AND variant = $2", {v.model, v.name})));
  for (size_t i = 0; i < v.targets.size(); ++i) {
    HIR_RETURN_IF_ERROR(status_of(db_->exec(
        "INSERT INTO deployments (model, variant, target, position) VALUES ($1, $2, $3, $4)",
        {v.model, v.name, v.targets[i], static_cast<int64_t>(i)})));
  }
  return Status::Ok();
}

Status SqlStore::insert_variant(const VariantRecord& in) {
  HIR_RETURN_IF_ERROR(check_variant_refs(in));
  auto e = exists("SELECT 1 FROM variants WHERE model = $1 AND name = $2", {in.model, in.name});
  if (!e.ok()) return e.status();
  if (*e) return already("variant", in.model + "/" + in.name);
  VariantRecord v = in;
  if (v.position < 0) {
    auto rows = db_->query("SELECT COALESCE(MAX(position) + 1, 0) FROM variants WHERE model = $1",
                           {v.model});
    if (!rows.ok()) return rows.status();
    v.position = static_cast<int>(rows->at(0).i64(0));
  }
  HIR_RETURN_IF_ERROR(status_of(db_->exec(
      std::string("INSERT INTO variants (") + kVariantCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {v.model, v.name, int64_t{v.position}, v.accuracy, encode_bands(v.accuracy_by_band),
       v.size_bytes, v.hw_class, v.expected_service_ms, int64_t{v.drained}})));
  return write_deployments(v);
}

Result<bool> SqlStore::seed_if_empty(const std::vector<ModelRecord>& models,
                                     const std::vector<TargetRecord>& targets,
                                     const std::vector<VariantRecord>& variants) {
  std::lock_guard lk(mu_);
  // Exclusive: replicas starting together on one empty database seed it once.
  SqlTxn txn(*db_, /*exclusive=*/true);
  HIR_RETURN_IF_ERROR(txn.status());
  auto m = exists("SELECT 1 FROM models", {});
  if (!m.ok()) return m.status();
  auto t = exists("SELECT 1 FROM targets", {});
  if (!t.ok()) return t.status();
  if (*m || *t) return false;  // rolls back an empty transaction; the counter stays put
  for (const auto& x : models) HIR_RETURN_IF_ERROR(insert_model(x));
  for (const auto& x : targets) HIR_RETURN_IF_ERROR(insert_target(x));
  for (const auto& x : variants) HIR_RETURN_IF_ERROR(insert_variant(x));
  HIR_RETURN_IF_ERROR(bump_version());
  HIR_RETURN_IF_ERROR(txn.commit());
  return true;
}

Result<std::vector<ModelRecord>> SqlStore::list_models() {
  std::lock_guard lk(mu_);
  auto rows = db_->query("SELECT name, signature FROM models ORDER BY name", {});
  if (!rows.ok()) return rows.status();
  std::vector<ModelRecord> out;
  for (const auto& r : *rows) out.push_back({r.text(0), r.text(1)});
  return out;
}

Status SqlStore::add_model(const ModelRecord& m) {
  return write_registry([&] { return insert_model(m); });
}

Status SqlStore::remove_model(std::string_view name) {
  std::string n(name);
  return write_registry([&]() -> Status {
    auto gone = db_->exec("DELETE FROM models WHERE name = $1", {n});
    if (!gone.ok()) return gone.status();
    if (*gone == 0) return not_found("model", n);
    HIR_RETURN_IF_ERROR(status_of(db_->exec("DELETE FROM deployments WHERE model = $1", {n})));
    return status_of(db_->exec("DELETE FROM variants WHERE model = $1", {n}));
  });
}

Result<std::vector<TargetRecord>> SqlStore::list_targets() {
  std::lock_guard lk(mu_);
  return read_targets("", {});
}

Result<TargetRecord> SqlStore::get_target(std::string_view name) {
  std::lock_guard lk(mu_);
  auto rows = read_targets("WHERE name = $1", {std::string(name)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return not_found("target", name);
  return rows->front();
}

Status SqlStore::add_target(const TargetRecord& t) {
  return write_registry([&] { return insert_target(t); });
}

Status SqlStore::update_target(const TargetRecord& t) {
  return modify_target(t.name, [&t](const TargetRecord&) -> Result<TargetRecord> { return t; }).status();
}

Result<TargetRecord> SqlStore::modify_target(std::string_view name, const TargetChange& change) {
  TargetRecord out;
  Status s = write_registry([&]() -> Status {
    // Read inside the writing transaction, behind the registry's lock: a drain or another PUT
    // from another replica cannot land between this read and the write and be undone by it.
    auto rows = read_targets("WHERE name = $1", {std::string(name)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return not_found("target", name);
    auto t = change(rows->front());
    if (!t.ok()) return t.status();
    if (t->name != name) return InvalidArgument("'name' cannot change: it is the target's key");
    HIR_RETURN_IF_ERROR(validate(*t));
    auto n = db_->exec(
        "UPDATE targets SET url = $2, hw_class = $3, cost_per_request_nano = $4, "
        "cost_per_second_nano = $5, failure_domain = $6, concurrency = $7, queue_capacity = $8, "
        "token_env = $9, timeout_ms = $10, expected_rtt_ms = $11, poll_load = $12, drained = $13 "
        "WHERE name = $1",
        target_params(*t));
    if (!n.ok()) return n.status();
    out = std::move(*t);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status SqlStore::set_target_drained(std::string_view name, bool drained) {
  std::string n(name);
  return write_registry([&]() -> Status {
    auto r = db_->exec("UPDATE targets SET drained = $1 WHERE name = $2", {int64_t{drained}, n});
    if (!r.ok()) return r.status();
    return *r == 0 ? not_found("target", n) : Status::Ok();
  });
}

Status SqlStore::remove_target(std::string_view name) {
  std::string n(name);
  return write_registry([&]() -> Status {
    auto r = db_->exec("DELETE FROM targets WHERE name = $1", {n});
    if (!r.ok()) return r.status();
    if (*r == 0) return not_found("target", n);
    return status_of(db_->exec("DELETE FROM deployments WHERE target = $1", {n}));
  });
}

Result<std::vector<VariantRecord>> SqlStore::list_variants(std::string_view model) {
  std::lock_guard lk(mu_);
  if (model.empty()) return read_variants("", {});
  return read_variants("WHERE model = $1", {std::string(model)});
}

Result<VariantRecord> SqlStore::get_variant(std::string_view model, std::string_view name) {
  std::lock_guard lk(mu_);
  auto rows = read_variants("WHERE model = $1 AND name = $2", {std::string(model), std::string(name)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return not_found("variant", std::string(model) + "/" + std::string(name));
  return rows->front();
}

Status SqlStore::add_variant(const VariantRecord& v) {
  return write_registry([&] { return insert_variant(v); });
}

Status SqlStore::update_variant(const VariantRecord& v) {
  return modify_variant(v.model, v.name, [&v](const VariantRecord&) -> Result<VariantRecord> { return v; }).status();
}

Result<VariantRecord> SqlStore::modify_variant(std::string_view model, std::string_view name,
                                              const VariantChange& change) {
  VariantRecord out;
  Status s = write_registry([&]() -> Status {
    auto rows = read_variants("WHERE model = $1 AND name = $2", {std::string(model), std::string(name)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return not_found("variant", std::string(model) + "/" + std::string(name));
    auto v = change(rows->front());
    if (!v.ok()) return v.status();
    if (v->name != name || v->model != model) return InvalidArgument("'name' cannot change: it is the variant's key");
    HIR_RETURN_IF_ERROR(validate(*v));
    HIR_RETURN_IF_ERROR(check_variant_refs(*v));
    auto n = db_->exec(
        "UPDATE variants SET position = CASE WHEN $3 < 0 THEN position ELSE $3 END, "
        "accuracy = $4, accuracy_by_band = $5, size_bytes = $6, hw_class = $7, "
        "expected_service_ms = $8, drained = $9 WHERE model = $1 AND name = $2",
        {v->model, v->name, int64_t{v->position}, v->accuracy, encode_bands(v->accuracy_by_band),
         v->size_bytes, v->hw_class, v->expected_service_ms, int64_t{v->drained}});
    if (!n.ok()) return n.status();
    HIR_RETURN_IF_ERROR(write_deployments(*v));
    auto back = read_variants("WHERE model = $1 AND name = $2", {v->model, v->name});
    if (!back.ok()) return back.status();
    out = back->empty() ? *v : back->front();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status SqlStore::set_variant_drained(std::string_view model, std::string_view name, bool drained) {
  std::string m(model), n(name);
  return write_registry([&]() -> Status {
    auto r = db_->exec("UPDATE variants SET drained = $1 WHERE model = $2 AND name = $3",
                       {int64_t{drained}, m, n});
    if (!r.ok()) return r.status();
    return *r == 0 ? not_found("variant", m + "/" + n) : Status::Ok();
  });
}

Status SqlStore::remove_variant(std::string_view model, std::string_view name) {
  std::string m(model), n(name);
  return write_registry([&]() -> Status {
    auto r = db_->exec("DELETE FROM variants WHERE model = $1 AND name = $2", {m, n});
    if (!r.ok()) return r.status();
    if (*r == 0) return not_found("variant", m + "/" + n);
    return status_of(db_->exec("DELETE FROM deployments WHERE model = $1 AND variant = $2", {m, n}));
  });
}

}  // namespace hir::store
