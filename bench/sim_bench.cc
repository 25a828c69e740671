// Simulator throughput in simulated requests per second (issue 3, item 4; goal >= 1M/s), on
// scenarios/steady.yaml cut to its first `max_requests` requests (the argument) so that one
// iteration takes about a second on the 2-core development machine.
//
//   BM_SimHir/N       the discrete-event engine driving hir's Router alone (run_policy): the
//                     simulator's own speed, oracle, fault timeline and the post-run check of
//                     the "no idle cheaper slot" figure included
//   BM_SimulateAll/N  what `hir sim` does: hir and the four baselines on the same trace, figures
//                     computed; items = requests x 5 runs
//
// The scenario is found through $HIR_SCENARIO, else scenarios/steady.yaml relative to the working
// directory, its parent, or this source file's folder.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "sim/engine.h"
#include "sim/fleet.h"
#include "sim/policies.h"
#include "sim/scenario.h"
#include "sim/sim.h"

namespace {

namespace fs = std::filesystem;
using namespace hir::sim;

std::string scenario_path() {
  if (const char* env = std::getenv("HIR_SCENARIO"); env && *env) return env;
  const fs::path candidates[] = {
      "scenarios/steady.yaml",
      "../scenarios/steady.yaml",
      fs::path(__FILE__).parent_path().parent_path() / "scenarios" / "steady.yaml",
  };
  for (const auto& p : candidates) {
    std::error_code ec;
    if (fs::exists(p, ec)) return p.string();
  }
  return "scenarios/steady.yaml";
}

const Scenario* steady(benchmark::State& state) {
  static const std::optional<Scenario> s = [] {
    auto r = load_scenario(scenario_path());
    return r.ok() ? std::optional<Scenario>(std::move(*r)) : std::nullopt;
  }();
  if (!s) state.SkipWithError("cannot load scenarios/steady.yaml (set HIR_SCENARIO)");
  return s ? &*s : nullptr;
}

void BM_SimHir(benchmark::State& state) {
  const Scenario* s = steady(state);
  if (!s) return;
  const auto max_requests = static_cast<uint64_t>(state.range(0));
  auto fleet = build_fleet(*s, stream_seed(s->seed, kSlowStream));
  if (!fleet.ok()) {
    state.SkipWithError("build_fleet failed");
    return;
  }
  const auto cfg = policy_config(s->router);
  int64_t items = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    auto hir = make_hir(*fleet, cfg);
    auto result = run_policy(*s, *fleet, *hir, RunOptions{s->seed, max_requests, {}});
    items += static_cast<int64_t>(result.requests.size());
    events += result.events;
    benchmark::DoNotOptimize(result.total_cost);
  }
  state.SetItemsProcessed(items);
  state.counters["events_per_request"] =
      items ? static_cast<double>(events) / static_cast<double>(items) : 0.0;
}

void BM_SimulateAll(benchmark::State& state) {
  const Scenario* s = steady(state);
  if (!s) return;
  const auto max_requests = static_cast<uint64_t>(state.range(0));
  int64_t items = 0;
  for (auto _ : state) {
    auto rep = simulate(*s, s->seed, max_requests);
    if (!rep.ok()) {
      state.SkipWithError("simulate failed");
      return;
    }
    for (const auto& run : rep->runs) items += static_cast<int64_t>(run.requests);
    benchmark::DoNotOptimize(rep->runs.data());
  }
  state.SetItemsProcessed(items);
}

BENCHMARK(BM_SimHir)->Arg(240'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulateAll)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
