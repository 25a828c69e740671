#include "net/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "core/process.h"
#include "net_test_util.h"

namespace hir::net {
namespace {

using namespace std::chrono_literals;
using testing::get_request;
using testing::LoopThread;
using testing::post_request;
using testing::RawConn;
using testing::wait_until;

// Echoes what it received, so tests can check the request side too.
void echo(HttpRequest&& req, Responder respond) {
  HttpResponse r;
  r.headers.set("X-Method", req.method);
  r.headers.set("X-Path", std::string(path_of(req.target)));
  r.headers.set("X-Remote", req.remote);
  if (auto v = req.headers.get("x-test")) r.headers.set("X-Test", std::string(*v));
  r.body = req.body;
  respond(std::move(r));
}

// Holds responders until the test answers them.
struct Parked {
  std::mutex mu;
  std::vector<Responder> responders;
  Handler handler() {
    return [this](HttpRequest&&, Responder r) {
      std::lock_guard lk(mu);
      responders.push_back(std::move(r));
    };
  }
  size_t count() {
    std::lock_guard lk(mu);
    return responders.size();
  }
  void answer(size_t i, std::string body) {
    Responder r;
    {
      std::lock_guard lk(mu);
      r = responders.at(i);
    }
    HttpResponse res;
    res.body = std::move(body);
    r(std::move(res));
  }
};

struct ServerFixture {
  explicit ServerFixture(Handler h, ServerOptions o = {}, int threads = 1)
      : lt(threads), server(lt.loop, std::move(o), std::move(h)) {
    Status s = server.listen();
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
  uint16_t port() const { return server.port(); }
  LoopThread lt;
  HttpServer server;
};

TEST(HttpServer, GetAndPostRoundTrip) {
  ServerFixture f(echo);
  ASSERT_NE(f.port(), 0);
  RawConn c(f.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(get_request("/v2/health/ready?x=1", "X-Test: yes\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("X-Method"), "GET");
  EXPECT_EQ(r->header("X-Path"), "/v2/health/ready");
  EXPECT_EQ(r->header("x-test"), "yes");
  EXPECT_EQ(r->header("Server"), "hir");
  EXPECT_EQ(r->header("Content-Length"), "0");
  EXPECT_TRUE(r->header("X-Remote")->starts_with("127.0.0.1:"));

  ASSERT_TRUE(c.send(post_request("/v2/models/m/infer", R"({"inputs":[]})")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Method"), "POST");
  EXPECT_EQ(r->body, R"({"inputs":[]})");
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  ServerFixture f(echo);
  RawConn c(f.port());
  ASSERT_TRUE(c.send(get_request("/a")));
  auto r1 = c.read_response();
  ASSERT_TRUE(c.send(get_request("/b")));
  auto r2 = c.read_response();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->header("X-Remote"), r2->header("X-Remote"));  // same client port: one connection
  EXPECT_FALSE(r2->header("Connection").has_value());
  EXPECT_EQ(f.server.connections(), 1u);
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  Parked parked;
  ServerFixture f(parked.handler(), {}, 2);
  RawConn c(f.port());
  ASSERT_TRUE(c.send(get_request("/1") + get_request("/2")));
  ASSERT_TRUE(wait_until([&] { return parked.count() == 1; }));
  parked.answer(0, "first");
  ASSERT_TRUE(wait_until([&] { return parked.count() == 2; }));  // read only after the first
  parked.answer(1, "second");
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->body, "first");
  EXPECT_EQ(r2->body, "second");
}

// Requests cut into small pieces, a header split mid-line and a chunked body included, and sent
// back to back: each is parsed whole, from what is buffered and what is read next.
TEST(HttpServer, RequestsArrivingInPiecesAreParsedWhole) {
  ServerFixture f(echo);
  RawConn c(f.port());
  const std::string body(3000, 'x');
  const std::string all = "POST /a HTTP/1.1\r\nHost: h\r\nX-Test: one\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body +
                          "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" +
                          "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t i = 0; i < all.size(); i += 7) {
    ASSERT_TRUE(c.send(std::string_view(all).substr(i, 7)));
    if (i % 350 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // separate reads
  }
  auto a = c.read_response();
  auto b = c.read_response();
  auto g = c.read_response();
  ASSERT_TRUE(a && b && g);
  EXPECT_EQ(a->body, body);
  EXPECT_EQ(a->header("x-test").value_or(""), "one");
  EXPECT_EQ(b->body, "hello world");
  EXPECT_EQ(g->header("x-path").value_or(""), "/c");
  EXPECT_EQ(g->body, "");
}

// A head that comes whole with only part of its body (the reader that takes common heads,
// net/fast_head.h): the rest of the body is read in later pieces, the next request after it on
// the same connection is read too; a body cut short by the peer's close is not answered as if
// whole.
TEST(HttpServer, ABodyFollowingItsHeadInLaterReadsIsReadWhole) {
  std::atomic<int> posts{0};
  ServerFixture f([&posts](HttpRequest&& req, Responder respond) {
    if (req.target == "/p") ++posts;
    echo(std::move(req), std::move(respond));
  });
  RawConn c(f.port());
  const std::string body(5000, 'y');
  const std::string head = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n";
  ASSERT_TRUE(c.send(head + body.substr(0, 100)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(c.send(body.substr(100, 2000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(c.send(body.substr(2100) + get_request("/next")));
  auto r = c.read_response();
  auto next = c.read_response();
  ASSERT_TRUE(r && next);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(next->header("x-path").value_or(""), "/next");

  RawConn cut(f.port());
  ASSERT_TRUE(cut.send(head + body.substr(0, 10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cut.close();
  RawConn after(f.port());  // the server is still up and answers the next client
  ASSERT_TRUE(after.send(get_request("/after")));
  auto a = after.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->header("x-path").value_or(""), "/after");
  EXPECT_EQ(posts.load(), 1);  // the cut body never reached the handler
}

// Bodies announced large and sent slowly: the server holds what has arrived, not what the
// Content-Length promises (which only the body limit bounds), so a few such clients cannot make
// it commit memory it may never fill.
TEST(HttpServer, AnAnnouncedBodyTakesMemoryOnlyAsItArrives) {
  ServerOptions o;
  o.max_body_bytes = size_t{512} << 20;
  ServerFixture f(echo, o);
  const long before = resident_kb();
  ASSERT_GT(before, 0);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 4; ++i) {
    conns.push_back(std::make_unique<RawConn>(f.port()));
    ASSERT_TRUE(conns.back()->send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 200000000\r\n\r\n" +
                                   std::string(1000, 'x')));
  }
  ASSERT_TRUE(wait_until([&] { return f.server.connections() == 4; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server read what was sent
  const long grown_kb = resident_kb() - before;
  EXPECT_LT(grown_kb, 100 * 1024) << "4 bodies of 200 MB announced, 4 KB sent";
}

// With several loop threads a connection stays on one of them (no strand guards it: its context
// has one thread), and connections are spread over the threads.
TEST(HttpServer, AConnectionStaysOnOneThreadAndConnectionsSpreadOverThreads) {
  std::mutex mu;
  std::map<std::string, std::set<std::thread::id>> by_remote;
  ServerFixture f([&](HttpRequest&& req, Responder respond) {
    {
      std::lock_guard lk(mu);
      by_remote[req.remote].insert(std::this_thread::get_id());
    }
    respond(json_response(200, "{}"));
  }, {}, 3);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 9; ++i) conns.push_back(std::make_unique<RawConn>(f.port()));
  for (int round = 0; round < 5; ++round) {
    for (auto& c : conns) {
      ASSERT_TRUE(c->send(get_request("/x")));
      auto r = c->read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
    }
  }
  std::lock_guard lk(mu);
  ASSERT_EQ(by_remote.size(), 9u);
  std::set<std::thread::id> all;
  for (const auto& [remote, ids] : by_remote) {
    EXPECT_EQ(ids.size(), 1u) << remote;
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_GE(all.size(), 2u);  // round-robin over 3 contexts gives 3; any spread shows it works
}

// A handler that answers each request from a thread of its own after `delay`, echoing the body
// (and, with `twice`, calling the responder a second time, which must be ignored).
struct LateAnswers {
  explicit LateAnswers(std::chrono::milliseconds d, bool t = false) : delay(d), twice(t) {}
  ~LateAnswers() {
    std::lock_guard lk(mu);
    for (auto& t : threads) t.join();
  }
  Handler handler() {
    return [this](HttpRequest&& req, Responder respond) {
      std::lock_guard lk(mu);
      threads.emplace_back([this, body = req.body, respond] {
        std::this_thread::sleep_for(delay);
        respond(json_response(200, body));
        if (twice) respond(json_response(500, "ignored"));
      });
    };
  }
  const std::chrono::milliseconds delay;
  const bool twice;
  std::mutex mu;
  std::vector<std::thread> threads;
};

// Two requests on one connection, each answered late: both answers come, and in order.
void expect_late_answers(uint16_t port) {
  RawConn c(port);
  for (std::string body : {"late", "again"}) {
    ASSERT_TRUE(c.send(post_request("/x", body)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, body);
  }
}

TEST(HttpServer, ResponderCalledLaterFromAnotherThread) {
  LateAnswers late(10ms, true);
  ServerFixture f(late.handler(), {}, 2);
  expect_late_answers(f.port());
}

TEST(HttpServer, DroppedResponderAnswers500AndThrowingHandlerToo) {
  ServerFixture f([](HttpRequest&& req, Responder) {
    if (req.target == "/throw") throw std::runtime_error("boom");
  });
  RawConn c(f.port());
  ASSERT_TRUE(c.send(get_request("/drop")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  ASSERT_TRUE(c.send(get_request("/throw")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("boom"), std::string::npos);
}

TEST(HttpServer, BodyOverLimitIs413AndServerStillServes) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  ServerFixture f(echo, o);
  {
    RawConn c(f.port());
    ASSERT_TRUE(c.send(post_request("/big", std::string(4096, 'x'))));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_EQ(r->body, R"({"error":"request body too large: the limit is 1024 bytes"})");
    EXPECT_TRUE(c.wait_closed());
  }
  {  // chunked bodies count too
    RawConn c(f.port());
    std::string chunk(2000, 'y');
    ASSERT_TRUE(c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" +
                       chunk + "\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, R"({"error":"request body too large: the limit is 1024 bytes"})");
  }
  RawConn ok(f.port());
  ASSERT_TRUE(ok.send(post_request("/small", std::string(1024, 'x'))));
  auto r = ok.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1024u);
}

TEST(HttpServer, HeaderOverLimitIs431) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  ServerFixture f(echo, o);
  RawConn c(f.port());
  ASSERT_TRUE(c.send(get_request("/", "X-Big: " + std::string(4096, 'h') + "\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  EXPECT_EQ(r->body, R"({"error":"request header too large: the limit is 1024 bytes"})");
  EXPECT_TRUE(c.wait_closed());
}

// The head is counted whole: Beast parses each complete field as it arrives and bounds only what
// it has not parsed yet, so a head of millions of tiny fields passed the limit field by field
// (and grew the request's headers without bound).
TEST(HttpServer, AHeadOfManySmallFieldsIsCountedWhole) {
  ServerFixture f(echo);  // the default 16 KiB limit, past the 8 KiB reads
  RawConn c(f.port());
  std::string head = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n";  // 39 bytes: each read ends 1 byte into a field
  for (int i = 0; i < (256 << 10) / 4; ++i) head += "a:\r\n";
  ASSERT_TRUE(c.send(head + "\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

// RFC 9112 §3.2: an HTTP/1.1 request names exactly one Host; an absolute-form target is taken
// (by its path); empty lines before a request line are skipped (§2.2).
TEST(HttpServer, HostIsRequiredOnceAndAbsoluteTargetsAreRead) {
  ServerFixture f(echo);
  for (std::string bad : {"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}) {
    RawConn c(f.port());
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
  }
  RawConn c(f.port());
  ASSERT_TRUE(c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));  // 1.0: no Host needed
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(c.send("\r\nGET HTTP://example.com:8080/v2/health/live?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("X-Path"), "/v2/health/live");
}

// A trailer field is not merged into the head (RFC 9110 §6.5.1): what a front proxy checked in
// the head cannot be changed from the end of the body.
TEST(HttpServer, TrailerFieldsAreNotHeaders) {
  ServerFixture f(echo);
  RawConn c(f.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Test: from-the-trailer\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "abc");
  EXPECT_FALSE(r->header("X-Test").has_value());
}

// Chunked after another transfer coding is framed but not decoded here: 501 (RFC 9112 §6.1).
TEST(HttpServer, AnotherTransferCodingBeforeChunkedIs501) {
  ServerFixture f(echo);
  RawConn c(f.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  EXPECT_TRUE(c.wait_closed());
}

// The answer names the kind of error (Beast's fixed message), never the bytes the client sent.
TEST(HttpServer, MalformedRequestIs400ThenClose) {
  ServerFixture f(echo);
  const std::pair<std::string, std::string> cases[] = {
      {"NOT A REQUEST\r\n\r\n", "bad version"},
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "bad target"},
      {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", "bad method"},
      {"GET / HTTP/9.x\r\nHost: a\r\n\r\n", "bad version"},
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "bad field"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: nope\r\n\r\n", "bad Content-Length"}};
  for (const auto& [bad, kind] : cases) {
    RawConn c(f.port());
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(r->body, R"({"error":"malformed HTTP request: )" + kind + R"("})") << bad;
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
  }
}

// A transfer coding the server cannot frame the body by (not ending in chunked), or any transfer
// coding from HTTP/1.0, is refused with a 400 and the connection closed (RFC 9112 §6.1, §6.3):
// read as having no body, the body would be served as the next request.
TEST(HttpServer, ATransferCodingItCannotFrameIs400ThenClose) {
  ServerFixture f(echo);
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  for (std::string head : {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n",
                           "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n",
                           "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n",
                           "POST /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"}) {
    RawConn c(f.port());
    ASSERT_TRUE(c.send(head + "\r\n" + smuggled));
    auto r = c.read_response();
    ASSERT_TRUE(r) << head;
    EXPECT_EQ(r->status, 400) << head;
    EXPECT_EQ(r->header("Connection"), "close") << head;
    EXPECT_TRUE(c.wait_closed()) << head;  // and no answer for the smuggled request
  }
  // A chunked body on HTTP/1.1 is read as such.
  RawConn c(f.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "abc");
}

// A chunk's size line or the trailer section that never ends is cut off once it passes the header
// limit, with a 400, instead of being buffered until the body timeout.
TEST(HttpServer, AnEndlessChunkLineOrTrailerIs400) {
  ServerOptions o;
  o.max_header_bytes = 4096;
  o.body_timeout = 30s;  // far beyond the test's guard: only the limit can end these
  ServerFixture f(echo, o);
  const std::string head = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::string body : {"1;ext=" + std::string(64 << 10, 'e'), "1\r\na\r\n0\r\nX-Trailer: " + std::string(64 << 10, 't')}) {
    RawConn c(f.port());
    ASSERT_TRUE(c.send(head + body));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(c.wait_closed());
  }
}

TEST(HttpServer, Http10AndConnectionCloseEndTheConnection) {
  ServerFixture f(echo);
  {
    RawConn c(f.port());
    ASSERT_TRUE(c.send("GET / HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->head.starts_with("HTTP/1.0 200"));
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawConn c(f.port());
    ASSERT_TRUE(c.send(get_request("/", "Connection: close\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
  }
  {  // HTTP/1.0 that asks for keep-alive keeps it
    RawConn c(f.port());
    ASSERT_TRUE(c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Connection"), "keep-alive");
    ASSERT_TRUE(c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    EXPECT_TRUE(c.read_response());
  }
}

TEST(HttpServer, HeadAndExpectContinue) {
  ServerFixture f([](HttpRequest&& req, Responder respond) {
    respond(json_response(200, req.method == "HEAD" ? "{\"x\":1}" : req.body));
  });
  RawConn c(f.port());
  ASSERT_TRUE(c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response(/*head=*/true);  // Content-Length 7, but no body follows
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Length"), "7");
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  // Raw check: the interim answer comes before the body is sent.
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("body"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "body");
}

TEST(HttpServer, IdleAndHeaderTimeoutsClose) {
  ServerOptions o;
  o.idle_timeout = 50ms;
  o.header_timeout = 50ms;
  ServerFixture f(echo, o);
  RawConn idle(f.port());
  ASSERT_TRUE(idle.send(get_request("/")));
  ASSERT_TRUE(idle.read_response());
  EXPECT_TRUE(idle.wait_closed());
  RawConn silent(f.port());  // connects and never sends a byte
  EXPECT_TRUE(silent.wait_closed());
  EXPECT_TRUE(wait_until([&] { return f.server.connections() == 0; }));
}

// The read timeouts bound reading a request, not the handler's work: an answer that comes after
// them still goes out, and the connection still serves the next request.
TEST(HttpServer, AHandlerSlowerThanTheReadTimeoutsStillAnswers) {
  ServerOptions o;
  o.header_timeout = 200ms;
  o.body_timeout = 200ms;
  LateAnswers late(600ms);  // longer than both timeouts; not a timing assertion
  ServerFixture f(late.handler(), o);
  expect_late_answers(f.port());
}

// A keep-alive connection waits under idle_timeout; its next request's header then gets the
// shorter header_timeout, which must take effect although the idle deadline was later.
TEST(HttpServer, ASlowHeaderAfterAKeepAliveWaitIsCutOffByTheHeaderTimeout) {
  ServerOptions o;
  o.idle_timeout = std::chrono::seconds(30);
  o.header_timeout = 200ms;
  ServerFixture f(echo, o);
  RawConn c(f.port());
  ASSERT_TRUE(c.send(get_request("/")));
  ASSERT_TRUE(c.read_response());
  // Long enough for the connection's timer to be set for the idle deadline (not a timing
  // assertion: a shorter wait only tests less).
  std::this_thread::sleep_for(400ms);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finished
  EXPECT_TRUE(c.wait_closed());  // within the guard, long before the idle timeout
}

TEST(HttpServer, ConnectionsBeyondTheCapAreClosed) {
  ServerOptions o;
  o.max_connections = 1;
  ServerFixture f(echo, o);
  auto a = std::make_unique<RawConn>(f.port());
  ASSERT_TRUE(a->send(get_request("/a")));
  ASSERT_TRUE(a->read_response());
  ASSERT_EQ(f.server.connections(), 1u);
  RawConn b(f.port());
  b.send(get_request("/b"));  // may fail if the close already arrived
  EXPECT_FALSE(b.read_response());
  a.reset();
  ASSERT_TRUE(wait_until([&] { return f.server.connections() == 0; }));
  RawConn c(f.port());
  ASSERT_TRUE(c.send(get_request("/c")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, GracefulShutdownAnswersInFlightThenCallsDone) {
  Parked parked;
  ServerFixture f([&](HttpRequest&& req, Responder respond) {
    if (req.target == "/slow") return parked.handler()(std::move(req), std::move(respond));
    echo(std::move(req), std::move(respond));
  });
  RawConn idle(f.port());  // an idle keep-alive connection
  ASSERT_TRUE(idle.send(get_request("/fast")));
  ASSERT_TRUE(idle.read_response());
  RawConn busy(f.port());
  ASSERT_TRUE(busy.send(get_request("/slow")));
  ASSERT_TRUE(wait_until([&] { return parked.count() == 1; }));
  EXPECT_EQ(f.server.requests_in_flight(), 1u);
  RawConn half(f.port());  // a client that stopped mid-header: no request yet
  ASSERT_TRUE(half.send("GET /never HTTP/1.1\r\nHo"));
  ASSERT_TRUE(wait_until([&] { return f.server.connections() == 3; }));

  std::atomic<bool> done{false};
  f.server.shutdown(std::chrono::seconds(60), [&] { done = true; });
  EXPECT_TRUE(idle.wait_closed());  // idle ones go at once
  EXPECT_TRUE(half.wait_closed());  // and so does one with no whole head (it held the drain)
  RawConn late(f.port());
  EXPECT_FALSE(late.connected() && late.send(get_request("/")) && late.read_response());
  EXPECT_FALSE(done.load());  // the slow request is still in flight

  parked.answer(0, "finished");
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(wait_until([&] { return done.load(); }));
  EXPECT_EQ(f.server.connections(), 0u);
  EXPECT_EQ(f.server.requests_in_flight(), 0u);
}

TEST(HttpServer, ShutdownClosesWhatOutlivesTheGrace) {
  Parked parked;
  ServerFixture f(parked.handler());
  RawConn busy(f.port());
  ASSERT_TRUE(busy.send(get_request("/never")));
  ASSERT_TRUE(wait_until([&] { return parked.count() == 1; }));
  std::atomic<bool> done{false};
  f.server.shutdown(10ms, [&] { done = true; });
  EXPECT_TRUE(wait_until([&] { return done.load(); }));
  EXPECT_TRUE(busy.wait_closed());
  parked.answer(0, "too late");  // harmless after the connection is gone
}

TEST(HttpServer, ShutdownWithNothingOpenCallsDone) {
  ServerFixture f(echo);
  std::atomic<int> done{0};
  f.server.shutdown(1s, [&] { done.fetch_add(1); });
  EXPECT_TRUE(wait_until([&] { return done.load() == 1; }));
  f.server.shutdown(1s, [&] { done.fetch_add(1); });  // a second call is answered too
  EXPECT_TRUE(wait_until([&] { return done.load() == 2; }));
}

TEST(HttpServer, ListenErrorsAreStatuses) {
  ServerFixture f(echo);
  LoopThread lt;
  ServerOptions o;
  o.port = f.port();  // taken
  HttpServer dup(lt.loop, o, echo);
  Status s = dup.listen();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.to_string();
  o.port = 0;
  o.host = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  HttpServer foreign(lt.loop, o, echo);
  EXPECT_FALSE(foreign.listen().ok());
}

// The message must carry the bind error, not the "Success" of the close that follows it.
TEST(HttpServer, ListenOnATakenPortSaysWhy) {
  ServerFixture f(echo);
  LoopThread lt;
  ServerOptions o;
  o.port = f.port();
  HttpServer dup(lt.loop, o, echo);
  Status s = dup.listen();
  ASSERT_FALSE(s.ok());
  const std::string& m = s.message();
  EXPECT_NE(m.find(":" + std::to_string(f.port())), std::string::npos) << m;
  EXPECT_TRUE(m.find("in use") != std::string::npos ||
              m.find(std::strerror(EADDRINUSE)) != std::string::npos)
      << m;
  EXPECT_EQ(m.find("Success"), std::string::npos) << m;
  // The failed attempt closed its socket, so a retry fails the same way, not "already listening".
  EXPECT_EQ(dup.listen().code(), Code::kUnavailable);
}

TEST(HttpServer, ManyConcurrentConnectionsOnSeveralThreads) {
  ServerFixture f(echo, {}, 3);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      RawConn c(f.port());
      for (int k = 0; k < 20; ++k) {
        std::string body = std::to_string(i) + "/" + std::to_string(k);
        if (!c.send(post_request("/e", body))) return;
        auto r = c.read_response();
        if (r && r->body == body) ok.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 160);
}

}  // namespace
}  // namespace hir::net
