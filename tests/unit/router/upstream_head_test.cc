// The head of an inference request to a target, as the router writes it in one piece
// (router/service_call.h, net::prepared_head): the target's base path before the v2 path, the
// fields hir sends, and nothing a client's or an environment's value could inject.
#include <gtest/gtest.h>

#include "router/service_call.h"

namespace hir::router {
namespace {

constexpr std::string_view kTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(UpstreamHead, ABinaryRequestToATargetWithABasePath) {
  auto url = net::Url::parse("http://127.0.0.1:9000/serving");
  ASSERT_TRUE(url.ok());
  const std::string head = upstream_head(*url, url->authority(), "fmnist-small", "application/octet-stream",
                                         std::string("170"), "req-1", kTrace, "Bearer t0k",
                                         std::chrono::microseconds(1500), 3306);
  EXPECT_EQ(head,
            "POST /serving/v2/models/fmnist-small/infer HTTP/1.1\r\n"
            "Host: 127.0.0.1:9000\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Inference-Header-Content-Length: 170\r\n"
            "x-request-id: req-1\r\n"
            "traceparent: " + std::string(kTrace) + "\r\n"
            "x-hir-timeout-ms: 2\r\n"  // 1.5 ms, rounded up
            "Authorization: Bearer t0k\r\n"
            "Content-Length: 3306\r\n\r\n");
}

TEST(UpstreamHead, AJsonRequestWithoutATokenHasNeitherField) {
  auto url = net::Url::parse("http://edge:8001");
  ASSERT_TRUE(url.ok());
  const std::string head = upstream_head(*url, "edge:8001", "m", "application/json", std::nullopt, "r", kTrace, "",
                                         std::chrono::seconds(0), 2);
  EXPECT_EQ(head,
            "POST /v2/models/m/infer HTTP/1.1\r\nHost: edge:8001\r\nContent-Type: application/json\r\n"
            "x-request-id: r\r\ntraceparent: " + std::string(kTrace) + "\r\nx-hir-timeout-ms: 1\r\n"
            "Content-Length: 2\r\n\r\n");
}

// The client's content type and header length and the token from the environment are not hir's
// own: one that would split the message is left out with its field, never written.
TEST(UpstreamHead, ValuesThatWouldSplitTheMessageAreLeftOut) {
  auto url = net::Url::parse("http://edge:8001");
  ASSERT_TRUE(url.ok());
  const std::string head =
      upstream_head(*url, "edge:8001", "m", "application/json\r\nX-Injected: 1", std::string("17\n"), "r", kTrace,
                    "Bearer a\r\nX-Injected: 2", std::chrono::milliseconds(30), 0);
  EXPECT_EQ(head.find("Injected"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Type"), std::string::npos) << head;
  EXPECT_EQ(head.find("Inference-Header-Content-Length"), std::string::npos) << head;
  EXPECT_EQ(head.find("Authorization"), std::string::npos) << head;
  EXPECT_NE(head.find("x-hir-timeout-ms: 30\r\n"), std::string::npos) << head;
}

}  // namespace
}  // namespace hir::router
