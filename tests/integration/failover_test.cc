// Failover and error mapping of hir serve against scripted in-process targets: each stub answers
// every infer call the same way (5xx, garbage, too late, a non-JSON 4xx, or a good answer).
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "harness.h"
#include "net/server.h"
#include "protocol/v2_codec.h"
#include "testing/ports.h"

using namespace hir;
using namespace hir::testing;

namespace {

enum class Mode { kOk, k500, k503, kGarbage, kSlow, kHtml400, kLate };

class Stub {
 public:
  explicit Stub(Mode mode) : mode_(mode) {
    net::ServerOptions o;
    o.port = 0;
    server_ = std::make_unique<net::HttpServer>(loop_, o, [this](net::HttpRequest&& r, net::Responder done) {
      handle(std::move(r), std::move(done));
    });
    EXPECT_TRUE(server_->listen().ok());
    thread_ = std::thread([this] { loop_.run(1); });
  }
  ~Stub() {
    loop_.post([this] { server_->shutdown(Duration::zero(), [this] { loop_.stop(); }); });
    thread_.join();
    server_.reset();
  }
  int port() const { return server_->port(); }
  void set_mode(Mode m) { mode_ = m; }
  int calls() const { return calls_; }
  std::string last_body() {
    std::lock_guard l(mu_);
    return last_body_;
  }

 private:
  void handle(net::HttpRequest&& r, net::Responder done) {
    // Only inference calls are scripted; anything else (the router's load polls) finds no such
    // endpoint, as on a target that reports no load.
    if (r.target.find("/infer") == std::string::npos) return done(net::error_response(404, "Not Found"));
    ++calls_;
    {
      std::lock_guard l(mu_);
      last_body_ = r.body;
    }
    switch (mode_.load()) {
      case Mode::kOk: {
        std::string body = R"({"model_name":"stub","outputs":[{"name":"probabilities","datatype":"FP32",)"
                            R"("shape":[1,10],"data":[0,0,0,1,0,0,0,0,0,0]}]})";
        return done(net::json_response(200, body));
      }
      case Mode::k500: return done(net::error_response(500, "model crashed"));
      case Mode::k503: return done(net::error_response(503, "queue full"));
      case Mode::kGarbage: return done(net::json_response(200, "<<not json>>"));
      case Mode::kHtml400: {
        net::HttpResponse h{400, {}, "<html>bad request</html>"};
        h.headers.set("Content-Type", "text/html");
        return done(std::move(h));
      }
      case Mode::kLate:  // a healthy target that takes 300 ms
        slow_.push_back(loop_.run_after(std::chrono::milliseconds(300), [done] {
          done(net::json_response(200, R"({"model_name":"stub","outputs":[{"name":"probabilities","datatype":"FP32",)"
                                       R"("shape":[1,10],"data":[0,0,0,1,0,0,0,0,0,0]}]})"));
        }));
        return;
      case Mode::kSlow:
        slow_.push_back(loop_.run_after(std::chrono::seconds(5), [done] {
          done(net::error_response(500, "too late"));
        }));
        return;
    }
  }

  std::atomic<Mode> mode_;
  net::EventLoop loop_;
  std::unique_ptr<net::HttpServer> server_;
  std::thread thread_;
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::string last_body_;
  std::vector<std::shared_ptr<net::EventLoop::Timer>> slow_;
};

// A target that answers each inference call with the same raw bytes, answers hir's HTTP server
// never sends (a 101, a head promising 100 MB), and anything else (the router's load polls)
// with a 404. One connection at a time: each is closed once answered.
class RawTarget {
 public:
  explicit RawTarget(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawTarget() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{2, 0};  // no read here waits longer
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string head;
      char buf[4096];
      ssize_t n = 1;
      while (head.find("\r\n\r\n") == std::string::npos && (n = ::recv(c, buf, sizeof buf, 0)) > 0)
        head.append(buf, static_cast<size_t>(n));
      const bool infer = head.substr(0, head.find("\r\n")).find("/infer") != std::string::npos;
      const std::string out = infer ? reply_ : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::shutdown(c, SHUT_WR);
      while (::recv(c, buf, sizeof buf, 0) > 0) {  // until the router closes its side
      }
      ::close(c);
    }
  }

  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string request_body(const std::string& params = "") {
  std::string body = R"({"id":"f1",)" + params + R"("inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 784; ++i) body += i ? ",0" : "0";
  return body + "]}]}";
}

