#include "core/datatype.h"

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
  for (DataType t : kAllDataTypes)
    if (datatype_name(t) == s) return t;
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
