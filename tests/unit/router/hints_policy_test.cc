#include <gtest/gtest.h>

#include "router/hints.h"
#include "router/policy.h"

using namespace hir;
using namespace hir::router;

TEST(Hints, DefaultsWhenAbsent) {
  auto h = parse_hints({}, {});
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->latency_budget);
  EXPECT_EQ(h->priority, Priority::kStandard);
  EXPECT_DOUBLE_EQ(h->complexity, 0.5);
  EXPECT_FALSE(h->min_accuracy);
  EXPECT_FALSE(h->max_cost);
}

TEST(Hints, ParametersAndHeaders) {
  Parameters p{{"latency_budget_ms", int64_t{50}}, {"priority", std::string("critical")},
               {"min_accuracy", 0.9}};
  net::Headers h;
  h.set("x-hir-complexity", "0.25");
  h.set("x-hir-max-cost-usd", "0.001");
  h.set("x-hir-priority", "sheddable");  // the parameter wins
  auto r = parse_hints(p, h);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(to_ms(*r->latency_budget), 50);
  EXPECT_EQ(r->priority, Priority::kCritical);
  EXPECT_DOUBLE_EQ(r->complexity, 0.25);
  EXPECT_DOUBLE_EQ(*r->min_accuracy, 0.9);
  EXPECT_EQ(*r->max_cost, Money::from_usd(0.001));
}

TEST(Hints, BadValuesAreErrors) {
  EXPECT_FALSE(parse_hints({{"latency_budget_ms", std::string("soon")}}, {}).ok());
  EXPECT_FALSE(parse_hints({{"latency_budget_ms", int64_t{-5}}}, {}).ok());
  EXPECT_FALSE(parse_hints({{"priority", std::string("urgent")}}, {}).ok());
  EXPECT_FALSE(parse_hints({{"complexity", 1.5}}, {}).ok());
  EXPECT_FALSE(parse_hints({{"min_accuracy", true}}, {}).ok());
  net::Headers h;
  h.set("x-hir-latency-budget-ms", "12abc");
  auto r = parse_hints({}, h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(http_status(r.status().code()), 400);
  EXPECT_NE(r.status().message().find("x-hir-latency-budget-ms"), std::string::npos);
}

namespace {
Config two_tier() {
  Config c;
  c.targets.push_back({"e1", "http://127.0.0.1:1", HardwareClass::kEdgeCpu, Money::from_usd(0.00001), {}, "", {}});
  c.targets.push_back({"e2", "http://127.0.0.1:2", HardwareClass::kEdgeCpu, Money::from_usd(0.00001), {}, "", {}});
  c.targets.push_back({"c1", "http://127.0.0.1:3", HardwareClass::kCloud, Money::from_usd(0.0002), {}, "", {}});
  ModelConfig m;
  m.signature.name = "m";
  m.variants.push_back({"small", {"e1", "e2"}, 0.88, 0});
  m.variants.push_back({"large", {"c1"}, 0.91, 0});
  c.models.push_back(m);
  return c;
}
}  // namespace

TEST(OrderedPreference, FollowsConfiguredOrder) {
  Config c = two_tier();
  OrderedPreferencePolicy pol(c);
  auto p = pol.plan(c.models[0], {});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->attempts.size(), 3u);
  EXPECT_EQ(p->attempts[0].target->name, "e1");
  EXPECT_EQ(p->attempts[1].target->name, "e2");
  EXPECT_EQ(p->attempts[2].target->name, "c1");
  EXPECT_EQ(p->attempts[2].variant->name, "large");
  EXPECT_FALSE(p->reason.empty());
}

TEST(OrderedPreference, FiltersOnAccuracyAndCost) {
  Config c = two_tier();
  OrderedPreferencePolicy pol(c);
  RequestHints acc;
  acc.min_accuracy = 0.9;
  auto p = pol.plan(c.models[0], acc);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->attempts.size(), 1u);
  EXPECT_EQ(p->attempts[0].target->name, "c1");

  RequestHints cheap;
  cheap.max_cost = Money::from_usd(0.0001);
  p = pol.plan(c.models[0], cheap);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->attempts.size(), 2u);

  RequestHints impossible;
  impossible.min_accuracy = 0.99;
  auto e = pol.plan(c.models[0], impossible);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("min_accuracy"), std::string::npos);

  RequestHints both;
  both.min_accuracy = 0.9;
  both.max_cost = Money::from_usd(0.0001);
  EXPECT_FALSE(pol.plan(c.models[0], both).ok());
}
