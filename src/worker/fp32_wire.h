// FP32 tensors between their wire form (little-endian bytes, shared/protocol-v2.md §3) and the
// float rows the engine runs on.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hir::worker {

// Floats for `wire` (wire.size() / 4 of them). On a little-endian host with a 4-byte aligned
// buffer -- what a std::string's heap buffer always is -- this points into `wire` itself, with no
// copy; otherwise the floats are decoded into `scratch` and that is returned. The result is valid
// while both `wire` and `scratch` are.
const float* fp32_view(std::string_view wire, std::vector<float>& scratch);

// The wire bytes of `values`.
std::string fp32_to_wire(const std::vector<float>& values);

}  // namespace hir::worker
