// The routing core in hir serve, end to end: the edge worker is killed under load, the plan moves
// to the cloud (and /v1/route/explain says why), and it comes back once the edge recovers.
#include <thread>

#include "harness.h"
#include "protocol/v2_codec.h"

using namespace hir;
using namespace hir::testing;

namespace {

std::string infer_body() {
  std::string body = R"({"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[)";
  for (int i = 0; i < 784; ++i) body += i ? ",0.1" : "0.1";
  return body + "]}]}";
}

std::string explain(const Proc& r) {
  net::Headers h;
  h.set("Content-Type", "application/json");
  auto res = call(r.port, "POST", "/v1/route/explain", R"({"model":"fmnist"})", h);
  EXPECT_EQ(res.status, 200) << res.body;
  return res.body;
}

// The primary target's name in an explain answer.
std::string primary(const std::string& explain_body) {
  auto at = explain_body.find(R"("steps":[{"target":")");
  if (at == std::string::npos) return "";
  at += 20;
  return explain_body.substr(at, explain_body.find('"', at) - at);
}

int send(const Proc& r, int n, std::string* last_target = nullptr) {
  net::Headers h;
  h.set("Content-Type", "application/json");
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto res = call(r.port, "POST", "/v2/models/fmnist/infer", infer_body(), h);
    if (res.status != 200) continue;
    ++ok;
    if (last_target) {
      auto d = protocol::parse_infer_response(res.body, std::nullopt);
      if (d.ok()) *last_target = param_string(d->parameters, "hir_target").value_or("");
    }
  }
  return ok;
}

}  // namespace

TEST(RerouteIT, KilledEdgeMovesThePlanToTheCloudAndBack) {
  std::string dir = temp_dir();
  auto edge = start_worker(dir, "edge", {"--models", "fmnist-small"});
  const int edge_port = edge.port;
  auto cloud = start_worker(dir, "cloud", {"--models", "fmnist-large"});
  auto r = start_router(dir,
                        {{"edge-1", edge_port, "edge-cpu", "fmnist-small", 0.00001},
                         {"cloud-1", cloud.port, "cloud", "fmnist-large", 0.0002}},
                        "routing: {load_poll_interval_ms: 100, stale_report_after_ms: 1000, "
                        "breaker_base_ejection_ms: 300, breaker_consecutive_failures: 2}\n");
  std::string target;
  ASSERT_EQ(send(r, 20, &target), 20);
  EXPECT_EQ(target, "edge-1");
  EXPECT_EQ(primary(explain(r)), "edge-1");

  edge.child.kill_now();
  EXPECT_EQ(send(r, 20, &target), 20);  // every request still served, by falling back
  EXPECT_EQ(target, "cloud-1");
  // The breaker opens once the edge's failures in a row have lasted its minimum span (100 ms):
  // until then each request tries the edge first and falls back.
  std::string why = explain(r);
  for (int i = 0; i < 100 && why.find("breaker open") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(send(r, 1, &target), 1);
    why = explain(r);
  }
  EXPECT_EQ(primary(why), "cloud-1") << why;
  EXPECT_NE(why.find("breaker open"), std::string::npos) << "the reason should say what cut the edge: " << why;

  // The edge comes back on the same port; load reports and a half-open probe bring it back.
  auto back = start_worker(dir, "edge2", {"--models", "fmnist-small"}, edge_port);
  bool returned = false;
  for (int i = 0; i < 100 && !returned; ++i) {
    send(r, 2, &target);
    returned = target == "edge-1" && primary(explain(r)) == "edge-1";
    if (!returned) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(returned) << explain(r);
  auto targets = call(r.port, "GET", "/v1/targets");
  EXPECT_EQ(targets.status, 200);
  EXPECT_NE(targets.body.find(R"("breaker":"closed")"), std::string::npos) << targets.body;
}
