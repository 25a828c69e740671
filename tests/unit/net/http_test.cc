#include "net/http.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "net/wire.h"

namespace hir::net {
namespace {

TEST(Headers, GetIsCaseInsensitive) {
  Headers h;
  h.add("Content-Type", "application/json");
  EXPECT_EQ(h.get("content-type").value(), "application/json");
  EXPECT_EQ(h.get("CONTENT-TYPE").value(), "application/json");
  EXPECT_FALSE(h.get("content-length").has_value());
}

TEST(Headers, SetReplacesEveryCopyAndAddAppends) {
  Headers h;
  h.add("X-A", "1");
  h.add("x-a", "2");
  h.set("X-a", "3");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.get("x-A").value(), "3");
  h.set("X-B", "4");
  h.add("X-B", "5");
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.get("x-b").value(), "4");  // the first one wins on get
}

TEST(Headers, KeepTheirOrderAndTakeValuesFromThemselves) {
  Headers h;
  const std::string long_value(300, 'x');  // past the reserved text: the next append moves it
  h.add("A", long_value);
  h.set("B", *h.get("a"));
  for (int i = 0; i < 40; ++i) h.add("C" + std::to_string(i), *h.get("A"));
  h.set("A", *h.get("C39"));
  h.add("D", *h.get("b"));
  ASSERT_EQ(h.size(), 43u);
  EXPECT_EQ(h[0].first, "A");
  EXPECT_EQ(h[1].first, "B");
  EXPECT_EQ(h[42].first, "D");
  size_t n = 0;
  for (const auto [name, value] : h) {
    EXPECT_EQ(value, long_value) << name;
    ++n;
  }
  EXPECT_EQ(n, h.size());
  h.set("c0", "");
  EXPECT_EQ(h.get("C0").value(), "");
  EXPECT_EQ(h.size(), 43u);
}

TEST(ErrorResponse, IsJsonWithEscaping) {
  HttpResponse r = error_response(404, "model \"m\" not found\n\\ \x01");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.get("content-type").value(), "application/json");
  EXPECT_EQ(r.body, R"({"error":"model \"m\" not found\n\\ \u0001"})");
}

TEST(ErrorResponse, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(error_response(400, "caf\xc3\xa9").body, "{\"error\":\"caf\xc3\xa9\"}");
  EXPECT_EQ(error_response(400, "a\xff" "b").body, R"({"error":"a\ufffdb"})");
  EXPECT_EQ(error_response(400, "\xc3").body, R"({"error":"\ufffd"})");  // truncated sequence
  EXPECT_EQ(error_response(400, "\xed\xa0\x80").body,  // a UTF-16 surrogate is not UTF-8
            R"({"error":"\ufffd\ufffd\ufffd"})");
}

TEST(JsonResponse, SetsContentType) {
  HttpResponse r = json_response(201, R"({"a":1})");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"a":1})");
  EXPECT_EQ(r.headers.get("Content-Type").value(), "application/json");
}

TEST(PathOf, DropsQuery) {
  EXPECT_EQ(path_of("/v2/models/m/infer?x=1"), "/v2/models/m/infer");
  EXPECT_EQ(path_of("/v2/health/ready"), "/v2/health/ready");
  EXPECT_EQ(path_of("/?"), "/");
  EXPECT_EQ(path_of(""), "");
  EXPECT_EQ(path_of("/a#b?c"), "/a");
  EXPECT_EQ(path_of("/a?b#c"), "/a");
}

// The scan takes sixteen bytes a step: a '?' or '#' at every place of a long target, in a step
// or in the bytes after the last whole one, ends the path there.
TEST(PathOf, FindsTheEndAtEveryPlace) {
  const std::string base(40, 'p');
  for (char end : {'?', '#'}) {
    for (size_t at = 0; at < base.size(); ++at) {
      std::string target = base;
      target[at] = end;
      EXPECT_EQ(path_of(target), base.substr(0, at)) << end << " at " << at;
    }
  }
  EXPECT_EQ(path_of(base), base);
}

TEST(Wire, ResponseHeadFramesTheBody) {
  HttpResponse r = json_response(200, "{}");
  r.headers.add("Content-Length", "999");  // a handler's framing header is ignored
  r.headers.add("X-Bad", "a\r\nInjected: yes");
  std::string head;
  wire::append_response_head(head, r, 11, false, "hir");
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nServer: hir\r\n"
            "Content-Length: 2\r\nConnection: close\r\n\r\n");
  head.clear();
  wire::append_response_head(head, HttpResponse{204, {}, ""}, 10, true, "hir");
  EXPECT_EQ(head, "HTTP/1.0 204 No Content\r\nServer: hir\r\nConnection: keep-alive\r\n\r\n");
}

