// The Store contract, run against SQLite and a real PostgreSQL: migrations, registry CRUD and
// its change counter, seeding, and the ledger's rows.
#include "store/store.h"

#include "store/sql_db.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "records_util.h"
#include "test_db.h"

namespace hir::store {
namespace {

using testing::make_target;
using testing::make_usage;
using testing::make_variant;

class StoreTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<Store> open(const std::string& url, const OpenOptions& o = {}) {
    auto s = open_store(url, o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  int64_t version(Store& s) {
    auto v = s.registry_version();
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? *v : -1;
  }
};

TEST_P(StoreTest, FreshDatabaseGetsEveryMigration) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto s = open(url);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->backend(), std::string(GetParam()));
  EXPECT_EQ(s->schema_version(), latest_schema_version());
  EXPECT_EQ(s->migrations_applied(), latest_schema_version());
  EXPECT_EQ(version(*s), 0);
}

TEST_P(StoreTest, ReopenAppliesNothingAndKeepsData) {
  HIR_FRESH_STORE_URL(url, GetParam());
  {
    auto s = open(url);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_target(make_target("edge-1", "edge-cpu")).ok());
  }
  auto again = open(url);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->migrations_applied(), 0);
  EXPECT_EQ(again->schema_version(), latest_schema_version());
  auto t = again->get_target("edge-1");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->hw_class, "edge-cpu");
}

TEST_P(StoreTest, OlderSchemaIsUpgradedInOrder) {
  HIR_FRESH_STORE_URL(url, GetParam());
  std::vector<Migration> first_only(builtin_migrations().begin(), builtin_migrations().begin() + 1);
  {
    OpenOptions o;
    o.migrations = &first_only;
    auto s = open(url, o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schema_version(), 1);
  }
  auto s = open(url);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->migrations_applied(), latest_schema_version() - 1);
  auto n = s->count_usage();  // the ledger table came with the later step
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(*n, 0);
}

TEST_P(StoreTest, NewerSchemaIsRefused) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto future = builtin_migrations();
  future.push_back({latest_schema_version() + 1, "a step from a newer hir",
                    "CREATE TABLE from_the_future (x INTEGER NOT NULL)"});
  {
    OpenOptions o;
    o.migrations = &future;
    auto s = open(url, o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schema_version(), latest_schema_version() + 1);
  }
  auto s = open_store(url);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
}

