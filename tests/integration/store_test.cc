// hir serve with a store (docs/store.md): the registry edited through /v1/admin/ reaches routing
// without a restart, the admin API's access rules and errors, and a usage ledger that holds one
// row per response even when the router is stopped with SIGTERM under load. Real hir-worker and
// hir serve processes; SQLite in a temporary directory, and for the ledger also a real PostgreSQL.
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "bench/loadgen.h"
#include "harness.h"
#include "store/store.h"
// The store tests' PostgreSQL server (initdb + postgres on a free loopback port, stopped at exit).
// Compiled here because the integration binary does not link the unit tests' helpers.
#include "unit/store/test_db.cc"

using namespace hir;
using namespace hir::testing;

namespace {

constexpr const char* kKey = "it-admin-key-0123456789";

net::Headers admin(const std::string& key = kKey) {
  net::Headers h;
  h.set("Authorization", "Bearer " + key);
  h.set("Content-Type", "application/json");
  return h;
}

// A one-model configuration whose variant fmnist-small runs on each given target (all edge-cpu).
std::string write_config(const std::string& dir, const std::vector<std::pair<std::string, int>>& targets) {
  std::string path = dir + "/router.yaml";
  std::ofstream cfg(path);
  cfg << "targets:\n";
  for (const auto& [name, port] : targets)
    cfg << "  - {name: " << name << ", url: \"http://127.0.0.1:" << port
        << "\", class: edge-cpu, cost_per_request_usd: 0.0001, timeout_ms: 5000, concurrency: 2}\n";
  cfg << "models:\n  - name: fmnist\n    max_batch_size: 256\n"
         "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
         "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n    variants:\n"
         "      - {name: fmnist-small, accuracy: 0.9, targets: [";
  for (size_t i = 0; i < targets.size(); ++i) cfg << (i ? ", " : "") << targets[i].first;
  cfg << "]}\n";
  return path;
}

class StoreIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto items = bench::fmnist_test_requests(4, false);
    ASSERT_TRUE(items.ok()) << items.status().message();
    image_ = items->front().body;
  }
  Proc start_router(const std::string& config, const std::string& name = "router",
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"serve", "--config", config, "--database", db_url_, "--registry-poll-seconds", "0.2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return start(HIR_BIN, args, dir_, name);
  }
  // SIGTERM (the ledger is flushed at exit), then the ledger's rows as the database holds them.
  void stop_and_read_ledger(Proc& r, std::vector<store::UsageRecord>& out) {
    ::kill(r.child.pid(), SIGTERM);
    ASSERT_EQ(r.child.wait(std::chrono::seconds(60)), 0) << r.log;
    auto db = store::open_store(db_url_);
    ASSERT_TRUE(db.ok()) << db.status().message();
    auto rows = (*db)->query_usage({});
    ASSERT_TRUE(rows.ok());
    out = std::move(*rows);
  }
  net::HttpResponse infer(int port, const std::string& body) { return infer_at(port, "/v2/models/fmnist/infer", body); }
  net::HttpResponse infer_at(int port, const std::string& path, const std::string& body = "") {
    net::Headers h;
    h.set("Content-Type", "application/json");
    return call(port, "POST", path, body.empty() ? image_ : body, h);
  }
  std::string dir_ = temp_dir();
  std::string db_url_ = "sqlite://" + dir_ + "/hir.db";  // an absolute path: sqlite:///tmp/...
  std::string image_;
};

bool has(const std::string& body, const std::string& what) { return body.find(what) != std::string::npos; }

}  // namespace