net::HttpResponse infer(const Proc& router, const std::string& body) {
  net::Headers h;
  h.set("Content-Type", "application/json");
  return call(router.port, "POST", "/v2/models/fmnist/infer", body, h);
}

class FailoverIT : public ::testing::Test {
 protected:
  std::string dir_ = temp_dir();
};

}  // namespace

TEST_F(FailoverIT, FailsOverOn5xxAndGarbage) {
  for (Mode bad : {Mode::k500, Mode::kGarbage}) {
    Stub first(bad), second(Mode::kOk);
    auto r = start_router(dir_, {{"first", first.port(), "edge-cpu", "v1"}, {"second", second.port(), "cloud", "v2"}});
    auto res = infer(r, request_body());
    ASSERT_EQ(res.status, 200) << res.body;
    auto d = decode(res);
    EXPECT_EQ(param_string(d.parameters, "hir_target").value_or(""), "second");
    EXPECT_EQ(param_number(d.parameters, "hir_fallbacks").value_or(-1), 1);
    EXPECT_EQ(d.model_name, "fmnist");
    EXPECT_EQ(d.id, "f1");
    EXPECT_EQ(first.calls(), 1);
    // The first target ran the request too, and failed: the request paid both (0.0001 each).
    EXPECT_NEAR(param_number(d.parameters, "hir_cost_usd").value_or(-1), 0.0002, 1e-12);
    EXPECT_NE(call(r.port, "GET", "/metrics").body.find(R"(hir_cost_usd_total{target="first"} 0.0001)"), std::string::npos);
  }
}

