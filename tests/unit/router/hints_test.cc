#include <gtest/gtest.h>

#include "router/hints.h"

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

// Header names are matched in any case, among others of every kind (the hint headers are
// looked up only when some name starts with "x-hir-").
TEST(Hints, HeaderHintsAreFoundInAnyCaseAmongOthers) {
  net::Headers h;
  h.add("Content-Type", "application/json");
  h.add("X-Hir", "not a hint");
  h.add("x-hirsute", "nor this");
  auto none = parse_hints({}, h);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->min_accuracy);
  h.add("X-HIR-Min-Accuracy", "0.75");
  h.add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  auto r = parse_hints({}, h);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(*r->min_accuracy, 0.75);
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


// A range is printed as its bounds would be written, not with six fixed decimals.
TEST(Hints, RangeErrorsPrintTheBoundsAsWritten) {
  auto budget = parse_hints({{"latency_budget_ms", int64_t{-5}}}, {});
  ASSERT_FALSE(budget.ok());
  EXPECT_EQ(budget.status().message(), "hint 'latency_budget_ms' is out of range [0.001, 3600000]");
  auto cx = parse_hints({{"complexity", 1.5}}, {});
  ASSERT_FALSE(cx.ok());
  EXPECT_EQ(cx.status().message(), "hint 'complexity' is out of range [0, 1]");
}
