#pragma once
#include <string_view>

namespace hir::router {
// The text of config/demo.yaml, compiled in at build time.
std::string_view embedded_demo_config();
}  // namespace hir::router