TEST_P(StoreTest, MisnumberedStepsAreABug) {
  HIR_FRESH_STORE_URL(url, GetParam());
  std::vector<Migration> gap = {{1, "one", "CREATE TABLE one (x INTEGER)"},
                                {3, "three", "CREATE TABLE three (x INTEGER)"}};
  OpenOptions o;
  o.migrations = &gap;
  auto s = open_store(url, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
}

TEST_P(StoreTest, TargetCrudBumpsTheCounterOnlyOnChange) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto s = open(url);
  ASSERT_TRUE(s);
  auto t = make_target("cloud-1", "cloud", 20000, 150000, 8);
  t.failure_domain = "region-a";
  t.token_env = "CLOUD_TOKEN";
  t.expected_rtt_ms = 40.5;
  ASSERT_TRUE(s->add_target(t).ok());
  EXPECT_EQ(version(*s), 1);
  EXPECT_EQ(s->add_target(t).code(), Code::kFailedPrecondition);
  auto bad = t;
  bad.name = "x";
  bad.hw_class = "quantum";
  EXPECT_EQ(s->add_target(bad).code(), Code::kInvalidArgument);
  EXPECT_EQ(version(*s), 1);

  auto got = s->get_target("cloud-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->cost_per_request.nano(), 20000);
  EXPECT_EQ(got->cost_per_second.nano(), 150000);
  EXPECT_EQ(got->concurrency, 8u);
  EXPECT_EQ(got->failure_domain, "region-a");
  EXPECT_EQ(got->token_env, "CLOUD_TOKEN");
  EXPECT_DOUBLE_EQ(got->expected_rtt_ms, 40.5);
  EXPECT_FALSE(got->drained);

  t.url = "https://cloud.example/v2";
  t.cost_per_request = Money::from_nano(25000);
  ASSERT_TRUE(s->update_target(t).ok());
  EXPECT_EQ(s->get_target("cloud-1")->url, "https://cloud.example/v2");
  EXPECT_EQ(s->get_target("cloud-1")->cost_per_request.nano(), 25000);
  ASSERT_TRUE(s->set_target_drained("cloud-1", true).ok());
  EXPECT_TRUE(s->get_target("cloud-1")->drained);
  EXPECT_EQ(version(*s), 3);

  auto ghost = make_target("ghost", "mcu");
  EXPECT_EQ(s->update_target(ghost).code(), Code::kNotFound);
  EXPECT_EQ(s->set_target_drained("ghost", true).code(), Code::kNotFound);
  EXPECT_EQ(s->remove_target("ghost").code(), Code::kNotFound);
  EXPECT_EQ(version(*s), 3);

  ASSERT_TRUE(s->remove_target("cloud-1").ok());
  EXPECT_EQ(s->get_target("cloud-1").status().code(), Code::kNotFound);
  EXPECT_TRUE(s->list_targets()->empty());
  EXPECT_EQ(version(*s), 4);
}

TEST_P(StoreTest, VariantCrudKeepsTargetsInOrder) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto s = open(url);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_model({"fmnist", "{\"inputs\":[]}"}).ok());
  for (auto* n : {"mcu-1", "edge-1", "cloud-1"}) {
    ASSERT_TRUE(s->add_target(make_target(n, n == std::string("cloud-1") ? "cloud" : "edge-cpu")).ok());
  }
  auto v = make_variant("fmnist", "small", {"edge-1", "mcu-1"}, 3.5);
  v.accuracy_by_band = {0.95, 0.8125, 0.1};
  v.size_bytes = 123456;
  v.hw_class = "mcu";
  ASSERT_TRUE(s->add_variant(v).ok());
  ASSERT_TRUE(s->add_variant(make_variant("fmnist", "large", {"cloud-1"}, 12)).ok());
  EXPECT_EQ(s->add_variant(v).code(), Code::kFailedPrecondition);
  EXPECT_EQ(s->add_variant(make_variant("nope", "x", {})).code(), Code::kNotFound);
  EXPECT_EQ(s->add_variant(make_variant("fmnist", "x", {"nowhere"})).code(), Code::kInvalidArgument);

  auto list = s->list_variants("fmnist");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "small");  // added first: position 0
  EXPECT_EQ((*list)[0].targets, (std::vector<std::string>{"edge-1", "mcu-1"}));
  EXPECT_EQ((*list)[0].accuracy_by_band, (std::vector<double>{0.95, 0.8125, 0.1}));
  EXPECT_EQ((*list)[0].size_bytes, 123456);
  EXPECT_EQ((*list)[0].hw_class, "mcu");
  EXPECT_DOUBLE_EQ((*list)[0].expected_service_ms, 3.5);
  EXPECT_EQ((*list)[1].name, "large");

  v.targets = {"mcu-1"};
  v.accuracy = 0.91;
  ASSERT_TRUE(s->update_variant(v).ok());
  auto got = s->get_variant("fmnist", "small");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->targets, std::vector<std::string>{"mcu-1"});
  EXPECT_DOUBLE_EQ(got->accuracy, 0.91);
  EXPECT_EQ(got->position, 0);
  ASSERT_TRUE(s->set_variant_drained("fmnist", "small", true).ok());
  EXPECT_TRUE(s->get_variant("fmnist", "small")->drained);

  // Removing a target takes it out of every variant that listed it.
  ASSERT_TRUE(s->remove_target("mcu-1").ok());
  EXPECT_TRUE(s->get_variant("fmnist", "small")->targets.empty());
  ASSERT_TRUE(s->remove_variant("fmnist", "small").ok());
  EXPECT_EQ(s->remove_variant("fmnist", "small").code(), Code::kNotFound);
  ASSERT_TRUE(s->remove_model("fmnist").ok());
  EXPECT_TRUE(s->list_variants("")->empty());
  EXPECT_TRUE(s->list_models()->empty());
}

