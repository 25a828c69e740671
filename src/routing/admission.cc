#include "routing/admission.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace hir::routing {
namespace {

Admission refuse(std::string reason, const AdmissionConfig& cfg) {
  return Admission{false, std::move(reason), std::max(cfg.retry_after, Duration::zero())};
}

std::string overload_reason(Priority p, double utilization, double threshold) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "overloaded: %.*s request shed at fleet utilization %.2f > %.2f",
                static_cast<int>(priority_name(p).size()), priority_name(p).data(), utilization,
                threshold);
  return buf;
}

}  // namespace

Status validate(const AdmissionConfig& cfg) {
  if (!(cfg.shed_sheddable_above >= 0.0))  // also rejects NaN
    return InvalidArgument("admission: shed_sheddable_above must be >= 0");
  if (!(cfg.shed_standard_above >= cfg.shed_sheddable_above))
    return InvalidArgument("admission: shed_standard_above must be >= shed_sheddable_above");
  if (cfg.retry_after < Duration::zero())
    return InvalidArgument("admission: retry_after must be >= 0");
  return Status::Ok();
}

Admission admit(Priority p, double fleet_utilization, bool any_target_available,
                const AdmissionConfig& cfg) {
  if (!any_target_available) return refuse("no target can serve this request", cfg);
  if (p == Priority::kCritical || std::isnan(fleet_utilization)) return {};
  // Standard is never shed below the sheddable threshold, whatever the configuration says, so
  // the order sheddable-before-standard holds even for an unvalidated config.
  const double threshold = p == Priority::kSheddable
                               ? cfg.shed_sheddable_above
                               : std::max(cfg.shed_standard_above, cfg.shed_sheddable_above);
  if (fleet_utilization > threshold)
    return refuse(overload_reason(p, fleet_utilization, threshold), cfg);
  return {};
}

int64_t retry_after_seconds(Duration d) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(d).count();
  return std::max<int64_t>(s, 1);
}

}  // namespace hir::routing
