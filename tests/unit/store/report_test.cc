// The report's figures against a ledger whose every figure is worked out by hand below, first as
// pure functions, then after a round trip through each backend.
#include "store/report.h"

#include <gtest/gtest.h>

#include <ctime>

#include "records_util.h"
#include "store/ledger.h"
#include "store/store.h"
#include "test_db.h"

namespace hir::store {
namespace {

using testing::make_target;
using testing::make_usage;
using testing::make_variant;

constexpr int64_t T = 1'700'000'000'000;

// mcu-1 (1 slot, free), edge-1 (2 slots, 1000 n$ a request), edge-2 (drained: no capacity),
// cloud-1 (20000 n$ + 100000 n$/s), cloud-2 (10000 n$ + 500000 n$/s).
// fmnist-small (4 ms) runs on the edge, fmnist-large (10 ms) in the cloud:
// cloud-1 costs 20000 + 100000 × 10/1000 = 21000, cloud-2 10000 + 500000 × 10/1000 = 15000.
struct Fixture {
  std::vector<ModelRecord> models = {{"fmnist", ""}, {"other", ""}};
  std::vector<TargetRecord> targets = [] {
    auto edge2 = make_target("edge-2", "edge-gpu", 0, 0, 5);
    edge2.drained = true;
    return std::vector<TargetRecord>{make_target("mcu-1", "mcu", 0, 0, 1),
                                     make_target("edge-1", "edge-cpu", 1000, 0, 2), edge2,
                                     make_target("cloud-1", "cloud", 20000, 100000, 8),
                                     make_target("cloud-2", "cloud", 10000, 500000, 8)};
  }();
  std::vector<VariantRecord> variants = {
      make_variant("fmnist", "fmnist-small", {"mcu-1", "edge-1", "edge-2"}, 4),
      make_variant("fmnist", "fmnist-large", {"cloud-1", "cloud-2"}, 10),
      make_variant("other", "o1", {"edge-1"}, 2)};

  RegistrySnapshot registry() const {
    RegistrySnapshot r;
    r.models = models;
    r.targets = targets;
    r.variants = variants;
    return r;
  }

