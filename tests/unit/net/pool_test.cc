// The client's per-host connection cap and its queue of waiting requests, against a real server
// on 127.0.0.1 that counts the connections it accepted. Outcomes only, never timings.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <vector>

#include "net/client.h"
#include "net/server.h"
#include "net_test_util.h"

namespace hir::net {
namespace {

using namespace std::chrono_literals;
using testing::call;
using testing::local_url;
using testing::LoopThread;
using testing::make_request;
using testing::wait_until;

// Echoes the target as its body, so tests see which request an answer belongs to.
struct CountingUpstream : testing::ParkingUpstream {
  explicit CountingUpstream(LoopThread& lt)
      : ParkingUpstream(lt, [](const HttpRequest& req) { return json_response(200, req.target); }) {}
};

// Collects asynchronous results in completion order.
struct Results {
  std::mutex mu;
  std::vector<std::pair<std::string, Result<HttpResponse>>> got;
  std::function<void(Result<HttpResponse>)> slot(std::string name) {
    return [this, name = std::move(name)](Result<HttpResponse> r) {
      std::lock_guard lk(mu);
      got.emplace_back(name, std::move(r));
    };
  }
  size_t size() {
    std::lock_guard lk(mu);
    return got.size();
  }
};

ClientOptions capped(size_t conns, size_t waiting = 8192) {
  ClientOptions o;
  o.max_connections_per_host = conns;
  o.max_waiting_per_host = waiting;
  return o;
}

TEST(ConnectionCap, IsNeverExceeded) {
  LoopThread lt(2);
  CountingUpstream up(lt);
  HttpClient client(lt.loop, capped(3));
  Results res;
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i)
    client.send(local_url(up.server.port()), make_request("GET", "/park"), 10s, res.slot(std::to_string(i)));
  // Release the parked ones as they come; each release lets waiting requests in.
  ASSERT_TRUE(wait_until([&] {
    EXPECT_LE(up.server.connections(), 3u);
    up.release_parked();
    return res.size() == kRequests;
  }));
  for (auto& [name, r] : res.got) EXPECT_TRUE(r.ok()) << name << ": " << r.status().to_string();
  EXPECT_LE(up.remote_count(), 3u);
  EXPECT_LE(up.max_connections, 3u);
}

TEST(ConnectionCap, WaitingRequestsCompleteInFifoOrder) {
  LoopThread lt;
  CountingUpstream up(lt);
  HttpClient client(lt.loop, capped(1));
  Results res;
  client.send(local_url(up.server.port()), make_request("GET", "/park"), 10s, res.slot("parked"));
  ASSERT_TRUE(wait_until([&] { return up.parked_count() == 1; }));
  for (int i = 1; i <= 5; ++i)
    client.send(local_url(up.server.port()), make_request("GET", "/" + std::to_string(i)), 10s,
                res.slot(std::to_string(i)));
  EXPECT_EQ(res.size(), 0u);  // all five wait behind the one connection
  up.release_parked();
  ASSERT_TRUE(wait_until([&] { return res.size() == 6; }));
  std::vector<std::string> order;
  for (auto& [name, r] : res.got) {
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().to_string();
    order.push_back(name);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"parked", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(up.remote_count(), 1u);  // every waiter took the connection given back
}

TEST(ConnectionCap, WaitingRequestHonoursItsDeadlineAndLeavesTheQueue) {
  LoopThread lt;
  CountingUpstream up(lt);
  HttpClient client(lt.loop, capped(1, 1));
  Results res;
  client.send(local_url(up.server.port()), make_request("GET", "/park"), 10s, res.slot("parked"));
  ASSERT_TRUE(wait_until([&] { return up.parked_count() == 1; }));

  auto r = call(client, local_url(up.server.port()), make_request("GET", "/late"), 30ms);
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().to_string();
  // It left the queue: the one waiting place is free for the next request.
  client.send(local_url(up.server.port()), make_request("GET", "/next"), 10s, res.slot("next"));
  up.release_parked();
  ASSERT_TRUE(wait_until([&] { return res.size() == 2; }));
  for (auto& [name, got] : res.got) EXPECT_TRUE(got.ok()) << name << ": " << got.status().to_string();
  EXPECT_EQ(res.got[1].second->body, "/next");
}

TEST(ConnectionCap, FullWaitingQueueFailsFast) {
  LoopThread lt;
  CountingUpstream up(lt);
  HttpClient client(lt.loop, capped(1, 2));
  Results res;
  client.send(local_url(up.server.port()), make_request("GET", "/park"), 10s, res.slot("parked"));
  ASSERT_TRUE(wait_until([&] { return up.parked_count() == 1; }));
  client.send(local_url(up.server.port()), make_request("GET", "/a"), 10s, res.slot("a"));
  client.send(local_url(up.server.port()), make_request("GET", "/b"), 10s, res.slot("b"));

  auto r = call(client, local_url(up.server.port()), make_request("GET", "/c"));
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(r.status().message(),
            "too many requests waiting for a connection to 127.0.0.1:" + std::to_string(up.server.port()));
  up.release_parked();
  ASSERT_TRUE(wait_until([&] { return res.size() == 3; }));
  for (auto& [name, got] : res.got) EXPECT_TRUE(got.ok()) << name << ": " << got.status().to_string();
}

TEST(ConnectionCap, AFailedConnectGivesTheSlotToTheNextWaiter) {
  // A bound socket that does not listen: every connect is refused, and each waiter must get its
  // own answer rather than wait for a slot the failed one never gave back.
  testing::RefusingPort refusing;
  ASSERT_NE(refusing.port, 0);
  LoopThread lt;
  HttpClient client(lt.loop, capped(1));
  Results res;
  for (int i = 0; i < 4; ++i)
    client.send(local_url(refusing.port), make_request("GET", "/"), 10s, res.slot(std::to_string(i)));
  ASSERT_TRUE(wait_until([&] { return res.size() == 4; }));
  for (auto& [name, r] : res.got) EXPECT_EQ(r.status().code(), Code::kUnavailable) << name;
}

TEST(ConnectionCap, ClosingTheClientAnswersWaitingRequests) {
  LoopThread lt;
  CountingUpstream up(lt);
  Results res;
  {
    HttpClient client(lt.loop, capped(1));
    client.send(local_url(up.server.port()), make_request("GET", "/park"), 10s, res.slot("parked"));
    ASSERT_TRUE(wait_until([&] { return up.parked_count() == 1; }));
    client.send(local_url(up.server.port()), make_request("GET", "/w"), 10s, res.slot("waiting"));
  }
  ASSERT_TRUE(wait_until([&] { return res.size() == 1; }));
  EXPECT_EQ(res.got[0].first, "waiting");
  EXPECT_EQ(res.got[0].second.status().code(), Code::kUnavailable);
  up.release_parked();
  ASSERT_TRUE(wait_until([&] { return res.size() == 2; }));
  EXPECT_TRUE(res.got[1].second.ok());  // the exchange in flight still finished
}

}  // namespace
}  // namespace hir::net
