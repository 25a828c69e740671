#include "sim/sim.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <limits>

#include "sim/engine.h"
#include "sim/fleet.h"
#include "sim/policies.h"

namespace hir::sim {

Result<Report> simulate(const Scenario& s, uint64_t seed, uint64_t max_requests,
                        const std::function<void(size_t, double)>& progress) {
  // Every request's outcome is kept until the figures are computed (~0.5 KB each): a scenario
  // past this would run out of memory hours in, not fail now.
  const double requests = max_requests ? static_cast<double>(max_requests) : s.workload.expected_requests(s.duration_s);
  if (requests > static_cast<double>(kMaxSimRequests))
    return InvalidArgument(fmt::format(
        "the scenario would simulate about {:.3g} requests (rate × duration_s), more than the {} that fit in "
        "memory: shorten duration_s, lower the rate, or give --requests",
        requests, kMaxSimRequests));
  auto fleet = build_fleet(s, stream_seed(seed, kSlowStream));
  if (!fleet.ok()) return fleet.status();
  auto cfg = policy_config(s.router);
  if (auto st = routing::validate(cfg); !st.ok()) return InvalidArgument("router: " + st.message());
  Report rep{s.name, seed, {}};
  std::vector<std::unique_ptr<SimPolicy>> policies;
  policies.push_back(make_hir(*fleet, cfg));
  for (auto name : kBaselines) policies.push_back(make_baseline(name, *fleet));
  for (size_t i = 0; i < policies.size(); ++i) {
    RunOptions ro{seed, max_requests, {}};
    if (progress) ro.progress = [&, i](double done) { progress(i, done); };
    auto result = run_policy(s, *fleet, *policies[i], ro);
    rep.runs.push_back(compute_figures(std::string(policies[i]->name()), *fleet, result));
  }
  // Cost against cloud-only: the always-cloud baseline is exactly "the same workload sent to the
  // cloud", priced per attempt like every other run.
  Money cloud;
  for (const auto& x : rep.runs)
    if (x.policy == "always-cloud") cloud = x.total_cost;
  for (auto& x : rep.runs)
    x.cost_vs_cloud = cloud.nano() > 0 ? static_cast<double>(x.total_cost.nano()) / static_cast<double>(cloud.nano())
                                       : std::numeric_limits<double>::quiet_NaN();
  return rep;
}

namespace {

// A one-line bar on stderr, redrawn in place: "[hir 3/5] ######....  62%".
void draw_progress(size_t run, size_t runs, double done) {
  constexpr int kWidth = 30;
  int filled = static_cast<int>(done * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\rsimulating policy %zu/%zu [%s] %3d%%", run + 1, runs, bar.c_str(),
               static_cast<int>(done * 100));
  std::fflush(stderr);
}

}  // namespace

int run_sim(const SimOptions& o) {
  auto s = load_scenario(o.scenario_path);
  if (!s.ok()) {
    std::fprintf(stderr, "hir sim: %s\n", s.status().message().c_str());
    return 2;
  }
  // A file that cannot be written is said before the run, not after it.
  std::ofstream json_out;
  if (!o.json_path.empty()) {
    json_out.open(o.json_path);
    if (!json_out) {
      std::fprintf(stderr, "hir sim: cannot write %s\n", o.json_path.c_str());
      return 2;
    }
  }
  uint64_t seed = o.seed.value_or(s->seed);
  const size_t runs = 1 + std::size(kBaselines);
  std::function<void(size_t, double)> progress;
  if (o.progress) progress = [runs](size_t i, double done) { draw_progress(i, runs, done); };
  auto rep = simulate(*s, seed, o.max_requests, progress);
  if (o.progress) std::fprintf(stderr, "\n");
  if (!rep.ok()) {
    std::fprintf(stderr, "hir sim: %s: %s\n", o.scenario_path.c_str(), rep.status().message().c_str());
    return 2;
  }
  std::fputs(format_text(*rep).c_str(), stdout);
  if (!o.json_path.empty()) {
    json_out << format_json(*rep);
    json_out.flush();
    if (!json_out) {
      std::fprintf(stderr, "hir sim: cannot write %s\n", o.json_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace hir::sim