  std::vector<UsageRecord> ledger() const {
    auto large = [](UsageRecord u) {
      u.variant = "fmnist-large";
      return u;
    };
    auto other = make_usage(T + 900, "r10", "edge-1", "edge-cpu", 40, 1000);
    other.model = "other";
    other.variant = "o2";  // not in the registry: its latency counts as busy time
    return {
        make_usage(T + 0, "r1", "mcu-1", "mcu", 10, 0),
        make_usage(T + 100, "r2", "mcu-1", "mcu", 20, 0),
        make_usage(T + 200, "r3", "edge-1", "edge-cpu", 30, 1000, "ok", 1),
        make_usage(T + 300, "r4", "edge-1", "edge-cpu", 3, 1000),
        large(make_usage(T + 400, "r5", "cloud-2", "cloud", 50, 15000)),
        large(make_usage(T + 500, "r6", "cloud-1", "cloud", 60, 21000, "ok", 2)),
        make_usage(T + 600, "r7", "", "", 5, 0, "ok", 0, CacheUse::kHit),
        make_usage(T + 700, "r8", "", "", 200, 36000, "unavailable", 2),
        make_usage(T + 800, "r9", "", "", 100, 0, "ok", 1, CacheUse::kStale),
        other,
    };
  }
};

void expect_known_figures(const Report& r) {
  EXPECT_EQ(r.requests, 10u);
  EXPECT_EQ(r.ok, 9u);                      // all but r8
  EXPECT_DOUBLE_EQ(r.success_rate, 0.9);
  EXPECT_EQ(r.with_fallback, 4u);           // r3, r6, r8, r9
  EXPECT_DOUBLE_EQ(r.fallback_rate, 0.4);
  EXPECT_EQ(r.cache_hits, 1u);
  EXPECT_EQ(r.cache_stale, 1u);
  // Sorted latencies 3 5 10 20 30 40 50 60 100 200; nearest rank ceil(q × 10).
  EXPECT_DOUBLE_EQ(r.p50_ms, 30);
  EXPECT_DOUBLE_EQ(r.p95_ms, 200);
  EXPECT_DOUBLE_EQ(r.p99_ms, 200);
  EXPECT_EQ(r.cost_total.nano(), 75000);
  EXPECT_EQ(r.cost_per_inference.nano(), 8333);  // 75000 / 9 ok
  ASSERT_EQ(r.by_class.size(), 4u);
  EXPECT_EQ(r.by_class.at("mcu").requests, 2u);
  EXPECT_EQ(r.by_class.at("edge-cpu").requests, 3u);
  EXPECT_EQ(r.by_class.at("cloud").requests, 2u);
  EXPECT_EQ(r.by_class.at("none").requests, 3u);
  EXPECT_DOUBLE_EQ(r.by_class.at("none").share, 0.3);
  // Served ok by a target: r1-r6 and r10 (7); by the edge: r1-r4 and r10 (5).
  EXPECT_DOUBLE_EQ(r.edge_share, 5.0 / 7.0);
  // Busy: min(10,4) + min(20,4) + min(30,4) + min(3,4) + 40 (unknown variant) = 55 ms, over
  // 3 slots (mcu-1 1 + edge-1 2; edge-2 drained) × 940 ms (T to r10's end at T+900+40).
  EXPECT_DOUBLE_EQ(r.edge_busy_ms, 55);
  EXPECT_EQ(r.edge_slots, 3u);
  ASSERT_TRUE(r.edge_utilization.has_value());
  EXPECT_DOUBLE_EQ(*r.edge_utilization, 55.0 / (940.0 * 3));
  // Comparable: everything but the cache hit r7 and the unpriced r10 (model other): 8 requests,
  // actual 74000 n$, cloud-only 8 × 15000 = 120000 n$.
  EXPECT_EQ(r.comparable, 8u);
  EXPECT_EQ(r.unpriced, 1u);
  EXPECT_EQ(r.comparable_cost.nano(), 74000);
  EXPECT_EQ(r.cloud_only_cost.nano(), 120000);
  ASSERT_TRUE(r.cost_reduction.has_value());
  EXPECT_DOUBLE_EQ(*r.cost_reduction, 1.0 - 74000.0 / 120000.0);
  EXPECT_EQ(r.first_ms, T);
  EXPECT_EQ(r.last_ms, T + 900);
}

TEST(Report, CheapestCloudPriceUsesServiceTime) {
  auto prices = cheapest_cloud_price(Fixture().registry());
  ASSERT_EQ(prices.size(), 1u);  // "other" runs only on the edge
  EXPECT_EQ(prices.at("fmnist").nano(), 15000);
}

TEST(Report, FiguresMatchAHandComputedLedger) {
  Fixture f;
  expect_known_figures(compute_report(f.ledger(), f.registry()));
}

// A target's own service time, when the ledger has it, is the busy time (capped by the latency);
// the variant's expected one stands in only for rows without it.
TEST(Report, BusyTimeIsTheReportedServiceTimeWhereKnown) {
  Fixture f;
  auto reported = make_usage(T, "a", "mcu-1", "mcu", 10, 0);
  reported.service_ms = 2.5;  // below the variant's 4 ms
  auto over = make_usage(T + 10, "b", "edge-1", "edge-cpu", 3, 1000);
  over.service_ms = 7;  // above its own latency: the latency bounds it
  auto unknown = make_usage(T + 20, "c", "edge-1", "edge-cpu", 30, 1000);  // expected: 4 ms
  Report r = compute_report({reported, over, unknown}, f.registry());
  EXPECT_DOUBLE_EQ(r.edge_busy_ms, 2.5 + 3 + 4);
}

TEST(Report, EmptyLedgerHasNoUndefinedFigures) {
  Report r = compute_report({}, Fixture().registry(), T, "fmnist");
  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.success_rate, 0);
  EXPECT_FALSE(r.edge_utilization.has_value());
  EXPECT_FALSE(r.cost_reduction.has_value());
  for (auto f : {ReportFormat::kTable, ReportFormat::kJson, ReportFormat::kCsv}) {
    EXPECT_FALSE(render_report(r, f).empty());
  }
  const std::string json = render_report(r, ReportFormat::kJson);
  // Rates over no requests, percentiles of none, a price per no success: null, not 0.
  for (const char* part : {"\"cost_reduction\":null", "\"success_rate\":null", "\"fallback_rate\":null",
                           "\"latency_ms\":null", "\"cost_per_inference_usd\":null", "\"edge_share\":null"})
    EXPECT_NE(json.find(part), std::string::npos) << part << " in " << json;
  EXPECT_NE(render_report(r, ReportFormat::kCsv).find("\nsuccess_rate,\n"), std::string::npos);
  EXPECT_NE(render_report(r, ReportFormat::kTable).find("n/a  (no successful request)"), std::string::npos);
}

// Requests, none of them answered: the cost per inference is not defined (it was printed 0).
TEST(Report, NoSuccessMeansNoCostPerInference) {
  auto failed = make_usage(T, "x", "", "", 10, 0);
  failed.outcome = "unavailable";
  Report r = compute_report({failed}, Fixture().registry(), T, "fmnist");
  EXPECT_EQ(r.requests, 1u);
  const std::string json = render_report(r, ReportFormat::kJson);
  EXPECT_NE(json.find("\"cost_per_inference_usd\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"success_rate\":0"), std::string::npos) << json;  // defined: 0 of 1
}

TEST(Report, RenderingsCarryTheFigures) {
  Fixture f;
  Report r = compute_report(f.ledger(), f.registry(), T, "fmnist");
  std::string json = render_report(r, ReportFormat::kJson);
  EXPECT_EQ(json.front(), '{');
  for (const char* part : {"\"requests\":10", "\"ok\":9", "\"model\":\"fmnist\"",
                           "\"cost_total_usd\":0.000075000", "\"cloud_only_cost_usd\":0.000120000",
                           "\"cloud\":{\"requests\":2,\"share\":0.2}", "\"p95\":200"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << " in " << json;
  }
  std::string csv = render_report(r, ReportFormat::kCsv);
  EXPECT_EQ(csv.rfind("metric,value\n", 0), 0u);
  for (const char* line : {"\nrequests,10\n", "\nclass.mcu.requests,2\n", "\nedge_slots,3\n",
                           "\ncost_per_inference_usd,0.000008333\n"}) {
    EXPECT_NE(csv.find(line), std::string::npos) << line << " in " << csv;
  }
  std::string table = render_report(r, ReportFormat::kTable);
  for (const char* part : {"90.00 %", "40.00 %", "$0.000075000", "38.33 %", "edge-cpu"}) {
    EXPECT_NE(table.find(part), std::string::npos) << part << " in\n" << table;
  }
  EXPECT_FALSE(parse_report_format("xml").ok());
}

// The same figures after the ledger and registry went through the database: the report reads
// back exactly what the writer wrote.
class ReportStoreTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ReportStoreTest, FiguresSurviveTheDatabase) {
  HIR_FRESH_STORE_URL(url, GetParam());
  auto store = open_store(url);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  Fixture f;
  auto seeded = (*store)->seed_if_empty(f.models, f.targets, f.variants);
  ASSERT_TRUE(seeded.ok()) << seeded.status().to_string();
  {
    LedgerWriter writer(**store, LedgerOptions{});
    for (const auto& u : f.ledger()) ASSERT_TRUE(writer.submit(u));
    UsageRecord before = make_usage(T - 1, "too-early", "cloud-1", "cloud", 1, 1);
    ASSERT_TRUE(writer.submit(before));
    writer.flush_and_stop();
  }
  auto registry = (*store)->load_registry();
  ASSERT_TRUE(registry.ok());
  UsageQuery q;
  q.since_ms = T;
  auto rows = (*store)->query_usage(q);
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  expect_known_figures(compute_report(*rows, *registry, T));
  q.model = "other";
  auto other = (*store)->query_usage(q);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(compute_report(*other, *registry, T, "other").requests, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReportStoreTest, ::testing::ValuesIn(testing::kBackends),
                         testing::backend_name);

int64_t utc_ms(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(::timegm(&tm)) * 1000;
}

TEST(Since, DurationsCountBackFromNow) {
  const int64_t now = 5'000'000'000;
  EXPECT_EQ(*parse_since("1h", now), now - 3'600'000);
  EXPECT_EQ(*parse_since("30m", now), now - 1'800'000);
  EXPECT_EQ(*parse_since(" 90s ", now), now - 90'000);
  EXPECT_EQ(*parse_since("7d", now), now - 7 * 86'400'000LL);
  EXPECT_EQ(*parse_since("1h30m", now), now - 5'400'000);
  EXPECT_EQ(*parse_since("1.5h", now), now - 5'400'000);
  for (const char* bad : {"", "1x", "h", "yesterday", "-1h", "2026-13-01", "2026-11-26T25:00:00Z",
                          "2026-11-26T00:00:00Q", "infh", "nanh", "1e300h", "9999999999999d"}) {
    auto r = parse_since(bad, now);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(Since, TimestampsAreUtc) {
  int64_t midnight = utc_ms(2026, 11, 26, 0, 0, 0);
  EXPECT_EQ(*parse_since("2026-11-26T00:00:00Z", 0), midnight);
  EXPECT_EQ(*parse_since("2026-11-26", 0), midnight);
  EXPECT_EQ(*parse_since("2026-11-26T01:00:00+01:00", 0), midnight);
  EXPECT_EQ(*parse_since("2026-11-25T23:30-00:30", 0), midnight);
  EXPECT_EQ(*parse_since("2026-11-26T00:00:00.250Z", 0), midnight + 250);
  EXPECT_EQ(*parse_since("1969-12-31T23:59:59Z", 0), -1000);
  int64_t t = utc_ms(2024, 2, 29, 12, 34, 56) + 789;
  EXPECT_EQ(*parse_since(format_utc(t), 0), t);
  EXPECT_EQ(format_utc(t).substr(0, 10), "2024-02-29");
}

}  // namespace
}  // namespace hir::store
