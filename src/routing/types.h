// Vocabulary shared by the routing core and everything above it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hir::routing {

// Where a target runs; decides the failure domain and the edge preference.
enum class HardwareClass : uint8_t { kMcu, kEdgeCpu, kEdgeGpu, kCloud };
std::string_view hardware_class_name(HardwareClass c);
std::optional<HardwareClass> parse_hardware_class(std::string_view s);  // "mcu", "edge-cpu", ...
inline bool is_edge(HardwareClass c) { return c != HardwareClass::kCloud; }

// A request's priority: under overload `sheddable` goes first, then `standard`; `critical` is
// never shed while any target can serve it.
enum class Priority : uint8_t { kCritical, kStandard, kSheddable };
std::string_view priority_name(Priority p);
std::optional<Priority> parse_priority(std::string_view s);  // "critical", "standard", "sheddable"

// Dense indices into the registry's tables, stable for a registry's lifetime.
using TargetIndex = uint32_t;
using VariantIndex = uint32_t;

}  // namespace hir::routing
