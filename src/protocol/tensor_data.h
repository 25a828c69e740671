// Internal to src/protocol: conversion between JSON `data` and the wire bytes of core/tensor.h.
#pragma once

#include <string>
#include <string_view>

#include "core/tensor.h"
#include "protocol/json_read.h"

namespace hir::protocol::detail {

// Flattens JSON `data` (flat, or nested to any depth below 100) into t.data, coercing every element
// to t.datatype with range checks. t.shape must already be valid (element_count ok). Nested data
// whose depth equals the rank must match the shape dimension by dimension; otherwise the element
// count must match. `path` names the field ("inputs[0].data") in messages.
Status read_json_data(const element& data, std::string_view path, Tensor& t);

// True when JSON can carry t exactly: not FP16/BF16, no NaN or infinity, BYTES elements that are
// well-formed and valid UTF-8.
bool json_can_carry(const Tensor& t);
// Appends t's elements as a flat JSON array. Reads only whole elements inside t.data, so a tensor
// whose data does not match its shape still cannot make it read out of bounds.
void append_json_data(std::string& out, const Tensor& t);

}  // namespace hir::protocol::detail
