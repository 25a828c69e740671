// The head of an inference request to a target, as the router writes it in one piece
// (router/service_call.h: the target's prefix, written once, and the request's own fields): the
// target's base path before the v2 path, the fields hir sends, and nothing a client's or an
// environment's value could inject.
#include <gtest/gtest.h>

#include <limits>

#include "router/service_call.h"

namespace hir::router {
namespace {

constexpr std::string_view kTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(UpstreamHead, ABinaryRequestToATargetWithABasePath) {
  auto url = net::Url::parse("http://127.0.0.1:9000/serving");
  ASSERT_TRUE(url.ok());
  const std::string prefix = upstream_prefix(*url, url->authority(), "fmnist-small", "Bearer t0k");
  const std::string head = upstream_head(prefix, "application/octet-stream", std::string("170"), "req-1", kTrace,
                                         std::chrono::microseconds(1500), 3306);
  EXPECT_EQ(head,
            "POST /serving/v2/models/fmnist-small/infer HTTP/1.1\r\n"
            "Host: 127.0.0.1:9000\r\n"
            "Authorization: Bearer t0k\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Inference-Header-Content-Length: 170\r\n"
            "x-request-id: req-1\r\n"
            "traceparent: " + std::string(kTrace) + "\r\n"
            "x-hir-timeout-ms: 2\r\n"  // 1.5 ms, rounded up
            "Content-Length: 3306\r\n\r\n");
}

TEST(UpstreamHead, AJsonRequestWithoutATokenHasNeitherField) {
  auto url = net::Url::parse("http://edge:8001");
  ASSERT_TRUE(url.ok());
  const std::string head = upstream_head(upstream_prefix(*url, "edge:8001", "m", ""), "application/json", std::nullopt,
                                         "r", kTrace, std::chrono::seconds(0), 2);
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
      upstream_head(upstream_prefix(*url, "edge:8001", "m", "Bearer a\r\nX-Injected: 2"),
                    "application/json\r\nX-Injected: 1", std::string("17\n"), "r", kTrace, std::chrono::milliseconds(30), 0);
  EXPECT_EQ(head.find("Injected"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Type"), std::string::npos) << head;
  EXPECT_EQ(head.find("Inference-Header-Content-Length"), std::string::npos) << head;
  EXPECT_EQ(head.find("Authorization"), std::string::npos) << head;
  EXPECT_NE(head.find("x-hir-timeout-ms: 30\r\n"), std::string::npos) << head;
  // A NUL splits it too (some parsers end the line there).
  const std::string nul = upstream_head(upstream_prefix(*url, "edge:8001", "m", std::string_view("Bearer a\0b", 10)),
                                        std::string_view("text/x\0y", 8), std::nullopt, "r", kTrace,
                                        std::chrono::milliseconds(1), 0);
  EXPECT_EQ(nul.find("Content-Type"), std::string::npos) << nul;
  EXPECT_EQ(nul.find("Authorization"), std::string::npos) << nul;
}

// The longest fields there are fit the one allocation the head is written into.
TEST(UpstreamHead, TheLargestFieldsFitTheBound) {
  auto url = net::Url::parse("http://edge:8001");
  ASSERT_TRUE(url.ok());
  const std::string type(300, 't'), length = "2147483647", id(128, 'i');
  const std::string head = upstream_head(upstream_prefix(*url, "edge:8001", "m", ""), type, length, id, kTrace,
                                         std::chrono::hours(24 * 365 * 1000), std::numeric_limits<size_t>::max());
  EXPECT_NE(head.find("Content-Length: " + std::to_string(std::numeric_limits<size_t>::max()) + "\r\n\r\n"),
            std::string::npos)
      << head;
  EXPECT_NE(head.find("Inference-Header-Content-Length: 2147483647\r\n"), std::string::npos) << head;
}

}  // namespace
}  // namespace hir::router
