#include "routing/admission.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace hir::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Row {
  double utilization;
  bool critical, standard, sheddable;  // admitted?
};

// Defaults: sheddable refused above 0.85, standard above 0.97, critical never.
const Row kTable[] = {
    {0.00, true, true, true},   {0.50, true, true, true},   {0.85, true, true, true},
    {0.86, true, true, false},  {0.95, true, true, false},  {0.97, true, true, false},
    {0.98, true, false, false}, {1.00, true, false, false}, {1.50, true, false, false},
    {1e9, true, false, false},  {-0.5, true, true, true},
};

TEST(Admission, SheddingOrderAcrossUtilizations) {
  const AdmissionConfig cfg;
  for (const Row& row : kTable) {
    SCOPED_TRACE("utilization " + std::to_string(row.utilization));
    EXPECT_EQ(admit(Priority::kCritical, row.utilization, true, cfg).admitted, row.critical);
    EXPECT_EQ(admit(Priority::kStandard, row.utilization, true, cfg).admitted, row.standard);
    EXPECT_EQ(admit(Priority::kSheddable, row.utilization, true, cfg).admitted, row.sheddable);
  }
}

TEST(Admission, ShedAnswerCarriesReasonAndRetryAfter) {
  AdmissionConfig cfg;
  cfg.retry_after = milliseconds(2500);
  const Admission a = admit(Priority::kSheddable, 0.9, true, cfg);
  ASSERT_FALSE(a.admitted);
  EXPECT_EQ(a.retry_after, milliseconds(2500));
  EXPECT_NE(a.reason.find("sheddable"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("0.90 > 0.85"), std::string::npos) << a.reason;
  EXPECT_EQ(retry_after_seconds(a.retry_after), 3);

  const Admission ok = admit(Priority::kSheddable, 0.5, true, cfg);
  EXPECT_TRUE(ok.admitted);
  EXPECT_EQ(ok.reason, "");
  EXPECT_EQ(ok.retry_after, Duration::zero());
}

TEST(Admission, CriticalNeverShedWhileATargetIsAvailable) {
  const AdmissionConfig cfg;
  for (double u = 0.0; u <= 5.0; u += 0.01)
    ASSERT_TRUE(admit(Priority::kCritical, u, true, cfg).admitted) << u;
  EXPECT_TRUE(admit(Priority::kCritical, std::numeric_limits<double>::infinity(), true, cfg)
                  .admitted);
}

TEST(Admission, NothingAvailableRefusesEveryPriority) {
  const AdmissionConfig cfg;
  for (Priority p : {Priority::kCritical, Priority::kStandard, Priority::kSheddable}) {
    const Admission a = admit(p, 0.1, false, cfg);
    EXPECT_FALSE(a.admitted) << priority_name(p);
    EXPECT_EQ(a.retry_after, cfg.retry_after);
    EXPECT_NE(a.reason.find("no target"), std::string::npos) << a.reason;
  }
}

TEST(Admission, UnknownUtilizationShedsNothing) {
  const AdmissionConfig cfg;
  const double nan = std::nan("");
  EXPECT_TRUE(admit(Priority::kSheddable, nan, true, cfg).admitted);
  EXPECT_TRUE(admit(Priority::kStandard, nan, true, cfg).admitted);
}

// Whatever the thresholds, a rising load never sheds standard before sheddable, and once a
// priority is shed it stays shed as the load rises further.
TEST(Admission, OrderHoldsForAnyThresholds) {
  const double thresholds[] = {0.0, 0.3, 0.85, 0.97, 1.2};
  for (double s : thresholds) {
    for (double st : thresholds) {
      AdmissionConfig cfg;
      cfg.shed_sheddable_above = s;
      cfg.shed_standard_above = st;  // possibly below s: a misconfiguration
      bool std_shed = false, shd_shed = false;
      for (double u = 0.0; u <= 1.5; u += 0.005) {
        const bool shd = !admit(Priority::kSheddable, u, true, cfg).admitted;
        const bool stdd = !admit(Priority::kStandard, u, true, cfg).admitted;
        ASSERT_TRUE(!stdd || shd) << "standard shed before sheddable at " << u;
        ASSERT_TRUE(shd || !shd_shed) << "sheddable readmitted at " << u;
        ASSERT_TRUE(stdd || !std_shed) << "standard readmitted at " << u;
        std_shed = stdd;
        shd_shed = shd;
      }
    }
  }
}

TEST(Admission, ValidateRejectsAnInvertedOrder) {
  EXPECT_TRUE(validate(AdmissionConfig{}).ok());
  AdmissionConfig inverted;
  inverted.shed_standard_above = 0.5;
  EXPECT_FALSE(validate(inverted).ok());
  AdmissionConfig nan;
  nan.shed_sheddable_above = std::nan("");
  EXPECT_FALSE(validate(nan).ok());
  AdmissionConfig negative;
  negative.retry_after = -seconds(1);
  EXPECT_FALSE(validate(negative).ok());
}

TEST(Admission, RetryAfterHeaderIsWholeSecondsAtLeastOne) {
  EXPECT_EQ(retry_after_seconds(Duration::zero()), 1);
  EXPECT_EQ(retry_after_seconds(milliseconds(500)), 1);
  EXPECT_EQ(retry_after_seconds(seconds(1)), 1);
  EXPECT_EQ(retry_after_seconds(milliseconds(1200)), 2);
}

}  // namespace
}  // namespace hir::routing