TEST_F(StoreIT, RegistryChangesThroughTheAdminApiReachRoutingWithoutRestart) {
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  Proc w1 = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc w2 = start_worker(dir_, "w2", {"--models", "fmnist-small"});
  Proc r = start_router(write_config(dir_, {{"edge-1", w1.port}}));
  EXPECT_TRUE(has(call(r.port, "GET", "/v1/targets").body, "\"edge-1\""));
  EXPECT_FALSE(has(call(r.port, "GET", "/v1/targets").body, "\"edge-2\""));

  // The YAML seeded the registry: the admin API shows it.
  auto reg = call(r.port, "GET", "/v1/admin/registry", "", admin());
  ASSERT_EQ(reg.status, 200) << reg.body;
  EXPECT_TRUE(has(reg.body, "\"registry_version\":"));
  EXPECT_TRUE(has(reg.body, "\"fmnist-small\""));

  auto add = call(r.port, "POST", "/v1/admin/targets",
                  R"({"name":"edge-2","url":"http://127.0.0.1:)" + std::to_string(w2.port) +
                      R"(","class":"edge-cpu","cost_per_request_usd":0.00005,"concurrency":2})",
                  admin());
  ASSERT_EQ(add.status, 201) << add.body;
  EXPECT_TRUE(has(add.body, "\"registry_version\":"));
  auto put = call(r.port, "PUT", "/v1/admin/models/fmnist/variants/fmnist-small", R"({"targets":["edge-1","edge-2"]})",
                  admin());
  ASSERT_EQ(put.status, 200) << put.body;
  auto drain = call(r.port, "POST", "/v1/admin/targets/edge-1/drain", "", admin());
  ASSERT_EQ(drain.status, 200) << drain.body;

  EXPECT_TRUE(eventually([&] {
    auto body = call(r.port, "GET", "/v1/targets").body;
    return has(body, "\"edge-2\"") && !has(body, "\"edge-1\"");
  })) << call(r.port, "GET", "/v1/targets").body;
  auto explain = call(r.port, "POST", "/v1/route/explain", R"({"model":"fmnist"})");
  ASSERT_EQ(explain.status, 200);
  EXPECT_TRUE(has(explain.body, "\"target\":\"edge-2\"")) << explain.body;
  EXPECT_FALSE(has(explain.body, "\"target\":\"edge-1\"")) << explain.body;
  auto answer = infer(r.port, image_);
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_TRUE(has(answer.body, "\"hir_target\":\"edge-2\"")) << answer.body.substr(0, 300);

  // A change another replica makes in the shared database arrives through the version poll.
  {
    auto db = store::open_store(db_url_);
    ASSERT_TRUE(db.ok()) << db.status().message();
    ASSERT_TRUE((*db)->set_target_drained("edge-1", false).ok());
  }
  EXPECT_TRUE(eventually([&] { return has(call(r.port, "GET", "/v1/targets").body, "\"edge-1\""); }));
  auto ledger = call(r.port, "GET", "/v1/admin/ledger", "", admin());
  EXPECT_EQ(ledger.status, 200);
  EXPECT_TRUE(has(ledger.body, "\"accepted\":")) << ledger.body;
}

