#include "protocol/v2_path.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

using hir::protocol::parse_v2_path;
using hir::protocol::V2Endpoint;

namespace {

// Each path matches no endpoint, and the 404 that answers it says `error`.
void expect_unknown(std::initializer_list<const char*> paths, std::string_view error) {
  for (const char* p : paths) {
    const auto v = parse_v2_path(p);
    EXPECT_EQ(v.endpoint, V2Endpoint::kUnknown) << p;
    EXPECT_EQ(v.error, error) << p;
  }
}

// The path reads as `endpoint`, naming `model` and `version`.
void expect_reads(std::string_view path, V2Endpoint endpoint, std::string_view model, std::string_view version) {
  const auto v = parse_v2_path(path);
  EXPECT_EQ(v.endpoint, endpoint) << path;
  EXPECT_EQ(v.model, model) << path;
  EXPECT_EQ(v.version, version) << path;
}

}  // namespace

TEST(V2Path, ServerEndpoints) {
  EXPECT_EQ(parse_v2_path("/v2").endpoint, V2Endpoint::kServerMetadata);
  EXPECT_EQ(parse_v2_path("/v2/").endpoint, V2Endpoint::kServerMetadata);
  EXPECT_EQ(parse_v2_path("/v2/health/live").endpoint, V2Endpoint::kLive);
  EXPECT_EQ(parse_v2_path("/v2/health/ready").endpoint, V2Endpoint::kReady);
  EXPECT_EQ(parse_v2_path("/v2/models").endpoint, V2Endpoint::kModelList);
  EXPECT_EQ(parse_v2_path("/v2/models/m/config").endpoint, V2Endpoint::kModelConfig);
  EXPECT_EQ(parse_v2_path("/v2/models/m/versions/2/config").version, "2");
}

TEST(V2Path, ModelEndpointsWithAndWithoutVersion) {
  expect_reads("/v2/models/fmnist", V2Endpoint::kModelMetadata, "fmnist", "");
  expect_reads("/v2/models/fmnist/versions/3/ready", V2Endpoint::kModelReady, "fmnist", "3");
  expect_reads("/v2/models/a%20b/versions/v1.2/infer", V2Endpoint::kInfer, "a b", "v1.2");
}

TEST(V2Path, UnknownShapes) {
  for (const char* p : {"/", "/v1", "/v2/health", "/v2/health/x", "/v2/notapi", "/v2/models/m/foo",
                        "/v2/models/m/versions", "/v2/models/m/versions/1/infer/x", "/v2/models/%2F/infer",
                        "/v2/models/%zz/infer", "/v2/models/%4", "/v3/models/m"}) {
    EXPECT_EQ(parse_v2_path(p).endpoint, V2Endpoint::kUnknown) << p;
  }
}

// Read as one slash, versions//infer named version "infer" (its metadata, so a POST got 405).
TEST(V2Path, AnEmptyVersionIsNamed) {
  expect_unknown({"/v2/models/m/versions//infer", "/v2/models/m/versions//ready", "/v2/models/m/versions//",
                  "/v2/models/m/versions/"},
                 "the model version in the path is empty");
  EXPECT_EQ(parse_v2_path("/v2/models/m/versions/infer").version, "infer");
  EXPECT_EQ(parse_v2_path("/v2/models/m/foo").error, "Not Found");
}

// Read as one slash, models//infer named model "infer" (its metadata, so a POST got 405).
TEST(V2Path, AnEmptyModelNameIsNamed) {
  expect_unknown({"/v2/models//infer", "/v2/models//ready", "/v2/models//versions/1/infer", "/v2/models//m",
                  "//v2//models//infer/"},
                 "the model name in the path is empty");
  EXPECT_EQ(parse_v2_path("/v2/models/infer").model, "infer");
}

// The list is `/v2/models` alone: a slash after `models` starts a model's path, whose name is
// empty here (these were the list).
TEST(V2Path, ATrailingSlashAfterModelsIsAnEmptyName) {
  expect_unknown({"/v2/models/", "/v2/models//", "//v2//models///"}, "the model name in the path is empty");
  EXPECT_EQ(parse_v2_path("//v2//models").endpoint, V2Endpoint::kModelList);
}

// An encoded slash, or an escape that does not decode, was answered a bare "Not Found", as any
// unknown path is.
TEST(V2Path, AnEncodedSlashOrABrokenEscapeIsNamed) {
  expect_unknown({"/v2/models/a%2Fb", "/v2/models/a%2fb/infer", "/v2/models/%2F/ready",
                  "/v2/models/a%2Fb/versions/1/infer"},
                 "the model name in the path holds an encoded '/' (%2F), which no model name has");
  expect_unknown({"/v2/models/m/versions/1%2F2", "/v2/models/m/versions/1%2f2/infer"},
                 "the model version in the path holds an encoded '/' (%2F), which no version has");
  expect_unknown({"/v2/models/%zz/infer", "/v2/models/%4", "/v2/models/a%00"},
                 "the model name in the path does not decode (a broken %-escape or %00)");
  expect_unknown({"/v2/models/m/versions/%G1"},
                 "the model version in the path does not decode (a broken %-escape or %00)");
  EXPECT_EQ(parse_v2_path("/v2/models/a%2Db").model, "a-b");  // other escapes decode as before
}

TEST(V2Path, SixSegmentsAtMostAndAnyNumberOfSlashes) {
  const auto v = parse_v2_path("//v2///models/m/versions/7//infer/");
  EXPECT_EQ(v.endpoint, V2Endpoint::kInfer);
  EXPECT_EQ(v.model, "m");
  EXPECT_EQ(v.version, "7");
  for (const char* p : {"/v2/models/m/versions/7/infer/x", "/v2/models/m/versions/7/infer/x/y/z",
                        "/v2/models/m/infer/a/b/c/d/e/f/g/h"})
    EXPECT_EQ(parse_v2_path(p).endpoint, V2Endpoint::kUnknown) << p;
}

// The last path read is kept: read again, in turn with others, and past the kept length, each
// path still reads as it does alone.
TEST(V2Path, PathReadAgainReadsTheSame) {
  const std::string long_name(300, 'm');
  const std::string long_path = "/v2/models/" + long_name + "/versions/7/infer";
  for (int round = 0; round < 3; ++round) {
    for (int again = 0; again < 2; ++again) {
      expect_reads("/v2/models/fmnist%2Dtiny/versions/1/infer", V2Endpoint::kInfer, "fmnist-tiny", "1");
      expect_reads("/v2/models/fmnist/ready", V2Endpoint::kModelReady, "fmnist", "");
      expect_reads("/v2/models/a%2Fb/infer", V2Endpoint::kUnknown, "", "");
      expect_reads(long_path, V2Endpoint::kInfer, long_name, "7");
    }
  }
}
