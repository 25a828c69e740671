// Compressed request bodies (Content-Encoding: gzip / deflate), as Triton's clients send them when
// asked to: decoded before the handler, refused clearly when they cannot be, bounded by the body
// limit after inflating.
#include <gtest/gtest.h>

#include "net_test_util.h"
#include "testing/compress.h"

namespace hir::net::testing {
namespace {

using hir::testing::compress;

void echo_body(HttpRequest&& req, Responder respond) {
  HttpResponse r{200, {}, std::move(req.body)};
  r.headers.set("X-Encoding", req.headers.get("Content-Encoding").value_or("none"));
  respond(std::move(r));
}

struct Server {
  explicit Server(size_t max_body = 1 << 20) : lt(1), server(lt.loop, [&] {
    ServerOptions o;
    o.max_body_bytes = max_body;
    return o;
  }(), echo_body) {
    EXPECT_TRUE(server.listen().ok());
  }
  LoopThread lt;
  HttpServer server;
};

const std::string kBody = [] {
  std::string s = R"({"id":"z","inputs":[{"name":"input","datatype":"FP32","shape":[1,784],"data":[)";
  for (int i = 0; i < 784; ++i) s += i ? ",0.5" : "0.5";
  return s + "]}]}";
}();

TEST(ContentCoding, GzipAndDeflateBodiesReachTheHandlerDecoded) {
  Server s;
  RawConn c(s.server.port());
  for (auto [name, bits] : {std::pair{"gzip", 15 + 16}, std::pair{"deflate", 15}, std::pair{"deflate", -15},
                            std::pair{"GZip", 15 + 16}}) {
    SCOPED_TRACE(std::string(name) + " " + std::to_string(bits));
    ASSERT_TRUE(c.send(post_request("/x", compress(kBody, bits), std::string("Content-Encoding: ") + name + "\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, kBody);
    EXPECT_EQ(r->header("X-Encoding"), "identity");
  }
  ASSERT_TRUE(c.send(post_request("/x", kBody, "Content-Encoding: identity\r\n")));
  auto plain = c.read_response();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->body, kBody);
}

TEST(ContentCoding, WhatCannotBeDecodedIsRefusedAndTheConnectionGoesOn) {
  Server s(8192);  // kBody inflates to ~4 KB; a larger one past this limit
  RawConn c(s.server.port());
  ASSERT_TRUE(c.send(post_request("/x", kBody, "Content-Encoding: br\r\n")));
  auto br = c.read_response();
  ASSERT_TRUE(br);
  EXPECT_EQ(br->status, 415);
  EXPECT_NE(br->body.find("\"error\""), std::string::npos);
  std::string corrupt = compress(kBody, 15 + 16);
  corrupt[corrupt.size() / 2] ^= 0x5a;
  ASSERT_TRUE(c.send(post_request("/x", corrupt, "Content-Encoding: gzip\r\n")));
  auto bad = c.read_response();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  ASSERT_TRUE(c.send(post_request("/x", "not compressed at all", "Content-Encoding: gzip\r\n")));
  auto plain = c.read_response();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 400);
  // A few hundred bytes that inflate to a megabyte: refused at the limit, not inflated whole.
  ASSERT_TRUE(c.send(post_request("/x", compress(std::string(1 << 20, 'a'), 15 + 16), "Content-Encoding: gzip\r\n")));
  auto bomb = c.read_response();
  ASSERT_TRUE(bomb);
  EXPECT_EQ(bomb->status, 413);
  // The connection still serves.
  ASSERT_TRUE(c.send(post_request("/x", compress(kBody, 15 + 16), "Content-Encoding: gzip\r\n")));
  auto ok = c.read_response();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, kBody);
}

}  // namespace
}  // namespace hir::net::testing