// A worker whose /v1/load stops answering is named in the poll-failure count, so that an alert
// says which one went quiet; a target that answers is counted at 0 beside it.
TEST_F(FailoverIT, LoadPollFailuresAreCountedByTarget) {
  Stub ok(Mode::kOk);
  const int nobody = hir::testing::free_port();  // nothing listens there: each poll is refused
  auto r = start_router(dir_, {{"quiet", nobody, "edge-cpu", "v1"}, {"ok", ok.port(), "cloud", "v2"}});
  const std::string quiet = R"(hir_load_poll_failures_total{target="quiet"} )";
  std::string metrics;
  // Polls run every 500 ms by default; the wait is bounded, not timed.
  for (int i = 0; i < 100; ++i) {
    metrics = call(r.port, "GET", "/metrics").body;
    const auto at = metrics.find(quiet);
    if (at != std::string::npos && metrics.compare(at + quiet.size(), 2, "0\n") != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto at = metrics.find(quiet);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_NE(metrics.compare(at + quiet.size(), 2, "0\n"), 0) << metrics;
  // The stub has no /v1/load (404): polling it stops, and it never counts as a failure.
  EXPECT_NE(metrics.find(R"(hir_load_poll_failures_total{target="ok"} 0)" "\n"), std::string::npos) << metrics;
  // No count without a target: the old unlabelled series is gone.
  EXPECT_EQ(metrics.find("\nhir_load_poll_failures_total "), std::string::npos) << metrics;
}

// A client reads which target failed and how, never where it is: the address is the operator's,
// in attempt_failed.
TEST_F(FailoverIT, AnAnswerNamesTheTargetThatRefusedNotItsAddress) {
  const int nobody = hir::testing::free_port();  // nothing listens there: the connect is refused
  auto r = start_router(dir_, {{"down", nobody, "edge-cpu", "v1"}});
  auto res = infer(r, request_body());
  EXPECT_EQ(res.status, 503) << res.body;
  EXPECT_NE(res.body.find("down: connection refused"), std::string::npos) << res.body;
  EXPECT_EQ(res.body.find(std::to_string(nobody)), std::string::npos) << res.body;
  EXPECT_EQ(res.body.find("127.0.0.1"), std::string::npos) << res.body;
  EXPECT_TRUE(log_gets(r.log, "127.0.0.1:" + std::to_string(nobody))) << file_text(r.log);
}

// A target that answers in a way hir cannot read is named with what it did, in the client's
// words: these read "unavailable" before, as a target that is down does. The address stays out.
TEST_F(FailoverIT, AnAnswerNamesTheKindOfAnAnswerTheRouterCannotRead) {
  struct Case {
    std::string reply, told, logged;
  };
  const Case cases[] = {
      {"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
       "odd: answered with a protocol hir does not read", "101 Switching Protocols"},
      {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{",
       "odd: answer too large", "is too large"},
      {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}",
       "odd: answered in a transfer coding hir does not read", "Transfer-Encoding 'gzip'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.told);
    RawTarget odd(c.reply);
    auto r = start_router(dir_, {{"odd", odd.port(), "edge-cpu", "v1"}});
    auto res = infer(r, request_body());
    EXPECT_EQ(res.status, 503) << res.body;
    EXPECT_NE(res.body.find(c.told), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find(std::to_string(odd.port())), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find("127.0.0.1"), std::string::npos) << res.body;
    // The operator's line keeps the whole reason, address included.
    EXPECT_TRUE(log_gets(r.log, "127.0.0.1:" + std::to_string(odd.port()))) << file_text(r.log);
    EXPECT_TRUE(log_gets(r.log, c.logged)) << file_text(r.log);
  }
}

// A target that says it is busy (503) ran nothing: the request pays only the one that answered.
TEST_F(FailoverIT, ABusyTargetsRefusalIsNotCharged) {
  Stub busy(Mode::k503), second(Mode::kOk);
  auto r = start_router(dir_, {{"busy", busy.port(), "edge-cpu", "v1"}, {"second", second.port(), "cloud", "v2"}});
  auto res = infer(r, request_body());
  ASSERT_EQ(res.status, 200) << res.body;
  auto d = decode(res);
  EXPECT_EQ(param_number(d.parameters, "hir_fallbacks").value_or(-1), 1);
  EXPECT_NEAR(param_number(d.parameters, "hir_cost_usd").value_or(-1), 0.0001, 1e-12);
  EXPECT_NE(call(r.port, "GET", "/metrics").body.find(R"(hir_cost_usd_total{target="busy"} 0)"), std::string::npos);
}

TEST_F(FailoverIT, FailsOverWhenATargetMissesItsTimeout) {
  Stub slow(Mode::kSlow), ok(Mode::kOk);
  TargetSpec s{"slow", slow.port(), "edge-cpu", "v1"};
  s.timeout_ms = 300;
  auto r = start_router(dir_, {s, {"ok", ok.port(), "cloud", "v2"}});
  auto res = infer(r, request_body());
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(param_string(decode(res).parameters, "hir_target").value_or(""), "ok");
}

TEST_F(FailoverIT, ExhaustedBudgetIs504) {
  Stub slow(Mode::kSlow);
  auto r = start_router(dir_, {{"slow", slow.port(), "edge-cpu", "v1"}});
  auto res = infer(r, request_body(R"("parameters":{"latency_budget_ms":300},)"));
  EXPECT_EQ(res.status, 504) << res.body;
  EXPECT_NE(res.body.find("\"error\""), std::string::npos);
}

TEST_F(FailoverIT, AllTargetsAnsweringBadlyIs502) {
  Stub a(Mode::k500), b(Mode::kGarbage);
  auto r = start_router(dir_, {{"a", a.port(), "edge-cpu", "v1"}, {"b", b.port(), "cloud", "v2"}});
  auto res = infer(r, request_body());
  EXPECT_EQ(res.status, 502) << res.body;
  EXPECT_NE(res.body.find("model crashed"), std::string::npos) << res.body;  // the target's reason
}

TEST_F(FailoverIT, ClientErrorsArePassedThroughAsJson) {
  Stub html(Mode::kHtml400), ok(Mode::kOk);
  auto r = start_router(dir_, {{"html", html.port(), "edge-cpu", "v1"}, {"ok", ok.port(), "cloud", "v2"}});
  auto res = infer(r, request_body());
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("\"error\""), std::string::npos) << res.body;
  EXPECT_EQ(res.headers.get("content-type").value_or(""), "application/json");
  EXPECT_EQ(ok.calls(), 0);  // the client's mistake is not retried elsewhere
  // One log line per answer, this one too (before, none), and none of the target's body.
  EXPECT_TRUE(log_gets(r.log, R"("event":"request")")) << file_text(r.log);
  EXPECT_TRUE(log_gets(r.log, R"("target":"html")"));
  EXPECT_EQ(file_text(r.log).find("bad request</html>"), std::string::npos);
  // A model that is not configured: counted and logged, the name never a label.
  net::Headers h;
  h.set("Content-Type", "application/json");
  EXPECT_EQ(call(r.port, "POST", "/v2/models/no-such/infer", request_body(), h).status, 404);
  EXPECT_TRUE(log_gets(r.log, R"("model":"no-such")")) << file_text(r.log);
  auto metrics = call(r.port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("hir_unknown_model_total 1"), std::string::npos);
  EXPECT_EQ(metrics.find("no-such"), std::string::npos);
}

TEST_F(FailoverIT, HintsAreNotForwardedButTritonPriorityIs) {
  Stub ok(Mode::kOk);
  auto r = start_router(dir_, {{"ok", ok.port(), "edge-cpu", "v1"}});
  auto res = infer(r, request_body(R"("parameters":{"priority":"critical","latency_budget_ms":900,"custom":"x"},)"));
  ASSERT_EQ(res.status, 200) << res.body;
  std::string fwd = ok.last_body();
  EXPECT_EQ(fwd.find("latency_budget_ms"), std::string::npos) << fwd.substr(0, 200);
  EXPECT_EQ(fwd.find("critical"), std::string::npos);
  EXPECT_NE(fwd.find("custom"), std::string::npos);  // other parameters travel on

  // An integer priority is Triton's own scheduling parameter: accepted, and left for the target.
  res = infer(r, request_body(R"("parameters":{"priority":2},)"));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(ok.last_body().find(R"("priority":2)"), std::string::npos);
}

// The same with two I/O threads: the primary's answer, the hedge's and the timer may run on
// different threads, and the request's lock keeps its state whole.
// The loser, cancelled once the other copy answers, is neither a failure of its target (its
// breaker would open after five lost races it runs correctly) nor free: it was sent, so the
// target ran it and bills it.
void expect_hedged(const std::string& dir, const std::string& server_yaml) {
  // The slow target is the cheaper one, and is assumed 400 ms away: a critical request with a
  // 500 ms budget is planned with a hedge to the second target after ~100 ms. Without the hedge
  // the primary would time out at the budget and the answer would be 504.
  Stub slow(Mode::kSlow), ok(Mode::kOk);
  TargetSpec s{"slow", slow.port(), "edge-cpu", "v1", 0.00001};
  s.extra = ", expected_rtt_ms: 400";
  TargetSpec o{"ok", ok.port(), "cloud", "v2", 0.0002};
  o.extra = ", expected_rtt_ms: 1";
  auto r = start_router(dir, {s, o}, server_yaml);
  constexpr int kRequests = 7;
  for (int i = 0; i < kRequests; ++i) {
    auto res = infer(r, request_body(R"("parameters":{"priority":"critical","latency_budget_ms":500},)"));
    ASSERT_EQ(res.status, 200) << res.body;
    auto d = decode(res);
    EXPECT_EQ(param_string(d.parameters, "hir_target").value_or(""), "ok");
    EXPECT_EQ(param_bool(d.parameters, "hir_hedged").value_or(false), true);
    // Both copies: the answer's price (0.0002) and the loser's, cancelled then (0.00001).
    EXPECT_NEAR(param_number(d.parameters, "hir_cost_usd").value_or(-1), 0.00021, 1e-12);
  }
  EXPECT_EQ(slow.calls(), kRequests);
  EXPECT_EQ(ok.calls(), kRequests);
  auto metrics = call(r.port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("hir_hedges_total " + std::to_string(kRequests)), std::string::npos);
  EXPECT_EQ(breaker_of(r, "slow"), "closed");
  EXPECT_EQ(metrics.find(R"(hir_cost_usd_total{target="slow"} 0)"), std::string::npos) << metrics;
}

TEST_F(FailoverIT, CriticalRequestNearItsBudgetIsHedged) { expect_hedged(dir_, ""); }

TEST_F(FailoverIT, HedgingWorksWithSeveralIoThreads) { expect_hedged(dir_, "server: {threads: 2}\n"); }

// A client whose budget is far below what a healthy target takes: its critical requests are sent
// best-effort and cut at the budget. That says nothing of the target; before, seven such
// requests opened its breaker, and every other client was refused.
TEST_F(FailoverIT, RequestsCutByTheirOwnBudgetDoNotEjectAHealthyTarget) {
  Stub late(Mode::kLate);
  TargetSpec t{"late", late.port(), "edge-cpu", "v1"};
  t.extra = ", expected_rtt_ms: 300";
  auto r = start_router(dir_, {t});
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(infer(r, request_body(R"("parameters":{"priority":"critical","latency_budget_ms":30},)")).status, 504);
  EXPECT_EQ(late.calls(), 8);
  EXPECT_EQ(breaker_of(r, "late"), "closed");
  auto res = infer(r, request_body(R"("parameters":{"latency_budget_ms":2000},)"));
  EXPECT_EQ(res.status, 200) << res.body;
}

// The other side of the same rule: a target that stops answering is still judged by its
// attempts, though every request's budget is below its timeout, once they run well past what
// it should take. Its cut-off times teach the routing core that it is now far too slow for
// these budgets (a cut attempt abandoned without judgement would teach nothing, and every
// request would go on timing out there), and the requests go elsewhere.
TEST_F(FailoverIT, AHungTargetIsLeftThoughBudgetsEndItsAttemptsBeforeItsTimeout) {
  Stub hung(Mode::kSlow), ok(Mode::kOk);
  TargetSpec h{"hung", hung.port(), "edge-cpu", "v1", 0.00001};
  h.extra = ", expected_rtt_ms: 1";
  TargetSpec o{"ok", ok.port(), "cloud", "v2", 0.0002};
  o.extra = ", expected_rtt_ms: 1";
  auto r = start_router(dir_, {h, o});
  const std::string body = request_body(R"("parameters":{"latency_budget_ms":60},)");
  bool left = false;
  for (int i = 0; i < 40 && !left; ++i) left = infer(r, body).status == 200;
  ASSERT_TRUE(left);
  const int tried = hung.calls();
  EXPECT_GE(tried, 1);
  for (int i = 0; i < 5; ++i) {
    auto res = infer(r, body);
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(param_string(decode(res).parameters, "hir_target").value_or(""), "ok");
  }
  EXPECT_EQ(hung.calls(), tried);
}

// A target that is only ever a fallback (the dearer one, while the cheap one is up) must still be
// probed once its ejection ends: a half-open target is a last-resort fallback, and its answer
// closes its breaker. Before, it stayed half-open for good, and when the cheap target failed
// again every request failed with it.
TEST_F(FailoverIT, AHalfOpenTargetIsAFallbackAndClosesWhenItAnswers) {
  Stub cheap(Mode::k500), dear(Mode::k500);
  auto r = start_router(dir_, {{"cheap", cheap.port(), "edge-cpu", "v1", 0.00001}, {"dear", dear.port(), "cloud", "v2", 0.0002}},
                        "routing: {breaker_consecutive_failures: 2, breaker_consecutive_span_ms: 0, "
                        "breaker_base_ejection_ms: 200}\n");
  const std::string body = request_body();
  for (int i = 0; i < 20 && (breaker_of(r, "cheap") == "closed" || breaker_of(r, "dear") == "closed"); ++i)
    EXPECT_NE(infer(r, body).status, 200);
  ASSERT_NE(breaker_of(r, "cheap"), "closed");
  ASSERT_NE(breaker_of(r, "dear"), "closed");
  cheap.set_mode(Mode::kOk);
  dear.set_mode(Mode::kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both ejections over: half-open
  auto res = infer(r, body);  // the cheap one's probe, as primary
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(param_string(decode(res).parameters, "hir_target").value_or(""), "cheap");
  EXPECT_EQ(breaker_of(r, "cheap"), "closed");
  EXPECT_EQ(breaker_of(r, "dear"), "half-open");
  // /metrics reads the breakers at scrape time: dear turned half-open with time alone, and one
  // series per state says so (exactly one of them is 1).
  const std::string page = call(r.port, "GET", "/metrics").body;
  for (const char* line : {R"(hir_breaker_state{state="closed",target="cheap"} 1)", R"(hir_breaker_state{state="open",target="cheap"} 0)",
                           R"(hir_breaker_state{state="half_open",target="cheap"} 0)", R"(hir_breaker_state{state="closed",target="dear"} 0)",
                           R"(hir_breaker_state{state="open",target="dear"} 0)", R"(hir_breaker_state{state="half_open",target="dear"} 1)"})
    EXPECT_NE(page.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << page;
  EXPECT_NE(page.find("# TYPE hir_breaker_state gauge\n"), std::string::npos) << page;
  // Each move of a breaker that a result made is a log line, with the target and why.
  EXPECT_TRUE(log_gets(r.log, R"("event":"breaker_opened","service":"hir","target":"cheap","reason":"2 consecutive failures)")) << file_text(r.log).substr(0, 3000);
  EXPECT_TRUE(log_gets(r.log, R"("event":"breaker_opened","service":"hir","target":"dear")")) << file_text(r.log).substr(0, 3000);
  EXPECT_TRUE(log_gets(r.log, R"("event":"breaker_closed","service":"hir","target":"cheap","was":"half-open")")) << file_text(r.log).substr(0, 3000);
  cheap.set_mode(Mode::k500);
  res = infer(r, body);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(param_string(decode(res).parameters, "hir_target").value_or(""), "dear");
  EXPECT_EQ(breaker_of(r, "dear"), "closed");
}

// An open breaker is a metric an alert can match: hir_breaker_state{state="open"} is 1 while
// the target is ejected (a long ejection, so it is still open when scraped).
TEST_F(FailoverIT, AnOpenBreakerIsAMetricSeries) {
  Stub bad(Mode::k500);
  auto r = start_router(dir_, {{"bad", bad.port(), "edge-cpu", "v1"}},
                        "routing: {breaker_consecutive_failures: 2, breaker_consecutive_span_ms: 0, "
                        "breaker_base_ejection_ms: 60000}\n");
  const std::string body = request_body();
  for (int i = 0; i < 10 && breaker_of(r, "bad") != "open"; ++i) infer(r, body);
  ASSERT_EQ(breaker_of(r, "bad"), "open");
  const std::string page = call(r.port, "GET", "/metrics").body;
  EXPECT_NE(page.find("hir_breaker_state{state=\"open\",target=\"bad\"} 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("hir_breaker_state{state=\"closed\",target=\"bad\"} 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("hir_breaker_state{state=\"half_open\",target=\"bad\"} 0\n"), std::string::npos) << page;
}

// A model is ready while a request for it would find a target to try; the server stays ready.
TEST_F(FailoverIT, AModelIsNotReadyWhileEveryTargetOfItIsEjected) {
  Stub a(Mode::k500), b(Mode::k500);
  auto r = start_router(dir_, {{"a", a.port(), "edge-cpu", "v1"}, {"b", b.port(), "cloud", "v2"}},
                        "routing: {breaker_consecutive_failures: 2, breaker_consecutive_span_ms: 0, "
                        "breaker_base_ejection_ms: 300}\n");
  EXPECT_EQ(call(r.port, "GET", "/v2/models/fmnist/ready").status, 200);
  const std::string body = request_body();
  for (int i = 0; i < 20 && (breaker_of(r, "a") != "open" || breaker_of(r, "b") != "open"); ++i) infer(r, body);
  ASSERT_EQ(breaker_of(r, "a"), "open");
  ASSERT_EQ(breaker_of(r, "b"), "open");
  auto ready = call(r.port, "GET", "/v2/models/fmnist/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("\"ready\":false"), std::string::npos) << ready.body;
  EXPECT_EQ(call(r.port, "GET", "/v2/health/ready").status, 200);
  // Once an ejection ends the target takes probes again: the model is ready for them.
  EXPECT_TRUE(eventually([&] { return call(r.port, "GET", "/v2/models/fmnist/ready").status == 200; }, 100, 20));
}
