// The stored form of a cached answer, shared by both levels and by every replica through Redis.
//
// A value is an InferResponse (not the encoded HTTP body): each serve echoes its own request id,
// picks JSON or binary outputs as that request asks, and sets `hir_cache`, none of which a stored
// body could do. Format, all integers little-endian, every string u64-length-prefixed:
//   "HIRC" | u8 format version (1) | i64 fresh_until | i64 stale_until   (Unix epoch ms)
//   | str model_name | str model_version | params | u64 output count
//   | per output: str name | u8 datatype | u64 rank | i64 dims... | params | str data
//   params = u64 count | per entry: str key | u8 type (0 bool, 1 int64, 2 double, 3 string) | value
// Times are wall-clock so replicas on different hosts agree on them (within clock skew).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace hir::cache {

struct StoredValue {
  int64_t fresh_until_ms = 0;  // Unix epoch ms: fresh before it
  int64_t stale_until_ms = 0;  // Unix epoch ms: stale before it, gone after
  InferResponse response;
};

std::string encode_value(const StoredValue& v);
// Any truncation, bad magic, unknown version or datatype is kInvalidArgument: a value written
// by another format version reads as a miss, never as a wrong answer.
Result<StoredValue> decode_value(std::string_view bytes);

// The part of a response worth keeping: the request id, the per-output binary flags and the
// `hir_*` parameters (which say how that one request was served) are dropped, but for
// `hir_variant`: the variant that computed the answer, which says whom it may serve
// (a request's min_accuracy).
inline constexpr std::string_view kVariantParam = "hir_variant";
InferResponse storable(const InferResponse& resp);

}  // namespace hir::cache
