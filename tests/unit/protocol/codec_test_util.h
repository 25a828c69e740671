// Helpers for the codec tests: wire bytes from values, tensors, 4xx assertions.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.h"
#include "testing/tensors.h"
#include "protocol/v2_codec.h"

namespace hir::protocol::testing {

using ::hir::testing::le;
using ::hir::testing::make_tensor;

// BYTES wire form: each element as a 4-byte little-endian length, then its bytes.
inline std::string bytes_elems(const std::vector<std::string>& elems) {
  std::string out;
  for (const std::string& e : elems) {
    out += le<uint32_t>({static_cast<uint32_t>(e.size())});
    out += e;
  }
  return out;
}


inline std::optional<std::string_view> header_of(const Encoded& e, std::string& storage) {
  if (!e.json_length) return std::nullopt;
  storage = std::to_string(*e.json_length);
  return std::string_view(storage);
}

inline void expect_same_tensor(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.datatype, b.datatype)
      << datatype_name(a.datatype) << " vs " << datatype_name(b.datatype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.data, b.data) << "tensor " << a.name;
  EXPECT_EQ(a.parameters, b.parameters);
}

// A client error: 4xx with a message that says what was wrong.
inline ::testing::AssertionResult is_client_error(const Status& s, std::string_view needle) {
  if (s.ok())
    return ::testing::AssertionFailure() << "expected an error containing '" << needle << "'";
  const int http = http_status(s.code());
  if (http < 400 || http > 499)
    return ::testing::AssertionFailure() << "HTTP " << http << " for: " << s.to_string();
  if (s.message().find(needle) == std::string::npos)
    return ::testing::AssertionFailure()
           << "message '" << s.message() << "' lacks '" << needle << "'";
  return ::testing::AssertionSuccess();
}

}  // namespace hir::protocol::testing
