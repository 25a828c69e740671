#include "worker/routes.h"

#include <gtest/gtest.h>

namespace hir::worker {
namespace {

TEST(Routes, ServerEndpoints) {
  EXPECT_EQ(parse_route("/v2").endpoint, Endpoint::kServerMetadata);
  EXPECT_EQ(parse_route("/v2/health/live").endpoint, Endpoint::kLive);
  EXPECT_EQ(parse_route("/v2/health/ready").endpoint, Endpoint::kReady);
  EXPECT_EQ(parse_route("/v2/models").endpoint, Endpoint::kModelList);
  EXPECT_EQ(parse_route("/v1/load").endpoint, Endpoint::kLoad);
  EXPECT_EQ(parse_route("/metrics").endpoint, Endpoint::kMetrics);
}

TEST(Routes, ModelEndpointsWithAndWithoutVersion) {
  Route r = parse_route("/v2/models/fmnist-small");
  EXPECT_EQ(r.endpoint, Endpoint::kModelMetadata);
  EXPECT_EQ(r.model, "fmnist-small");
  EXPECT_EQ(r.version, "");

  r = parse_route("/v2/models/fmnist-small/versions/3/infer");
  EXPECT_EQ(r.endpoint, Endpoint::kInfer);
  EXPECT_EQ(r.model, "fmnist-small");
  EXPECT_EQ(r.version, "3");

  r = parse_route("/v2/models/m/ready");
  EXPECT_EQ(r.endpoint, Endpoint::kModelReady);
  r = parse_route("/v2/models/m/versions/2/ready");
  EXPECT_EQ(r.endpoint, Endpoint::kModelReady);
  EXPECT_EQ(r.version, "2");
  r = parse_route("/v2/models/m/versions/2");
  EXPECT_EQ(r.endpoint, Endpoint::kModelMetadata);
}

TEST(Routes, PercentDecodesModelNames) {
  Route r = parse_route("/v2/models/my%20model/infer");
  EXPECT_EQ(r.endpoint, Endpoint::kInfer);
  EXPECT_EQ(r.model, "my model");
  EXPECT_EQ(parse_route("/v2/models/bad%2/infer").endpoint, Endpoint::kNotFound);
}

TEST(Routes, UnknownShapesAreNotFound) {
  for (const char* p : {"/", "/v2/notapi", "/v2/models/notapi/foo", "/v2/health",
                        "/v2/health/dead", "/v3/models", "/v1/load/x", "/metrics/x",
                        "/v2/models/m/versions", "/v2/models/m/infer/extra"})
    EXPECT_EQ(parse_route(p).endpoint, Endpoint::kNotFound) << p;
}

TEST(Routes, OnlyInferIsPost) {
  EXPECT_EQ(allowed_method(Endpoint::kInfer), "POST");
  EXPECT_EQ(allowed_method(Endpoint::kLoad), "GET");
  EXPECT_EQ(allowed_method(Endpoint::kModelMetadata), "GET");
}

}  // namespace
}  // namespace hir::worker
