// The KServe v2 tensor datatypes (shared/protocol-v2.md §2.2) and their wire sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hir {

enum class DataType : uint8_t {
  kBool, kUint8, kUint16, kUint32, kUint64,
  kInt8, kInt16, kInt32, kInt64,
  kFp16, kBf16, kFp32, kFp64,
  kBytes,
};

inline constexpr DataType kAllDataTypes[] = {
    DataType::kBool,  DataType::kUint8, DataType::kUint16, DataType::kUint32, DataType::kUint64,
    DataType::kInt8,  DataType::kInt16, DataType::kInt32,  DataType::kInt64,  DataType::kFp16,
    DataType::kBf16,  DataType::kFp32,  DataType::kFp64,   DataType::kBytes};

// "FP32" etc., exactly as the protocol spells them (case-sensitive).
std::string_view datatype_name(DataType t);
std::optional<DataType> parse_datatype(std::string_view s);
// Bytes per element on the wire; 0 for BYTES, whose elements are length-prefixed.
size_t datatype_size(DataType t);

}  // namespace hir