// Two replicas: one drains a target while the other changes its price again and again (a PUT
// that does not mention `drained`). The drain must stand: each change reads what it changes in
// its own writing transaction. Before, the admin API read, then wrote every field, and undid a
// drain that landed in between (148 of 200 tries in a review).
TEST_P(StoreTest, AConcurrentChangeDoesNotUndoADrain) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto a = open(url);
  auto b = open(url);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->add_target(make_target("edge-1", "edge-cpu")).ok());
  std::atomic<bool> stop{false};
  std::thread pricer([&] {
    for (int64_t i = 1; !stop; ++i) {
      auto r = a->modify_target("edge-1", [i](const TargetRecord& cur) -> Result<TargetRecord> {
        TargetRecord t = cur;
        t.cost_per_request = Money::from_nano(i);
        return t;
      });
      if (!r.ok() && r.status().code() != Code::kUnavailable) ADD_FAILURE() << r.status().to_string();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(b->set_target_drained("edge-1", true).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  pricer.join();
  auto t = b->get_target("edge-1");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->drained);
  // A change may refuse, and may not rename.
  EXPECT_EQ(a->modify_target("edge-1", [](const TargetRecord&) -> Result<TargetRecord> { return InvalidArgument("no"); })
                .status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(a->modify_target("edge-1", [](const TargetRecord& cur) -> Result<TargetRecord> {
                 TargetRecord t = cur;
                 t.name = "other";
                 return t;
               }).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(a->modify_target("nope", [](const TargetRecord& cur) -> Result<TargetRecord> { return cur; }).status().code(),
            Code::kNotFound);
}

// hir report opens read-only: it reads what a router wrote, creates and migrates nothing, and a
// database it cannot read as it is gets a message saying what to do. (Before, it opened
// read-write and ran the migration, so a read-only role or file could not be reported on.)
TEST_P(StoreTest, AReadOnlyOpenReadsAndWritesNothing) {
  HIR_FRESH_STORE_URL(url, GetParam());
  {
    auto w = open(url);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->add_target(make_target("edge-1", "edge-cpu")).ok());
  }
  OpenOptions ro;
  ro.read_only = true;
  auto r = open_store(url, ro);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->list_targets()->size(), 1u);
  if (std::string(GetParam()) == "sqlite") {
    EXPECT_FALSE((*r)->add_target(make_target("edge-2", "edge-cpu")).ok()) << "opened read-only";
  }
  // A schema older than this build's is refused, with what to do, not migrated.
  std::vector<Migration> more = builtin_migrations();
  more.push_back({static_cast<int>(more.size()) + 1, "a later step", "CREATE TABLE later_step (x INTEGER)"});
  ro.migrations = &more;
  auto old = open_store(url, ro);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("run this hir serve on it once to migrate it"), std::string::npos)
      << old.status().message();
}

TEST_P(StoreTest, AnotherConnectionSeesTheCounterMove) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto writer = open(url);
  auto poller = open(url);  // a second replica
  ASSERT_TRUE(writer && poller);
  int64_t before = version(*poller);
  ASSERT_TRUE(writer->add_target(make_target("edge-9", "edge-gpu")).ok());
  EXPECT_GT(version(*poller), before);
  auto snap = poller->load_registry();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, version(*poller));
  ASSERT_EQ(snap->targets.size(), 1u);
  EXPECT_EQ(snap->targets[0].hw_class, "edge-gpu");
}

TEST_P(StoreTest, SeedOnlyFillsAnEmptyRegistry) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto s = open(url);
  ASSERT_TRUE(s);
  std::vector<ModelRecord> models = {{"fmnist", ""}};
  std::vector<TargetRecord> targets = {make_target("edge-1", "edge-cpu"),
                                       make_target("cloud-1", "cloud", 10)};
  std::vector<VariantRecord> variants = {make_variant("fmnist", "small", {"edge-1"}),
                                         make_variant("fmnist", "large", {"cloud-1", "edge-1"})};
  auto seeded = s->seed_if_empty(models, targets, variants);
  ASSERT_TRUE(seeded.ok()) << seeded.status().to_string();
  EXPECT_TRUE(*seeded);
  int64_t v = version(*s);
  EXPECT_EQ(v, 1);  // one change for the whole seed

  std::vector<TargetRecord> other = {make_target("other", "mcu")};
  auto again = s->seed_if_empty({{"other-model", ""}}, other, {});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(version(*s), v);
  auto snap = s->load_registry();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->models.size(), 1u);
  EXPECT_EQ(snap->targets.size(), 2u);
  ASSERT_EQ(snap->variants.size(), 2u);
  EXPECT_EQ(snap->variants[1].name, "large");
  EXPECT_EQ(snap->variants[1].targets, (std::vector<std::string>{"cloud-1", "edge-1"}));
}

