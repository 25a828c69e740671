// A tiny fleet builder for the decision tests (policy, plan, router): one model with a fast
// low-accuracy variant and a slow high-accuracy one, and targets added by hand; and the Router
// test fixture over it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/money.h"
#include "core/rng.h"
#include "core/time.h"
#include "routing/registry.h"
#include "routing/router.h"

namespace hir::routing::testing {

using std::chrono::milliseconds;

struct Fleet {
  Registry reg;
  ModelIndex model = reg.add_model("classifier");
  VariantIndex tiny = reg.add_variant({"tiny", model, 0.80, {}, 1000, milliseconds(5)});
  VariantIndex large = reg.add_variant({"large", model, 0.95, {}, 100000, milliseconds(20)});

  // A target with the given price and RTT; it serves the variants deployed on it by the caller.
  TargetIndex target(std::string name, HardwareClass hw, double usd_per_request, double rtt_ms,
                     std::string domain = "", uint32_t concurrency = 1) {
    TargetInfo t;
    t.name = std::move(name);
    t.hw = hw;
    t.cost_per_request = Money::from_usd(usd_per_request);
    t.failure_domain = std::move(domain);
    t.expected_rtt = from_ms(rtt_ms);
    t.concurrency = concurrency;
    return reg.add_target(std::move(t));
  }
};

inline const TimePoint T0 = TimePoint{} + std::chrono::hours(1);

inline RouteRequest req(Priority p = Priority::kStandard) {
  RouteRequest r;
  r.priority = p;
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  Fleet f;
  Rng rng{42};
  PolicyConfig cfg;

  Result<Plan> plan(Router& r, const RouteRequest& q, TimePoint now = T0) {
    return r.plan(q, now, rng);
  }

  // The common two-tier fleet: a free edge box 1 ms away and a cloud at $0.0001 per request
  // 30 ms away, serving the given variants.
  struct EdgeCloud {
    TargetIndex edge, cloud;
  };
  EdgeCloud edge_and_cloud(VariantIndex on_edge, VariantIndex on_cloud) {
    EdgeCloud t{f.target("edge", HardwareClass::kEdgeCpu, 0, 1), f.target("cloud", HardwareClass::kCloud, 1e-4, 30)};
    f.reg.deploy(on_edge, t.edge);
    f.reg.deploy(on_cloud, t.cloud);
    return t;
  }
};

}  // namespace hir::routing::testing
