// Decision time of the routing core: Router::plan_into over a realistic fleet of 10 to 10,000
// targets (issue 3, item 4; goal < 1 us per decision at 100 targets, < 10 us at 10,000).
//
// The fleet: one model with three variants (tiny on MCUs, small on edge boxes, large on edge GPUs
// and the cloud); most targets are edge devices in groups of equal price, spread over sites of
// ten, plus a few cloud targets. Every target has reported its load and returned results before
// timing starts, so state is warm and varied (different queue depths, utilizations, service
// times, a few targets not ready). The request mix varies priority, complexity, accuracy need and
// budget. The simulated clock advances 50-450 us per decision (about 4,000 decisions per
// simulated second) so estimates age and PolicyConfig::estimate_reuse cannot serve everything
// from its cache; a tenth of the fleet re-reports its load every 100 simulated ms (outside the
// timing), as staggered 1-s polls would.
//
// Benchmarks (argument = target count):
//   BM_Plan/N         plan_into only, estimate_reuse at its default (1 ms)
//   BM_PlanNoReuse/N  the same with estimate_reuse = 0 (every decision recomputes every estimate)
//   BM_PlanFeedback/N plan_into + on_dispatch + on_result for the primary: the router's whole
//                     per-request work on its routing strand, default estimate_reuse
// HIR_BENCH_ITERATIONS=n fixes the number of decisions (for callgrind: two builds then decide the
// same request sequence); the names gain "/iterations:n".
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/money.h"
#include "core/rng.h"
#include "core/time.h"
#include "routing/plan.h"
#include "routing/policy.h"
#include "routing/registry.h"
#include "routing/router.h"
#include "routing/target_state.h"

