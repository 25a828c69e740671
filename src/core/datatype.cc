#include "core/datatype.h"

#include <array>
#include <iterator>
#include <utility>

namespace hir {

std::string_view datatype_name(DataType t) {
  switch (t) {
    case DataType::kBool: return "BOOL";
    case DataType::kUint8: return "UINT8";
    case DataType::kUint16: return "UINT16";
    case DataType::kUint32: return "UINT32";
    case DataType::kUint64: return "UINT64";
    case DataType::kInt8: return "INT8";
    case DataType::kInt16: return "INT16";
    case DataType::kInt32: return "INT32";
    case DataType::kInt64: return "INT64";
    case DataType::kFp16: return "FP16";
    case DataType::kBf16: return "BF16";
    case DataType::kFp32: return "FP32";
    case DataType::kFp64: return "FP64";
    case DataType::kBytes: return "BYTES";
  }
  return "?";
}

std::optional<DataType> parse_datatype(std::string_view s) {
  // Every request and answer names its tensors' types: the names are looked up in a table made
  // once, FP32 (nearly always the one) first, instead of through datatype_name's switch for
  // each candidate in turn (~400 instructions for FP32, the twelfth).
  static const auto kTable = [] {
    std::array<std::pair<std::string_view, DataType>, std::size(kAllDataTypes)> t{};
    size_t n = 0;
    t[n++] = {datatype_name(DataType::kFp32), DataType::kFp32};
    for (DataType d : kAllDataTypes)
      if (d != DataType::kFp32) t[n++] = {datatype_name(d), d};
    return t;
  }();
  for (const auto& [name, type] : kTable)
    if (name == s) return type;
  return std::nullopt;
}

size_t datatype_size(DataType t) {
  switch (t) {
    case DataType::kBool:
    case DataType::kUint8:
    case DataType::kInt8: return 1;
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kFp16:
    case DataType::kBf16: return 2;
    case DataType::kUint32:
    case DataType::kInt32:
    case DataType::kFp32: return 4;
    case DataType::kUint64:
    case DataType::kInt64:
    case DataType::kFp64: return 8;
    case DataType::kBytes: return 0;
  }
  return 0;
}

}  // namespace hir