TEST_P(StoreTest, FailedSeedWritesNothing) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto s = open(url);
  ASSERT_TRUE(s);
  auto seeded = s->seed_if_empty({{"fmnist", ""}}, {make_target("edge-1", "edge-cpu")},
                                 {make_variant("fmnist", "small", {"missing"})});
  EXPECT_FALSE(seeded.ok());
  auto snap = s->load_registry();
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->models.empty());
  EXPECT_TRUE(snap->targets.empty());
  EXPECT_EQ(snap->version, 0);
}

TEST_P(StoreTest, LedgerRowsRoundTripAndFilter) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto s = open(url);
  ASSERT_TRUE(s);
  std::vector<UsageRecord> rows;
  for (int i = 0; i < 150; ++i) {  // more than one multi-row INSERT
    auto u = make_usage(1'700'000'000'000 + i, "r" + std::to_string(i), "edge-1", "edge-cpu",
                        1.25 + i, 1000 + i, i % 10 == 0 ? "unavailable" : "ok", i % 3,
                        i % 7 == 0 ? CacheUse::kStale : CacheUse::kNone);
    if (i >= 100) u.model = "other";
    u.tenant = "key-\"quoted\", 'single'";  // bound, never spliced into SQL
    u.service_ms = i % 2 ? 0.5 + i : -1;    // reported by odd rows only
    rows.push_back(u);
  }
  ASSERT_TRUE(s->append_usage(rows, "").ok());
  EXPECT_EQ(*s->count_usage(), 150);
  UsageQuery q;
  q.since_ms = 1'700'000'000'010;
  q.model = "fmnist";
  auto got = s->query_usage(q);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 90u);
  const UsageRecord& first = got->front();
  EXPECT_EQ(first.request_id, "r10");
  EXPECT_EQ(first.tenant, rows[10].tenant);
  EXPECT_EQ(first.outcome, "unavailable");
  EXPECT_EQ(first.fallbacks, 1u);
  EXPECT_DOUBLE_EQ(first.latency_ms, 11.25);
  EXPECT_EQ(first.cost.nano(), 1010);
  EXPECT_EQ(first.hw_class, "edge-cpu");
  EXPECT_EQ(got->at(4).cache, CacheUse::kStale);  // r14
  EXPECT_DOUBLE_EQ(first.service_ms, -1);         // r10: not reported
  EXPECT_DOUBLE_EQ(got->at(1).service_ms, 11.5);  // r11
}

// Rows written before the ledger had service_ms read as "not known" once the database is
// migrated, and new rows carry it.
TEST_P(StoreTest, LedgerRowsFromBeforeServiceTimeReadAsUnknown) {
  HIR_FRESH_STORE_URL(url, GetParam());
  std::vector<Migration> before(builtin_migrations().begin(), builtin_migrations().begin() + 2);
  {
    OpenOptions o;
    o.migrations = &before;
    ASSERT_TRUE(open(url, o));
  }
  {
    // A row as the version-2 schema held it, written the way an older hir wrote it.
    auto u = parse_database_url(url);
    ASSERT_TRUE(u.ok());
    auto db = u->backend == "sqlite" ? open_sqlite_db(u->target) : open_pg_db(url);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    auto n = (*db)->exec(
        "INSERT INTO usage_ledger (time_ms, request_id, tenant, model, variant, target, hw_class, "
        "latency_ms, cost_nano, outcome, fallbacks, cache) VALUES "
        "(1700000000000, 'old', '', 'fmnist', 'tiny', 'mcu-1', 'mcu', 12.5, 100, 'ok', 0, 'none')",
        {});
    ASSERT_TRUE(n.ok()) << n.status().to_string();
  }
  auto s = open(url);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->migrations_applied(), latest_schema_version() - 2);
  auto fresh = make_usage(1'700'000'000'001, "new", "mcu-1", "mcu", 11.0, 100);
  fresh.service_ms = 9.75;
  ASSERT_TRUE(s->append_usage(std::vector<UsageRecord>{fresh}, "").ok());
  auto got = s->query_usage(UsageQuery{});
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->at(0).request_id, "old");
  EXPECT_DOUBLE_EQ(got->at(0).service_ms, -1);
  EXPECT_DOUBLE_EQ(got->at(0).latency_ms, 12.5);
  EXPECT_DOUBLE_EQ(got->at(1).service_ms, 9.75);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(testing::kBackends),
                         testing::backend_name);

