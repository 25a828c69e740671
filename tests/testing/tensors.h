// Building tensors in tests: little-endian wire bytes from values (shared/protocol-v2.md §3) and
// a Tensor from its four fields. Shared by the codec, cache and core tests.
#pragma once

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "core/tensor.h"

namespace hir::testing {

template <class T>
std::string le(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) {
    using U = std::conditional_t<
        sizeof(T) == 1, uint8_t,
        std::conditional_t<sizeof(T) == 2, uint16_t,
                           std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
    auto u = std::bit_cast<U>(v);
    for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>(u >> (8 * i));
  }
  return out;
}

inline Tensor make_tensor(std::string name, DataType dt, Shape shape, std::string data) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = dt;
  t.shape = std::move(shape);
  t.data = std::move(data);
  return t;
}

}  // namespace hir::testing
