#include "routing/types.h"

namespace hir::routing {

std::string_view hardware_class_name(HardwareClass c) {
  switch (c) {
    case HardwareClass::kMcu: return "mcu";
    case HardwareClass::kEdgeCpu: return "edge-cpu";
    case HardwareClass::kEdgeGpu: return "edge-gpu";
    case HardwareClass::kCloud: return "cloud";
  }
  return "?";
}

std::optional<HardwareClass> parse_hardware_class(std::string_view s) {
  for (auto c : {HardwareClass::kMcu, HardwareClass::kEdgeCpu, HardwareClass::kEdgeGpu, HardwareClass::kCloud})
    if (hardware_class_name(c) == s) return c;
  return std::nullopt;
}

std::string_view priority_name(Priority p) {
  switch (p) {
    case Priority::kCritical: return "critical";
    case Priority::kStandard: return "standard";
    case Priority::kSheddable: return "sheddable";
  }
  return "?";
}

std::optional<Priority> parse_priority(std::string_view s) {
  for (auto p : {Priority::kCritical, Priority::kStandard, Priority::kSheddable})
    if (priority_name(p) == s) return p;
  return std::nullopt;
}

}  // namespace hir::routing
