#include "engine/onnx_info.h"

#include <gtest/gtest.h>

#include <string>

namespace hir {
namespace {

// Minimal protobuf encoders, enough to build the messages read_onnx_info decodes.
std::string varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
  return s;
}
std::string field_bytes(int field, const std::string& payload) {
  return varint(static_cast<uint64_t>(field) << 3 | 2) + varint(payload.size()) + payload;
}
std::string field_varint(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3) + varint(v); }

std::string value_info(const std::string& name, int elem_type, std::initializer_list<int64_t> dims) {
  std::string shape;
  for (int64_t d : dims) {
    shape += field_bytes(1, d < 0 ? field_bytes(2, "N") : field_varint(1, static_cast<uint64_t>(d)));
  }
  std::string tensor = field_varint(1, static_cast<uint64_t>(elem_type)) + field_bytes(2, shape);
  return field_bytes(1, name) + field_bytes(2, field_bytes(1, tensor));
}

TEST(OnnxInfo, ReadsInputsOutputsAndOpset) {
  std::string graph = field_bytes(2, "g") + field_bytes(11, value_info("x", 1, {-1, 3, 4})) +
                      field_bytes(11, value_info("w", 1, {4, 2})) +  // an initializer listed as input
                      field_bytes(5, field_bytes(8, "w")) +
                      field_bytes(12, value_info("y", 1, {-1, 2}));
  std::string model = field_varint(1, 7) + field_bytes(8, field_bytes(1, "") + field_varint(2, 13)) +
                      field_bytes(7, graph);
  auto info = read_onnx_info(model);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->opset, 13);
  ASSERT_EQ(info->inputs.size(), 1u);  // "w" is a weight, not a served input
  EXPECT_EQ(info->inputs[0].name, "x");
  EXPECT_EQ(info->inputs[0].dims, (std::vector<int64_t>{-1, 3, 4}));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_EQ(info->outputs[0].name, "y");
  EXPECT_EQ(info->outputs[0].elem_type, kOnnxFloat);
}

TEST(OnnxInfo, RejectsMalformedBytes) {
  EXPECT_FALSE(read_onnx_info("").ok());                       // no graph
  EXPECT_FALSE(read_onnx_info(field_varint(1, 7)).ok());        // still no graph
  EXPECT_FALSE(read_onnx_info("\x3a\x7f" "abc").ok());          // length past the end
  EXPECT_FALSE(read_onnx_info("\x0b\x01").ok());                // wire type 3 (group)
  EXPECT_FALSE(read_onnx_info("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").ok());  // endless varint
}

}  // namespace
}  // namespace hir