TEST(DatabaseUrl, PicksTheBackendOrSaysWhatIsWrong) {
  EXPECT_EQ(parse_database_url("sqlite://hir.db")->target, "hir.db");
  EXPECT_EQ(parse_database_url("sqlite:///var/lib/hir/hir.db")->target, "/var/lib/hir/hir.db");
  EXPECT_EQ(parse_database_url("sqlite://:memory:")->backend, "sqlite");
  EXPECT_EQ(parse_database_url("postgres://u@db:5432/hir")->backend, "postgres");
  EXPECT_EQ(parse_database_url("postgresql://u@db/hir")->backend, "postgres");
  for (auto* bad : {"", "sqlite://", "mysql://x/y", "hir.db", "postgres://"}) {
    auto r = parse_database_url(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("sqlite://"), std::string::npos);
  }
  auto r = parse_database_url("mysql://admin:hunter2@db/x");
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos);
}

TEST(DatabaseUrl, RedactsPasswords) {
  EXPECT_EQ(redact_url("postgres://hir:secret@db:5432/hir"), "postgres://hir:***@db:5432/hir");
  EXPECT_EQ(redact_url("postgres://hir@db/hir"), "postgres://hir@db/hir");
  EXPECT_EQ(redact_url("sqlite://a:b/c@d"), "sqlite://a:b/c@d");
  // libpq's query parameters: password= (any case), sslpassword=.
  EXPECT_EQ(redact_url("postgres://hir@db/hir?password=S3cretPw&sslmode=disable"),
            "postgres://hir@db/hir?password=***&sslmode=disable");
  EXPECT_EQ(redact_url("postgresql://h/d?sslmode=require&SSLPASSWORD=k3y"), "postgresql://h/d?sslmode=require&SSLPASSWORD=***");
  EXPECT_EQ(redact_url("postgres://u:p%40ss@[::1/d"), "postgres://u:***@[::1/d");
}

// A driver's error may quote the whole URL or only the part it could not read: neither shows
// the password. Before, a bad %-escape in it was printed as libpq quoted it.
TEST(OpenStore, ErrorsNeverShowThePassword) {
  for (const char* url : {"postgres://hir@127.0.0.1:1/hir?password=S3cret%zzPw", "postgres://hir:S3cret%zzPw@127.0.0.1:1/hir",
                          "postgres://hir:S3cretPw@[::1:5432/hir", "postgres://hir@127.0.0.1:1/hir?connect_timeout=1&password=S3cretPw"}) {
    auto s = open_store(url);
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_EQ(s.status().message().find("S3cret"), std::string::npos) << s.status().message();
  }
  EXPECT_EQ(redact_secrets("bad token: \"S3cret%zzPw\"", "postgres://h/d?password=S3cret%zzPw"), "bad token: \"***\"");
}

TEST(OpenStore, InMemorySqliteAndUnreachableServer) {
  auto mem = open_store("sqlite://:memory:");
  ASSERT_TRUE(mem.ok()) << mem.status().to_string();
  EXPECT_EQ((*mem)->schema_version(), latest_schema_version());
  // Port 1 on loopback refuses at once: a clear error, not a hang or a crash.
  auto pg = open_store("postgres://hir:pw@127.0.0.1:1/hir?connect_timeout=2");
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), Code::kUnavailable);
  EXPECT_EQ(pg.status().message().find("pw@"), std::string::npos);
}

}  // namespace
}  // namespace hir::store