// A target's missing token is said once, not by every registry generation (one from the YAML,
// one from the database at start, one per change).
TEST_F(StoreIT, AMissingTokenIsLoggedOnceAcrossRegistryChanges) {
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  ::unsetenv("HIR_IT_ABSENT_TOKEN");
  Proc w1 = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  const std::string config = write_config(dir_, {{"edge-1", w1.port}});
  std::string yaml = file_text(config);
  yaml.replace(yaml.find("concurrency: 2}"), 15, "concurrency: 2, token_env: HIR_IT_ABSENT_TOKEN}");
  std::ofstream(config) << yaml;
  Proc r = start_router(config);
  for (const char* change : {"drain", "undrain"}) {
    ASSERT_EQ(call(r.port, "POST", std::string("/v1/admin/targets/edge-1/") + change, "", admin()).status, 200);
    const bool drained = std::string(change) == "drain";
    ASSERT_TRUE(eventually([&] { return has(call(r.port, "GET", "/v1/targets").body, "\"edge-1\"") != drained; }));
  }
  // Lines are written in order: once this one is in the file, every earlier one is too.
  ASSERT_EQ(infer_at(r.port, "/v2/models/nope/infer").status, 404);
  ASSERT_TRUE(log_gets(r.log, R"("event":"request_invalid")")) << file_text(r.log);
  const std::string log = file_text(r.log);
  size_t lines = 0;
  for (size_t at = log.find("target_token_missing"); at != std::string::npos; at = log.find("target_token_missing", at + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << log;
}

// The log line that comes to hold every needle, or "" (log lines reach the file from a writer
// thread, a little after the answer).
std::string log_line_with(const std::string& log, const std::vector<std::string>& needles) {
  std::string found;
  eventually([&] {
    std::istringstream text(file_text(log));
    for (std::string line; std::getline(text, line);) {
      if (std::all_of(needles.begin(), needles.end(), [&](const std::string& n) { return has(line, n); })) {
        found = line;
        return true;
      }
    }
    return false;
  });
  return found;
}

// Each accepted admin change logs admin_change with what it changed (field names and new values,
// a token by its variable's name) and the registry version it made; each refused one logs
// admin_refused with the reason. Neither logs the request's body.
TEST_F(StoreIT, AdminChangesAndRefusalsAreLoggedWithWhatChanged) {
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  Proc w1 = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc r = start_router(write_config(dir_, {{"edge-1", w1.port}}));
  auto add = call(r.port, "POST", "/v1/admin/targets",
                  R"({"name":"edge-2","url":"http://127.0.0.1:1","class":"cloud","token_env":"HIR_EDGE2_TOKEN"})", admin());
  ASSERT_EQ(add.status, 201) << add.body;
  std::string line = log_line_with(r.log, {R"("event":"admin_change")", R"("action":"create","class":"target","model":"","name":"edge-2")"});
  EXPECT_TRUE(has(line, R"("fields":"name,url,class,)")) << line;
  EXPECT_TRUE(has(line, R"(\"token_env\":\"HIR_EDGE2_TOKEN\")")) << line;
  EXPECT_TRUE(has(line, R"("registry_version":)") && !has(line, R"("registry_version":-1)")) << line;

  auto put = call(r.port, "PUT", "/v1/admin/targets/edge-2", R"({"concurrency":4,"url":"http://127.0.0.1:1"})", admin());
  ASSERT_EQ(put.status, 200) << put.body;
  line = log_line_with(r.log, {R"("action":"update","class":"target","model":"","name":"edge-2")"});
  // The url was sent but did not change: only the concurrency is named.
  EXPECT_TRUE(has(line, R"("fields":"concurrency","values":"{\"concurrency\":4}","registry_version":)")) << line;

  auto variant = call(r.port, "PUT", "/v1/admin/models/fmnist/variants/fmnist-small", R"({"accuracy":0.95})", admin());
  ASSERT_EQ(variant.status, 200) << variant.body;
  line = log_line_with(r.log, {R"("action":"update","class":"variant","model":"fmnist","name":"fmnist-small")"});
  EXPECT_TRUE(has(line, R"("fields":"accuracy","values":"{\"accuracy\":0.95}")")) << line;

  ASSERT_EQ(call(r.port, "POST", "/v1/admin/targets/edge-2/drain", "", admin()).status, 200);
  line = log_line_with(r.log, {R"("action":"update","class":"target","model":"","name":"edge-2","fields":"drained")"});
  EXPECT_TRUE(has(line, R"(\"drained\":true)")) << line;
  ASSERT_EQ(call(r.port, "DELETE", "/v1/admin/targets/edge-2", "", admin()).status, 200);
  EXPECT_NE(log_line_with(r.log, {R"("action":"delete","class":"target","model":"","name":"edge-2")"}), "");

  // Refusals: a body the API rejects, a wrong key, a record that is not there.
  auto bad = call(r.port, "POST", "/v1/admin/targets", R"({"name":"x","url":"http://body-marker:1","class":"quantum"})",
                  admin());
  ASSERT_EQ(bad.status, 400) << bad.body;
  line = log_line_with(r.log, {R"("event":"admin_refused")", R"("method":"POST","path":"/v1/admin/targets","status":400)"});
  EXPECT_TRUE(has(line, R"("reason":"'class' must be one of)")) << line;
  EXPECT_EQ(call(r.port, "DELETE", "/v1/admin/targets/edge-1", "", admin("wrong")).status, 401);
  EXPECT_NE(log_line_with(r.log, {R"("event":"admin_refused")", R"("method":"DELETE","path":"/v1/admin/targets/edge-1","status":401)"}), "");
  EXPECT_EQ(call(r.port, "DELETE", "/v1/admin/targets/nope", "", admin()).status, 404);
  EXPECT_NE(log_line_with(r.log, {R"("event":"admin_refused")", R"("path":"/v1/admin/targets/nope","status":404)"}), "");
  const std::string text = file_text(r.log);
  EXPECT_FALSE(has(text, "body-marker")) << text.substr(0, 3000);  // no request body
  EXPECT_FALSE(has(text, kKey));
}

TEST_F(StoreIT, AdminApiIsOffWithoutAKeyAndChecksKeysAndBodies) {
  Proc w1 = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  std::string config = write_config(dir_, {{"edge-1", w1.port}});
  {
    Proc off = start_router(config, "router-off");  // HIR_ADMIN_KEY unset
    auto r = call(off.port, "GET", "/v1/admin/targets", "", admin());
    EXPECT_EQ(r.status, 403);
    EXPECT_TRUE(has(r.body, "HIR_ADMIN_KEY")) << r.body;
  }
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  Proc r = start_router(config);
  EXPECT_EQ(call(r.port, "GET", "/v1/admin/targets").status, 401);
  EXPECT_EQ(call(r.port, "GET", "/v1/admin/targets", "", admin("wrong")).status, 401);
  EXPECT_EQ(call(r.port, "GET", "/v1/admin/targets", "", admin(std::string(kKey) + "x")).status, 401);
  auto list = call(r.port, "GET", "/v1/admin/targets", "", admin());
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(has(list.body, "\"edge-1\""));

  auto bad_type = call(r.port, "POST", "/v1/admin/targets",
                       R"({"name":"x","url":"http://127.0.0.1:1","concurrency":"many"})", admin());
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_TRUE(has(bad_type.body, "concurrency")) << bad_type.body;
  auto bad_class = call(r.port, "POST", "/v1/admin/targets",
                        R"({"name":"x","url":"http://127.0.0.1:1","class":"quantum"})", admin());
  EXPECT_EQ(bad_class.status, 400);
  EXPECT_TRUE(has(bad_class.body, "'class'")) << bad_class.body;
  auto missing = call(r.port, "POST", "/v1/admin/targets", R"({"name":"x"})", admin());
  EXPECT_EQ(missing.status, 400);
  EXPECT_TRUE(has(missing.body, "'url'")) << missing.body;
  auto unknown = call(r.port, "POST", "/v1/admin/targets", R"({"name":"x","url":"http://a:1","colour":"red"})", admin());
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(has(unknown.body, "'colour'")) << unknown.body;
  EXPECT_EQ(call(r.port, "POST", "/v1/admin/targets", "{not json", admin()).status, 400);
  auto twice = call(r.port, "PUT", "/v1/admin/targets/edge-1", R"({"drained":true,"drained":false})", admin());
  EXPECT_EQ(twice.status, 400);  // neither value taken: the target is not drained (below)
  EXPECT_TRUE(has(twice.body, "duplicate field 'drained'")) << twice.body;
  auto accuracy = call(r.port, "PUT", "/v1/admin/models/fmnist/variants/fmnist-small", R"({"accuracy":1.5})", admin());
  EXPECT_EQ(accuracy.status, 400);
  EXPECT_TRUE(has(accuracy.body, "'accuracy'")) << accuracy.body;

  auto classless = call(r.port, "POST", "/v1/admin/targets", R"({"name":"x","url":"http://127.0.0.1:1"})", admin());
  EXPECT_EQ(classless.status, 400);  // as in the configuration file: no silent edge-cpu
  EXPECT_TRUE(has(classless.body, "'class'")) << classless.body;
  auto dup = call(r.port, "POST", "/v1/admin/targets", R"({"name":"edge-1","url":"http://127.0.0.1:1","class":"cloud"})", admin());
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(call(r.port, "GET", "/v1/admin/targets/nope", "", admin()).status, 404);
  // Path segments are percent-decoded, as the v2 paths are.
  EXPECT_EQ(call(r.port, "GET", "/v1/admin/targets/edge%2D1", "", admin()).status, 200);
  EXPECT_EQ(call(r.port, "GET", "/v1/admin/targets/edge%2F1", "", admin()).status, 404);
  EXPECT_EQ(call(r.port, "POST", "/v1/admin/targets", R"({"name":"site/a","url":"http://127.0.0.1:1"})", admin()).status, 400);
  auto patch = call(r.port, "PATCH", "/v1/admin/targets/edge-1", "{}", admin());
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(patch.headers.get("Allow"), "GET, PUT, DELETE");
  EXPECT_EQ(call(r.port, "PUT", "/v1/admin/targets", "{}", admin()).headers.get("Allow"), "GET, POST");
  EXPECT_EQ(call(r.port, "POST", "/metrics").headers.get("Allow"), "GET");
  EXPECT_EQ(call(r.port, "POST", "/v1/admin/targets/nope/drain", "", admin()).status, 404);
  EXPECT_EQ(call(r.port, "DELETE", "/v1/admin/models/fmnist/variants/nope", "", admin()).status, 404);
  // The failures changed nothing: the one target still routes.
  EXPECT_EQ(infer(r.port, image_).status, 200);
}

class StoreLedgerIT : public StoreIT, public ::testing::WithParamInterface<const char*> {};

TEST_P(StoreLedgerIT, HoldsEveryResponseAfterSigtermUnderLoadAndReportCountsIt) {
  if (std::string(GetParam()) == "postgres") {
    std::string skip;
    db_url_ = store::testing::fresh_database_url("postgres", &skip);
    if (db_url_.empty() && !skip.empty()) GTEST_SKIP() << skip;
    ASSERT_FALSE(db_url_.empty()) << "could not create a PostgreSQL database";
  }
  // A WAN-like delay keeps requests in flight when the signal comes.
  Proc w1 = start_worker(dir_, "w1", {"--models", "fmnist-small", "--concurrency", "4", "--emulate-rtt-ms", "20"});
  Proc r = start_router(write_config(dir_, {{"edge-1", w1.port}}));

  std::atomic<int> responses{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> signalled{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        // Every status counts: good requests, malformed ones (400) and an unknown model (404).
        std::string body = (t == 4 && i % 2 == 1) ? std::string("{\"inputs\":") : image_;
        std::string path = t == 5 ? "/v2/models/nope/infer" : "/v2/models/fmnist/infer";
        net::Headers h;
        h.set("Content-Type", "application/json");
        h.set("x-hir-tenant", "tenant-" + std::to_string(t));
        auto res = call(r.port, "POST", path, body, h, std::chrono::seconds(30));
        if (res.status != 0) responses.fetch_add(1);
        else if (signalled || stop) break;  // the router has stopped listening
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return responses.load() >= 60; }));
  signalled = true;
  ::kill(r.child.pid(), SIGTERM);
  int code = r.child.wait(std::chrono::seconds(60));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(code, 0) << "log: " << r.log;

  auto db = store::open_store(db_url_);
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto count = (*db)->count_usage();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, responses.load()) << "router log: " << r.log;
  auto rows = (*db)->query_usage({});
  ASSERT_TRUE(rows.ok());
  int ok = 0, not_found = 0, bad = 0;
  for (const auto& row : *rows) {
    ok += row.outcome == "ok";
    not_found += row.outcome == "not_found";
    bad += row.outcome == "invalid_argument";
    if (row.outcome == "ok") {
      EXPECT_EQ(row.target, "edge-1");
      EXPECT_EQ(row.hw_class, "edge-cpu");
      EXPECT_EQ(row.cost.nano(), 100000);  // cost_per_request_usd: 0.0001
      // The worker's Server-Timing `infer`: the model's time, well inside the 20-ms round trip.
      EXPECT_GT(row.service_ms, 0);
      EXPECT_LT(row.service_ms, row.latency_ms);
    } else {
      EXPECT_EQ(row.service_ms, -1);
    }
    EXPECT_EQ(row.tenant.rfind("tenant-", 0), 0u);
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(not_found, 0);
  EXPECT_GT(bad, 0);

  // hir report reads the same ledger.
  std::string cmd = std::string(HIR_BIN) + " report --database " + db_url_ + " --format json";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  auto at = out.find("\"requests\":");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_EQ(std::stoll(out.substr(at + 11)), *count) << out;
  // A model the registry does not hold gets an empty report and a word on stderr.
  p = popen((std::string(HIR_BIN) + " report --database " + db_url_ + " -m fmnsit 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  out.clear();
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("no request for model 'fmnsit', which the registry does not hold (it holds: fmnist)"),
            std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Store, StoreLedgerIT, ::testing::ValuesIn(store::testing::kBackends),
                         store::testing::backend_name);

// The ledger's service time on the path that decodes a target's answer (a cached model's answer
// is decoded to be stored) as on the splice path above; a fresh cache hit, which no target
// served, has none.
TEST_F(StoreIT, DecodedAndCachedAnswersRecordTheirServiceTime) {
  Proc w = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  const std::string config = write_config(dir_, {{"edge-1", w.port}});
  {
    std::ofstream cfg(config, std::ios::app);
    cfg << "cache:\n  ttl_ms: 600000\n  models:\n    - {name: fmnist, deterministic: true, modes: [fresh_hit]}\n";
  }
  Proc r = start_router(config);
  ASSERT_EQ(infer(r.port, image_).status, 200);  // a miss: the worker answers, decoded, stored
  auto hit = infer(r.port, image_);
  ASSERT_EQ(hit.status, 200);
  EXPECT_TRUE(has(hit.body, R"("hir_cache":"hit")")) << hit.body.substr(0, 300);
  std::vector<store::UsageRecord> rows;
  ASSERT_NO_FATAL_FAILURE(stop_and_read_ledger(r, rows));
  ASSERT_EQ(rows.size(), 2u);
  // Rows come by time, then id: two requests within a millisecond may come either way.
  const bool hit_first = rows.at(0).cache == store::CacheUse::kHit;
  const auto& miss = rows.at(hit_first ? 1 : 0);
  const auto& cached = rows.at(hit_first ? 0 : 1);
  EXPECT_EQ(miss.cache, store::CacheUse::kNone);
  EXPECT_EQ(miss.target, "edge-1");
  EXPECT_GT(miss.service_ms, 0);
  EXPECT_LE(miss.service_ms, miss.latency_ms);
  EXPECT_EQ(cached.cache, store::CacheUse::kHit);
  EXPECT_EQ(cached.service_ms, -1);
}

// A database that hangs — here another process's lock held on the SQLite file — must stop neither
// inference nor health checks nor a SIGTERM: the registry poll, the admin API and the ledger
// wait on it off the I/O thread. Before, the poll (every 0.2 s here) waited on the I/O thread,
// and every request timed out while the lock was held.
TEST_F(StoreIT, ADatabaseThatHangsStopsNeitherInferenceNorShutdown) {
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  Proc w = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc r = start_router(write_config(dir_, {{"edge-1", w.port}}), "router", {"--drain-seconds", "1"});
  ASSERT_EQ(infer(r.port, image_).status, 200);

  sqlite3* locker = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/hir.db").c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // polls now wait on the lock
  int ok = 0;
  for (int i = 0; i < 20; ++i) ok += infer(r.port, image_).status == 200;
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(call(r.port, "GET", "/v2/health/ready").status, 200);
  // An admin write waits on the lock, off the I/O thread: health checks go on meanwhile.
  auto admin_call = std::async(std::launch::async, [&] {
    return call(r.port, "POST", "/v1/admin/targets/edge-1/drain", "", admin(), std::chrono::seconds(30));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(call(r.port, "GET", "/v2/health/live").status, 200);
  // Calls without the key are refused on the I/O thread: they never queue behind the database,
  // where a flood of them would take every place from an operator's call.
  std::vector<std::future<int>> strangers;
  for (int i = 0; i < 100; ++i)
    strangers.push_back(std::async(std::launch::async, [&] {
      return call(r.port, "GET", "/v1/admin/registry", "", admin("wrong-key"), std::chrono::seconds(30)).status;
    }));
  int refused = 0;
  for (auto& f : strangers) refused += f.get() == 401;
  EXPECT_EQ(refused, 100);
  EXPECT_EQ(admin_call.get().status, 503);  // the lock outlasted its wait
  // SIGTERM drains and exits though the ledger's last batch cannot be written yet.
  EXPECT_EQ(r.child.stop(std::chrono::seconds(60)), 0);
  EXPECT_TRUE(log_gets(r.log, R"("event":"stopped")")) << file_text(r.log);
  sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(locker);
}

// The SQLite file moved away (or deleted) under a running router: SQLite keeps the file open and
// would go on writing rows nobody could read. Writes are refused instead: an admin call is
// answered 503 saying so, inference goes on, the ledger keeps its rows, and they land once the
// file is back under its name.
TEST_F(StoreIT, ADatabaseFileMovedAwayIsNotWrittenAndItsRowsLandWhenItIsBack) {
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  Proc w = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc r = start_router(write_config(dir_, {{"edge-1", w.port}}));
  ASSERT_EQ(infer(r.port, image_).status, 200);
  auto ledger = [&] { return call(r.port, "GET", "/v1/admin/ledger", "", admin()).body; };
  ASSERT_TRUE(eventually([&] { return has(ledger(), "\"written\":1,"); })) << ledger();

  const std::string file = dir_ + "/hir.db";
  std::filesystem::rename(file, file + ".aside");
  auto drain = call(r.port, "POST", "/v1/admin/targets/edge-1/drain", "", admin());
  EXPECT_EQ(drain.status, 503) << drain.body;
  EXPECT_TRUE(has(drain.body, "deleted or moved")) << drain.body;
  int ok = 0;
  for (int i = 0; i < 3; ++i) ok += infer(r.port, image_).status == 200;
  EXPECT_EQ(ok, 3);
  EXPECT_TRUE(eventually([&] { return !has(ledger(), "\"write_errors\":0,"); })) << ledger();
  EXPECT_TRUE(has(ledger(), "\"written\":1,")) << ledger();

  std::filesystem::rename(file + ".aside", file);
  EXPECT_TRUE(eventually([&] { return has(ledger(), "\"written\":4,"); })) << ledger();
  std::vector<store::UsageRecord> rows;
  ASSERT_NO_FATAL_FAILURE(stop_and_read_ledger(r, rows));
  EXPECT_EQ(rows.size(), 4u);
}

// An admin call that hangs while it runs, not only while it waits its turn, is answered 503
// after the admin wait (10 s): here another PostgreSQL session holds registry_meta in SHARE mode,
// which lets the registry poll read it but blocks the version bump every registry write starts
// with, for as long as the lock is held. Inference goes on meanwhile.
TEST_F(StoreIT, AnAdminCallHungInTheDatabaseIsAnsweredAfterItsWait) {
  std::string skip;
  db_url_ = store::testing::fresh_database_url("postgres", &skip);
  if (db_url_.empty()) GTEST_SKIP() << skip;
  ScopedEnv key("HIR_ADMIN_KEY", kKey);
  Proc w = start_worker(dir_, "w1", {"--models", "fmnist-small"});
  Proc r = start_router(write_config(dir_, {{"edge-1", w.port}}), "router", {"--drain-seconds", "1"});
  ASSERT_EQ(infer(r.port, image_).status, 200);
  ASSERT_EQ(call(r.port, "GET", "/v1/admin/targets", "", admin()).status, 200);  // the registry is there

  PGconn* locker = PQconnectdb(db_url_.c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK) << PQerrorMessage(locker);
  auto exec_ok = [locker](const char* sql) {
    PGresult* res = PQexec(locker, sql);
    const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok;
  };
  ASSERT_TRUE(exec_ok("BEGIN"));
  ASSERT_TRUE(exec_ok("LOCK TABLE registry_meta IN SHARE MODE"));
  auto hung = std::async(std::launch::async, [&] {
    return call(r.port, "POST", "/v1/admin/targets/edge-1/drain", "", admin(), std::chrono::seconds(40));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(infer(r.port, image_).status, 200);  // the I/O thread never waits on the database
  // Answered by the router's wait, not cut off by the client's own 40 s.
  const net::HttpResponse answer = hung.get();
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_TRUE(has(answer.body, "did not answer within 10 s")) << answer.body;
  EXPECT_TRUE(exec_ok("ROLLBACK"));
  PQfinish(locker);
  // The call ran on once the lock went: the drain took effect, late, as after any timeout.
  bool drained = false;
  for (int i = 0; i < 100 && !drained; ++i) {
    drained = has(call(r.port, "GET", "/v1/admin/targets", "", admin()).body, R"("drained":true)");
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(drained);
  EXPECT_EQ(r.child.stop(std::chrono::seconds(60)), 0);
}

// The ledger's fallbacks are the steps a request took after its first: a request whose only
// attempt failed took none (it was recorded as one, so every failure counted as a fallback), and
// one whose two attempts failed took one.
TEST_F(StoreIT, AFailedRequestCountsOnlyTheFallbacksItTook) {
  for (int targets : {1, 2}) {
    SCOPED_TRACE(targets);
    std::vector<std::pair<std::string, int>> down = {{"down-1", 1}};  // nothing listens on port 1
    if (targets == 2) down.emplace_back("down-2", 2);
    db_url_ = "sqlite://" + dir_ + "/fb" + std::to_string(targets) + ".db";
    Proc r = start_router(write_config(dir_, down), "router" + std::to_string(targets));
    EXPECT_GE(infer(r.port, image_).status, 500);
    std::vector<store::UsageRecord> rows;
    ASSERT_NO_FATAL_FAILURE(stop_and_read_ledger(r, rows));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows.at(0).fallbacks, static_cast<uint32_t>(targets - 1));
  }
}

// An unknown version of a known model is counted and logged as an unknown model is; a GET on
// .../infer is no inference request and has no ledger row.
TEST_F(StoreIT, AnUnknownVersionIsCountedAndAGetOnInferIsNotRecorded) {
  Proc r = start_router(write_config(dir_, {{"down-1", 1}}));
  auto v = infer_at(r.port, "/v2/models/fmnist/versions/7/infer");
  EXPECT_EQ(v.status, 404) << v.body;
  EXPECT_EQ(call(r.port, "GET", "/v2/models/fmnist/infer").status, 405);
  const std::string page = call(r.port, "GET", "/metrics").body;
  EXPECT_NE(page.find("hir_unknown_model_total 1"), std::string::npos) << page;
  EXPECT_TRUE(eventually([&] { return log_gets(r.log, R"("error":"unknown model version")"); }));
  std::vector<store::UsageRecord> rows;
  ASSERT_NO_FATAL_FAILURE(stop_and_read_ledger(r, rows));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].outcome, "not_found");
}
