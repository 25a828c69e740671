#include "worker/fp32_wire.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace hir::worker {
namespace {

constexpr bool kLittle = std::endian::native == std::endian::little;

uint32_t swap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

}  // namespace

const float* fp32_view(std::string_view wire, std::vector<float>& scratch) {
  const size_t n = wire.size() / sizeof(float);
  if constexpr (kLittle) {
    // The bytes already are floats in memory order: hand the engine the buffer itself. The
    // engine only reads it through const float*, and the buffer was written as raw bytes, which
    // every compiler we build with treats as a valid float object here (as memcpy'd data is).
    if (reinterpret_cast<uintptr_t>(wire.data()) % alignof(float) == 0)
      return reinterpret_cast<const float*>(wire.data());
  }
  scratch.resize(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, wire.data() + i * sizeof(float), sizeof bits);
    if constexpr (!kLittle) bits = swap32(bits);
    std::memcpy(&scratch[i], &bits, sizeof bits);
  }
  return scratch.data();
}

std::string fp32_to_wire(const std::vector<float>& values) {
  std::string out(values.size() * sizeof(float), '\0');
  if constexpr (kLittle) {
    if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t bits;
      std::memcpy(&bits, &values[i], sizeof bits);
      bits = swap32(bits);
      std::memcpy(out.data() + i * sizeof(float), &bits, sizeof bits);
    }
  }
  return out;
}

}  // namespace hir::worker