namespace {

using namespace std::chrono_literals;
using hir::Duration;
using hir::Money;
using hir::Rng;
using hir::TimePoint;
namespace r = hir::routing;

struct Fleet {
  r::Registry reg;
  r::VariantIndex tiny = 0, small = 0, large = 0;
};

// n targets: a few cloud targets (1 at 10, 2 at 100, 4 from 1,000), the rest edge devices —
// 60% MCUs (tiny), 30% edge CPUs (tiny + small), 10% edge GPUs (small + large) — in price groups
// of 50 devices sharing a price and a site of 10 per failure domain.
void build(Fleet& f, int n) {
  auto m = f.reg.add_model("fmnist");
  f.tiny = f.reg.add_variant({"tiny", m, 0.84, {0.90, 0.85, 0.77}, 60'000, 8ms});
  f.small = f.reg.add_variant({"small", m, 0.89, {0.93, 0.90, 0.84}, 400'000, 5ms});
  f.large = f.reg.add_variant({"large", m, 0.92, {0.95, 0.92, 0.89}, 9'000'000, 8ms});
  const int clouds = n <= 10 ? 1 : n <= 100 ? 2 : 4;
  const int edge = n - clouds;
  for (int i = 0; i < edge; ++i) {
    const double share = static_cast<double>(i) / edge;
    const int price_group = i / 50;
    r::TargetInfo t;
    t.name = "dev-" + std::to_string(i);
    t.failure_domain = "site-" + std::to_string(i / 10);
    if (share < 0.6) {
      t.hw = r::HardwareClass::kMcu;
      t.cost_per_request = Money::from_nano(100 + 10 * (price_group % 3));
      t.expected_rtt = 4ms;
      t.concurrency = 1;
      t.queue_capacity = 2;
    } else if (share < 0.9) {
      t.hw = r::HardwareClass::kEdgeCpu;
      t.cost_per_request = Money::from_nano(1000 + 100 * (price_group % 2));
      t.expected_rtt = 2ms;
      t.concurrency = 4;
      t.queue_capacity = 16;
    } else {
      t.hw = r::HardwareClass::kEdgeGpu;
      t.cost_per_request = Money::from_nano(4000);
      t.expected_rtt = 2ms;
      t.concurrency = 4;
      t.queue_capacity = 32;
    }
    auto ti = f.reg.add_target(t);
    if (t.hw == r::HardwareClass::kMcu) {
      f.reg.deploy(f.tiny, ti);
    } else if (t.hw == r::HardwareClass::kEdgeCpu) {
      f.reg.deploy(f.tiny, ti);
      f.reg.deploy(f.small, ti);
    } else {
      f.reg.deploy(f.small, ti);
      f.reg.deploy(f.large, ti);
    }
  }
  for (int i = 0; i < clouds; ++i) {
    r::TargetInfo t;
    t.name = "cloud-" + std::to_string(i);
    t.failure_domain = "region-" + std::to_string(i);
    t.hw = r::HardwareClass::kCloud;
    t.cost_per_request = Money::from_usd(0.0001);
    t.cost_per_second = Money::from_usd(0.002);
    t.expected_rtt = 30ms;
    t.concurrency = 100'000;
    auto ti = f.reg.add_target(t);
    f.reg.deploy(f.tiny, ti);
    f.reg.deploy(f.small, ti);
    f.reg.deploy(f.large, ti);
  }
}

Duration service_of(const r::Registry& reg, r::TargetIndex t, r::VariantIndex v, Rng& rng) {
  const auto base = reg.variant(v).expected_service;
  const double hw = reg.target(t).hw == r::HardwareClass::kMcu ? 1.5 : 1.0;
  return std::chrono::duration_cast<Duration>(base * hw * (0.5 + rng.uniform()));
}

// A load report for t: a varied queue and busy fraction, 1% of targets not ready.
void report(r::Router& router, const r::Registry& reg, r::TargetIndex t, Rng& rng, TimePoint now) {
  const auto& info = reg.target(t);
  r::LoadReport lr;
  lr.concurrency = info.concurrency;
  lr.queue_capacity = info.queue_capacity;
  lr.busy_fraction = info.hw == r::HardwareClass::kCloud ? 0.05 : 0.1 + 0.6 * rng.uniform();
  lr.in_flight = std::min<uint32_t>(info.concurrency, rng.below(info.concurrency + 1));
  lr.queue_depth = info.queue_capacity ? rng.below(info.queue_capacity) : 0;  // never full
  const bool ready = rng.below(100) != 0;
  router.on_load_report(t, lr, ready, now);
}

// Warm state: reports from every target and a dozen results per deployment (a few failures).
void warm(r::Router& router, const r::Registry& reg, Rng& rng, TimePoint now) {
  const auto& m = reg.model(0);
  for (int round = 0; round < 12; ++round) {
    for (const auto& d : m.deployments) {
      const auto svc = service_of(reg, d.target, d.variant, rng);
      const auto rtt = reg.target(d.target).expected_rtt;
      const auto o = rng.below(200) == 0 ? r::Outcome::kError : r::Outcome::kOk;
      router.on_dispatch(d.target, now);
      router.on_result(d.target, d.variant, o, svc + rtt, svc, now);
    }
  }
  for (r::TargetIndex t = 0; t < reg.target_count(); ++t) {
    report(router, reg, t, rng, now);
    router.on_rtt_sample(t, reg.target(t).expected_rtt, now);
  }
}

std::vector<r::RouteRequest> requests(Rng& rng) {
  std::vector<r::RouteRequest> out(4096);
  for (auto& q : out) {
    const auto p = rng.below(10);
    q.priority = p == 0 ? r::Priority::kCritical : p < 8 ? r::Priority::kStandard : r::Priority::kSheddable;
    q.complexity = rng.uniform();
    const auto a = rng.below(10);
    if (a >= 5) q.min_accuracy = a < 8 ? 0.85 : 0.88;
    const auto b = rng.below(10);
    q.budget = b < 2 ? Duration(50ms) : b < 7 ? Duration(100ms) : Duration(250ms);
  }
  return out;
}

enum class Mode { kPlan, kFeedback };

void run(benchmark::State& state, Duration estimate_reuse, Mode mode, bool timed = false) {
  const int n = static_cast<int>(state.range(0));
  Fleet f;
  build(f, n);
  r::PolicyConfig cfg;
  cfg.default_budget = 100ms;
  cfg.max_fallbacks = 2;
  cfg.estimate_reuse = estimate_reuse;
  r::Router router(f.reg, cfg);
  Rng rng(42);  // fresh and seeded: every run decides the same
  TimePoint now{std::chrono::seconds(1000)};
  warm(router, f.reg, rng, now);
  const auto reqs = requests(rng);
  r::Plan plan;
  const auto targets = static_cast<r::TargetIndex>(f.reg.target_count());
  TimePoint next_reports = now + 100ms;
  r::TargetIndex report_cursor = 0;
  size_t i = 0;
  int64_t ok = 0, failed = 0;
  std::vector<double> times;
  if (timed) times.reserve(1 << 20);
  for (auto _ : state) {
    now += std::chrono::microseconds(50 + rng.below(401));
    if (now >= next_reports) {  // a tenth of the fleet re-reports every 100 ms, untimed
      state.PauseTiming();
      const r::TargetIndex batch = std::max<r::TargetIndex>(1, targets / 10);
      for (r::TargetIndex k = 0; k < batch; ++k) {
        report(router, f.reg, report_cursor, rng, now);
        report_cursor = (report_cursor + 1) % targets;
      }
      next_reports = now + 100ms;
      state.ResumeTiming();
    }
    const auto& q = reqs[i++ & (reqs.size() - 1)];
    const auto t0 = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    auto st = router.plan_into(q, now, rng, plan);
    if (timed) times.push_back(static_cast<double>((std::chrono::steady_clock::now() - t0).count()));
    benchmark::DoNotOptimize(plan.steps.data());
    if (st.ok()) {
      ++ok;
      if (mode == Mode::kFeedback) {
        const auto& s = plan.steps.front();
        router.on_dispatch(s.target, now);
        const auto svc = service_of(f.reg, s.target, s.variant, rng);
        router.on_result(s.target, s.variant, r::Outcome::kOk, svc + f.reg.target(s.target).expected_rtt,
                         svc, now);
      }
    } else {
      ++failed;
    }
  }
  if (timed && !times.empty()) {
    // Each decision timed on its own (steady_clock, whose two reads, ~20-40 ns, are included):
    // the distribution, not just the mean the benchmark reports.
    std::sort(times.begin(), times.end());
    auto at = [&](double q) { return times[static_cast<size_t>(q * static_cast<double>(times.size() - 1))]; };
    state.counters["p50_ns"] = at(0.5);
    state.counters["p90_ns"] = at(0.9);
    state.counters["p99_ns"] = at(0.99);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["targets"] = static_cast<double>(n);
  state.counters["planned_share"] =
      ok + failed ? static_cast<double>(ok) / static_cast<double>(ok + failed) : 0.0;
}

void BM_Plan(benchmark::State& state) { run(state, r::PolicyConfig{}.estimate_reuse, Mode::kPlan); }
void BM_PlanNoReuse(benchmark::State& state) { run(state, Duration::zero(), Mode::kPlan); }
// BM_Plan with each decision timed: its p50, p90 and p99 as counters.
void BM_PlanTimed(benchmark::State& state) {
  run(state, r::PolicyConfig{}.estimate_reuse, Mode::kPlan, true);
}
void BM_PlanFeedback(benchmark::State& state) {
  run(state, r::PolicyConfig{}.estimate_reuse, Mode::kFeedback);
}

// HIR_BENCH_ITERATIONS=n fixes the iteration count, so that two builds measured under callgrind
// decide exactly the same request sequence (the installed Google Benchmark 1.7 has no
// --benchmark_min_time=<n>x).
void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kNanosecond);
  if (const char* n = std::getenv("HIR_BENCH_ITERATIONS"); n && std::atoll(n) > 0)
    b->Iterations(std::atoll(n));
}

// Fleet shapes that stress the pruned scan: 10,000 MCUs of one variant, max_fallbacks 3, spread
// over range(0) failure domains (target i in domain i % domains) and range(1) price levels
// (price 100 + i % levels nano-USD); range(2) = 1: every MCU but one not ready. With 3 domains
// the fallback domain list cannot fill; with 4 domains and 20 levels each price group sits in
// one domain; with one ready the whole fleet must be looked at.
void BM_PlanFleetShape(benchmark::State& state) {
  const int n = 10'000, domains = static_cast<int>(state.range(0)),
            levels = static_cast<int>(state.range(1));
  const bool one_ready = state.range(2) != 0;
  r::Registry reg;
  const auto m = reg.add_model("m");
  const auto v = reg.add_variant({"v", m, 0.9, {}, 1000, 5ms});
  for (int i = 0; i < n; ++i) {
    r::TargetInfo t;
    t.name = "t" + std::to_string(i);
    t.hw = r::HardwareClass::kMcu;
    t.failure_domain = "site-" + std::to_string(i % domains);
    t.cost_per_request = Money::from_nano(100 + i % levels);
    t.concurrency = 1;
    t.queue_capacity = 4;
    t.expected_rtt = 3ms;
    reg.deploy(v, reg.add_target(t));
  }
  r::PolicyConfig cfg;
  cfg.max_fallbacks = 3;
  r::Router router(reg, cfg);
  Rng rng(1);
  TimePoint now{std::chrono::hours(1)};
  auto report_all = [&] {  // every simulated second, untimed: reports stay fresh
    for (r::TargetIndex t = 0; t < reg.target_count(); ++t) {
      r::LoadReport lr;
      lr.concurrency = 1;
      lr.queue_capacity = 4;
      lr.busy_fraction = 0.1;
      router.on_load_report(t, lr, !(one_ready && t != 7), now);
    }
  };
  report_all();
  TimePoint next_reports = now + 1s;
  r::RouteRequest q;
  q.budget = 100ms;
  r::Plan plan;
  int64_t ok = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds(200);
    if (now >= next_reports) {
      state.PauseTiming();
      report_all();
      next_reports = now + 1s;
      state.ResumeTiming();
    }
    ok += router.plan_into(q, now, rng, plan).ok();
    benchmark::DoNotOptimize(plan.steps.data());
  }
  state.counters["planned_share"] = static_cast<double>(ok) / static_cast<double>(state.iterations());
}

BENCHMARK(BM_Plan)->Apply(sizes);
BENCHMARK(BM_PlanNoReuse)->Apply(sizes);
BENCHMARK(BM_PlanTimed)->Apply(sizes);
BENCHMARK(BM_PlanFeedback)->Apply(sizes);
BENCHMARK(BM_PlanFleetShape)
    ->Args({4, 1, 0})
    ->Args({3, 1, 0})
    ->Args({3, 20, 0})
    ->Args({4, 20, 0})
    ->Args({3, 100, 0})
    ->Args({100, 1, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
