#include "cache/value.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace hir::cache {
namespace {

bool same(const InferResponse& a, const InferResponse& b) {
  if (a.model_name != b.model_name || a.model_version != b.model_version || a.parameters != b.parameters ||
      a.outputs.size() != b.outputs.size())
    return false;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    const Tensor& x = a.outputs[i];
    const Tensor& y = b.outputs[i];
    if (x.name != y.name || x.datatype != y.datatype || x.shape != y.shape || x.data != y.data ||
        x.parameters != y.parameters)
      return false;
  }
  return true;
}

StoredValue sample() {
  StoredValue v;
  v.fresh_until_ms = 1'700'000'060'000;
  v.stale_until_ms = 1'700'000'660'000;
  v.response = storable(testing::response());
  v.response.parameters["flag"] = true;
  v.response.parameters["n"] = int64_t{-7};
  v.response.parameters["x"] = 0.125;
  Tensor labels = testing::tensor("labels", DataType::kBytes, {1}, std::string("\x03\0\0\0cat", 7));
  labels.parameters["k"] = std::string("v");
  v.response.outputs.push_back(labels);
  return v;
}

TEST(CacheValue, RoundTrips) {
  StoredValue v = sample();
  auto back = decode_value(encode_value(v));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->fresh_until_ms, v.fresh_until_ms);
  EXPECT_EQ(back->stale_until_ms, v.stale_until_ms);
  EXPECT_TRUE(same(back->response, v.response));
}

TEST(CacheValue, EveryTruncationIsAnError) {
  std::string bytes = encode_value(sample());
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decode_value(std::string_view(bytes).substr(0, n)).ok()) << "length " << n;
  EXPECT_FALSE(decode_value(bytes + "x").ok());
}

TEST(CacheValue, OtherFormatsReadAsErrors) {
  std::string bytes = encode_value(sample());
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_FALSE(decode_value(bad_magic).ok());
  std::string other_version = bytes;
  other_version[4] = 2;
  EXPECT_FALSE(decode_value(other_version).ok());
  EXPECT_FALSE(decode_value("").ok());
}

TEST(CacheValue, StorableDropsWhatBelongsToOneRequest) {
  InferResponse r = storable(testing::response());
  EXPECT_TRUE(r.id.empty());
  EXPECT_TRUE(r.binary.empty());
  EXPECT_EQ(r.parameters.count("hir_target"), 0u);
  EXPECT_EQ(r.parameters.count("note"), 1u);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].data, testing::response().outputs[0].data);
}

}  // namespace
}  // namespace hir::cache
