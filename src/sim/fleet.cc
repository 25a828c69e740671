#include "sim/fleet.h"

#include <algorithm>

#include "core/rng.h"

namespace hir::sim {

int Fleet::kind_of(routing::TargetIndex t, routing::VariantIndex v) const {
  for (uint32_t k : devices[t].kinds)
    if (kinds[k].variant == v) return static_cast<int>(k);
  return -1;
}

namespace {

int find_group(const Scenario& s, const std::string& name) {
  for (size_t i = 0; i < s.groups.size(); ++i)
    if (s.groups[i].name == name) return static_cast<int>(i);
  return -1;
}

}  // namespace

Result<Fleet> build_fleet(const Scenario& s, uint64_t slow_seed) {
  Fleet f;
  // Models and variants, remembering each variant's index by "model/variant".
  // The registry's expected service per variant (the router's prior until it has measured or
  // been told better): the slowest configured p95 among the groups serving it, so that an
  // unmeasured target is not assumed fast.
  auto prior_ms = [&](const std::string& model, const std::string& variant) {
    double worst = 1;
    for (const auto& g : s.groups)
      for (const auto& sv : g.serves)
        if (sv.variant == variant && (sv.model.empty() || sv.model == model))
          worst = std::max(worst, sv.service.p95_ms());
    return worst;
  };
  std::vector<std::vector<routing::VariantIndex>> vidx(s.models.size());
  for (size_t m = 0; m < s.models.size(); ++m) {
    auto mi = f.registry.add_model(s.models[m].name);
    for (const auto& v : s.models[m].variants)
      vidx[m].push_back(f.registry.add_variant({v.name, mi, v.accuracy, v.accuracy_by_band, v.size_bytes,
                                                from_ms(prior_ms(s.models[m].name, v.name))}));
  }
  f.kinds_of_model.resize(s.models.size());
  auto resolve = [&](const ServeSpec& sv, const std::string& where) -> Result<routing::VariantIndex> {
    for (size_t m = 0; m < s.models.size(); ++m) {
      if (!sv.model.empty() && s.models[m].name != sv.model) continue;
      for (size_t j = 0; j < s.models[m].variants.size(); ++j)
        if (s.models[m].variants[j].name == sv.variant) return vidx[m][j];
    }
    return InvalidArgument(where + ": serves unknown variant '" + sv.variant + "'");
  };

  // Which devices are slow is decided once per scenario seed, the same for every policy.
  Rng slow_rng(slow_seed);
  f.group_devices.resize(s.groups.size());
  for (size_t g = 0; g < s.groups.size(); ++g) {
    const auto& gs = s.groups[g];
    const std::string where = "targets." + gs.name;
    std::vector<uint32_t> group_kinds;
    for (const auto& sv : gs.serves) {
      auto v = resolve(sv, where);
      if (!v.ok()) return v.status();
      // The registry's prior is the configured median: what an operator would write down.
      auto kind = static_cast<uint32_t>(f.kinds.size());
      f.kinds.push_back({static_cast<uint32_t>(g), *v, sv.service});
      f.kinds_of_model[f.registry.variant(*v).model].push_back(kind);
      group_kinds.push_back(kind);
    }
    auto first_site = static_cast<uint32_t>(f.site_names.size());
    for (int i = 0; i < gs.sites; ++i) {
      f.site_names.push_back(gs.sites == 1 ? gs.name : gs.name + "/site-" + std::to_string(i));
      f.site_group.push_back(static_cast<uint32_t>(g));
    }
    double slowdown = 1, slow_fraction = 0;
    for (const auto& sl : s.faults.slow)
      if (sl.group == gs.name) slow_fraction = sl.fraction, slowdown = sl.slowdown;
    for (int i = 0; i < gs.count; ++i) {
      Device d;
      d.group = static_cast<uint32_t>(g);
      d.site = first_site + static_cast<uint32_t>(i % gs.sites);
      d.slowdown = slow_rng.uniform() < slow_fraction ? slowdown : 1.0;
      d.kinds = group_kinds;
      // Priors: the median service and RTT, as configured for the group.
      routing::TargetInfo t{gs.count == 1 ? gs.name : gs.name + "-" + std::to_string(i), gs.hw,
                            gs.cost_per_request, gs.cost_per_second, f.site_names[d.site],
                            from_ms(gs.rtt.median_ms), gs.concurrency};
      auto ti = f.registry.add_target(std::move(t));
      for (uint32_t k : group_kinds) f.registry.deploy(f.kinds[k].variant, ti);
      f.group_devices[g].push_back(ti);
      f.devices.push_back(std::move(d));
    }
  }
  // Each reference names where it is, as the parser's errors do: "faults.outages[1]: ...".
  auto at = [](const char* list, size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; };
  for (size_t i = 0; i < s.faults.churn.size(); ++i)
    if (find_group(s, s.faults.churn[i].group) < 0)
      return InvalidArgument(at("faults.churn", i) + ": unknown group '" + s.faults.churn[i].group + "'");
  for (const auto& [list, name] : {std::pair{&s.faults.brownouts, "faults.brownouts"}, std::pair{&s.faults.outages, "faults.outages"}})
    for (size_t i = 0; i < list->size(); ++i)
      if (find_group(s, (*list)[i].where) < 0)
        return InvalidArgument(at(name, i) + ": unknown group '" + (*list)[i].where + "'");
  for (size_t i = 0; i < s.faults.slow.size(); ++i)
    if (find_group(s, s.faults.slow[i].group) < 0)
      return InvalidArgument(at("faults.slow_devices", i) + ": unknown group '" + s.faults.slow[i].group + "'");
  for (size_t i = 0; i < s.faults.partitions.size(); ++i) {
    const auto& p = s.faults.partitions[i];
    bool found = false;
    for (const auto& n : f.site_names) found = found || n == p.where;
    if (!found) return InvalidArgument(at("faults.partitions", i) + ": unknown site '" + p.where + "'");
  }
  for (const auto& [name, w] : s.workload.models) {
    const auto* m = f.registry.find_model(name);
    if (!m) return InvalidArgument("workload.models: unknown model '" + name + "'");
    // Its requests could only fail, and would leave every policy's accuracy blind to them.
    if (w > 0 && f.kinds_of_model[static_cast<size_t>(m - &f.registry.model(0))].empty())
      return InvalidArgument("workload.models: no target group serves model '" + name +
                             "' (list one of its variants in a group's 'serves')");
  }
  return f;
}

routing::PolicyConfig policy_config(const RouterSpec& r) {
  routing::PolicyConfig p;
  p.default_budget = from_ms(r.default_budget_ms);
  p.edge_preference = r.edge_preference;
  if (r.cloud_spend_cap_usd_per_s > 0) p.cloud_spend_cap_per_s = Money::from_usd(r.cloud_spend_cap_usd_per_s);
  p.max_fallbacks = r.max_fallbacks;
  p.hedge_when_p95_over = r.hedge_when_p95_over;
  p.sample_groups_over = r.sample_groups_over;
  return p;
}

}  // namespace hir::sim