// Lines written whole by the response's maker go out as they are, after the status line; the
// header list after them is checked field by field as ever.
TEST(Wire, PrewrittenLinesGoOutAsTheyAreAndTheListIsCheckedAfterThem) {
  HttpResponse r{200, {}, "{}"};
  r.prewritten = "Content-Type: application/json\r\nx-request-id: abc\r\n";
  r.headers.add("Connection", "upgrade");  // a framing field: left out
  r.headers.add("X-Bad", "a\r\nInjected: yes");
  r.headers.add("Server", "other");  // the handler's own Server replaces hir's
  std::string head;
  wire::append_response_head(head, r, 11, true, "hir");
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: abc\r\nServer: other\r\n"
            "Content-Length: 2\r\n\r\n");
  EXPECT_FALSE(r.headers.get("x-request-id").has_value());  // not a listed field
  r.headers = {};
  head.clear();
  wire::append_response_head(head, r, 10, false, "hir");
  EXPECT_EQ(head,
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nx-request-id: abc\r\nServer: hir\r\n"
            "Content-Length: 2\r\nConnection: close\r\n\r\n");
}

TEST(Wire, RequestHeadSetsHostAndLength) {
  HttpRequest req;
  req.method = "POST";
  req.body = "abc";
  req.headers.add("host", "ignored");
  req.headers.add("X-Trace", "1");
  std::string head;
  wire::append_request_head(head, req, "/base/x", "h:80");
  EXPECT_EQ(head, "POST /base/x HTTP/1.1\r\nHost: h:80\r\nX-Trace: 1\r\nContent-Length: 3\r\n\r\n");
}

TEST(Wire, HeaderSafeFindsCrLfNulAtEveryPosition) {
  for (size_t len = 1; len <= 24; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (char bad : {'\r', '\n', '\0'}) {
        std::string v(len, 'a');
        v[at] = bad;
        EXPECT_FALSE(wire::header_safe("X-Test", v)) << len << " " << at << " " << int(bad);
      }
    }
  }
  std::string all;
  for (int c = 1; c < 256; ++c)
    if (c != '\r' && c != '\n') all += static_cast<char>(c);
  for (size_t from = 0; from < all.size(); ++from) EXPECT_TRUE(wire::header_safe("X-Test", all.substr(from)));
  // Bytes one away from the refused ones (where a borrow could confuse a word test) pass.
  EXPECT_TRUE(wire::header_safe("X-Test", std::string("\x0b\x0c\x0e\x09\x01\x0b\x0c\x0e\x0f", 9)));
  EXPECT_TRUE(wire::header_safe("X-Test", ""));
  EXPECT_FALSE(wire::header_safe("X Test", "v"));
  EXPECT_FALSE(wire::header_safe("", "v"));
}

// The word-at-a-time comparison against the plain definition, on strings of every length to 40
// that differ from a copy in case, in one byte, or by a byte of every value.
TEST(Wire, IequalsMatchesTheBytewiseDefinition) {
  auto reference = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    auto low = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    for (size_t i = 0; i < a.size(); ++i)
      if (low(a[i]) != low(b[i])) return false;
    return true;
  };
  std::mt19937 rng(7);
  size_t equal = 0, checked = 0;
  for (int round = 0; round < 20000; ++round) {
    const size_t n = rng() % 41;
    std::string a(n, ' ');
    // Mostly letters and the bytes next to them, so that near-misses are common.
    const std::string pool = "azAZ@[`{-09_ \x7f\x80\xc1\xe1\xff";
    for (auto& c : a) c = rng() % 3 ? static_cast<char>('a' + rng() % 26) : pool[rng() % pool.size()];
    std::string b = a;
    for (auto& c : b)
      if (rng() % 2) c = static_cast<char>(c ^ 0x20);
    if (n > 0 && rng() % 4 == 0) b[rng() % n] = static_cast<char>(rng() % 256);
    const bool want = reference(a, b);
    ASSERT_EQ(wire::iequals(a, b), want) << "'" << a << "' vs '" << b << "'";
    ASSERT_EQ(wire::iequals(b, a), want);
    equal += want;
    ++checked;
  }
  EXPECT_GT(equal, checked / 10);       // both outcomes are exercised
  EXPECT_LT(equal, checked * 9 / 10);
  EXPECT_TRUE(wire::iequals("Inference-Header-Content-Length", "inference-header-content-length"));
  EXPECT_FALSE(wire::iequals("inference-header-content-lengtH", "inference-header-content-lengt["));
}

}  // namespace
}  // namespace hir::net
