#include "sim/policies.h"

#include <optional>

#include "routing/cost.h"

namespace hir::sim {
namespace {

using routing::Plan;
using routing::RouteRequest;

class HirPolicy final : public SimPolicy {
 public:
  HirPolicy(const Fleet& f, const routing::PolicyConfig& cfg) : router_(f.registry, cfg) {}
  std::string_view name() const override { return "hir"; }
  Status plan(const RouteRequest& r, TimePoint now, Rng& rng, Plan& out) override {
    return router_.plan_into(r, now, rng, out);
  }
  void on_dispatch(routing::TargetIndex t, TimePoint now) override { router_.on_dispatch(t, now); }
  void on_result(routing::TargetIndex t, routing::VariantIndex v, routing::Outcome o, Duration latency,
                 std::optional<Duration> service, Duration queued, TimePoint now) override {
    if (service) router_.on_result(t, v, o, latency, *service, now, queued);
    else router_.on_result(t, v, o, latency, now);
  }
  void on_load_report(routing::TargetIndex t, const routing::LoadReport& r, bool ready, TimePoint now) override {
    router_.on_load_report(t, r, ready, now);
  }
  void on_cost(routing::TargetIndex t, Money c, TimePoint now) override { router_.on_cost(t, c, now); }

 private:
  routing::Router router_;
};

enum class Rule { kCheapest, kCloud, kRandom, kRoundRobin };

class Baseline final : public SimPolicy {
 public:
  Baseline(std::string_view name, Rule rule, const Fleet& f) : name_(name), rule_(rule), f_(f) {
    cursor_.resize(f.kinds_of_model.size(), 0);
  }
  std::string_view name() const override { return name_; }

  Status plan(const RouteRequest& r, TimePoint, Rng& rng, Plan& out) override {
    out.steps.clear();
    out.hedge_after.reset();
    out.best_effort = false;
    out.reason = name_;
    const auto& kinds = f_.kinds_of_model[r.model];
    auto meets = [&](uint32_t k) {
      return !r.min_accuracy || f_.registry.accuracy_at(f_.kinds[k].variant, r.complexity) >= *r.min_accuracy;
    };
    auto is_cloud = [&](uint32_t k) {
      return f_.registry.target(f_.group_devices[f_.kinds[k].group].front()).hw == routing::HardwareClass::kCloud;
    };
    std::optional<uint32_t> pick;
    if (rule_ == Rule::kCheapest || rule_ == Rule::kCloud) {
      std::optional<uint32_t> fallback;  // the most accurate, when none meets the need
      for (uint32_t k : kinds) {
        if (rule_ == Rule::kCloud && !is_cloud(k)) continue;
        if (!fallback || accuracy(k, r) > accuracy(*fallback, r)) fallback = k;
        if (meets(k) && (!pick || static_price(k) < static_price(*pick))) pick = k;
      }
      if (!pick) pick = fallback;
      if (!pick) return Status(Code::kFailedPrecondition, name_ + ": no target serves the model");
      const auto& devs = f_.group_devices[f_.kinds[*pick].group];
      add(out, devs[rng.below(static_cast<uint32_t>(devs.size()))], *pick);
      return {};
    }
    // random and round-robin: over deployments (a kind contributes one per device of its group).
    uint64_t total = 0;
    for (uint32_t k : kinds)
      if (meets(k)) total += f_.group_devices[f_.kinds[k].group].size();
    if (total == 0) return Status(Code::kFailedPrecondition, name_ + ": no variant meets min_accuracy");
    uint64_t i = rule_ == Rule::kRandom ? static_cast<uint64_t>(rng.uniform() * static_cast<double>(total))
                                        : cursor_[r.model]++ % total;
    for (uint32_t k : kinds) {
      if (!meets(k)) continue;
      const auto& devs = f_.group_devices[f_.kinds[k].group];
      if (i < devs.size()) {
        add(out, devs[i], k);
        return {};
      }
      i -= devs.size();
    }
    return Status(Code::kInternal, "unreachable");
  }

 private:
  double accuracy(uint32_t k, const RouteRequest& r) const {
    return f_.registry.accuracy_at(f_.kinds[k].variant, r.complexity);
  }
  // The configured price at the median service time: all a static baseline knows.
  Money static_price(uint32_t k) const {
    const auto& info = f_.registry.target(f_.group_devices[f_.kinds[k].group].front());
    return routing::predict_cost(info, from_ms(f_.kinds[k].service.median_ms));
  }
  void add(Plan& out, routing::TargetIndex t, uint32_t k) const {
    out.steps.push_back({t, f_.kinds[k].variant, Duration{0}, static_price(k)});
  }

  std::string name_;
  Rule rule_;
  const Fleet& f_;
  std::vector<uint64_t> cursor_;  // round-robin position per model
};

}  // namespace

std::unique_ptr<SimPolicy> make_hir(const Fleet& f, const routing::PolicyConfig& cfg) {
  return std::make_unique<HirPolicy>(f, cfg);
}

std::unique_ptr<SimPolicy> make_baseline(std::string_view name, const Fleet& f) {
  if (name == "always-cheapest") return std::make_unique<Baseline>(name, Rule::kCheapest, f);
  if (name == "always-cloud") return std::make_unique<Baseline>(name, Rule::kCloud, f);
  if (name == "random") return std::make_unique<Baseline>(name, Rule::kRandom, f);
  if (name == "round-robin") return std::make_unique<Baseline>(name, Rule::kRoundRobin, f);
  return nullptr;
}

}  // namespace hir::sim
