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

// The same for the text between a `data` array's brackets, read without a DOM, for the common
// case only: a numeric datatype (BOOL, BYTES, FP16 and BF16 excluded), elements that are plain
// JSON numbers, nested or not, that read_json_data would accept. Returns true with t.data
// written exactly as read_json_data would write it; false, with t.data unspecified, for anything
// else, valid or not (a string, `true`, a malformed number, a value out of range, a count or
// nesting that does not match the shape, a number whose reading it does not trust): the caller
// then reads the array from the DOM, which gives the same answer or the precise error.
bool read_json_numbers(std::string_view text, Tensor& t);

// True when JSON can carry a tensor of this datatype and wire data exactly: not FP16/BF16, no NaN
// or infinity, BYTES elements that are well-formed and valid UTF-8. (Datatype and data rather
// than a Tensor: an answer cut from a merged one is written from a view of its rows.)
bool json_can_carry(DataType type, std::string_view data);
// False when FP32 or FP64 data holds a NaN or an infinity (other datatypes: true).
bool finite_values(DataType type, std::string_view data);
// Appends the elements of `data` as a flat JSON array. Reads only whole elements, so data that
// does not match its tensor's shape still cannot make it read out of bounds.
void append_json_data(std::string& out, DataType type, std::string_view data);

}  // namespace hir::protocol::detail
