// Starts real hir-worker and hir serve processes on 127.0.0.1 for the integration tests, and
// makes blocking HTTP calls to them. Every process is stopped when its handle goes away.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen.h"
#include "core/process.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "protocol/v2_codec.h"

namespace hir::testing {

inline std::string temp_dir() {
  std::string t = (std::filesystem::temp_directory_path() / "hir-it-XXXXXX").string();
  return mkdtemp(t.data()) ? t : "/tmp";
}

// One blocking request on a private loop; {status 0, error text in body} when no response came.
inline net::HttpResponse call(int port, const std::string& method, const std::string& target,
                              std::string body = "", net::Headers headers = {},
                              Duration timeout = std::chrono::seconds(20)) {
  net::EventLoop loop;
  net::HttpClient client(loop);
  net::Url url;
  url.host = "127.0.0.1";
  url.port = static_cast<uint16_t>(port);
  net::HttpRequest req;
  req.method = method;
  req.target = target;
  req.headers = std::move(headers);
  req.body = std::move(body);
  net::HttpResponse out{0, {}, ""};
  client.send(url, std::move(req), timeout, [&](Result<net::HttpResponse> r) {
    if (r.ok()) out = std::move(*r);
    else out.body = r.status().message();
    loop.stop();
  });
  loop.run(1);
  return out;
}

// Sets an environment variable for the processes started while it lives.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// Polls fn until it returns true, at most `tries` times with a pause between.
template <typename F>
bool eventually(F fn, int tries = 300, int pause_ms = 100) {
  for (int i = 0; i < tries; ++i) {
    if (fn()) return true;
    usleep(static_cast<useconds_t>(pause_ms) * 1000);
  }
  return false;
}

// A file's text as it stands (a process's log).
inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Whether a running process's log comes to hold `needle`: its lines reach the file from a writer
// thread, a little after the event that a test has just seen answered.
inline bool log_gets(const std::string& path, std::string_view needle) {
  return eventually([&] { return file_text(path).find(needle) != std::string::npos; }, 200, 25);
}

// Content-Type and, for a binary body, Inference-Header-Content-Length of a prepared request.
inline net::Headers body_headers(const bench::LoadItem& item) {
  net::Headers h;
  if (item.json_length) {
    h.set("Content-Type", "application/octet-stream");
    h.set("Inference-Header-Content-Length", std::to_string(*item.json_length));
  } else {
    h.set("Content-Type", "application/json");
  }
  return h;
}

// A v2 answer decoded, JSON or binary as its headers say; a test failure (and an empty answer)
// when it is not one.
inline InferResponse decode(const net::HttpResponse& r) {
  auto hl = r.headers.get("inference-header-content-length");
  auto d = protocol::parse_infer_response(r.body, hl ? std::optional<std::string_view>(*hl) : std::nullopt);
  EXPECT_TRUE(d.ok()) << r.status << " " << d.status().message() << " body: " << r.body.substr(0, 300);
  return d.ok() ? std::move(*d) : InferResponse{};
}

inline bool wait_ready(int port, Duration timeout = std::chrono::seconds(30)) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    // Generous per call: an emulated WAN delay applies to health checks too.
    if (call(port, "GET", "/v2/health/ready", "", {}, std::chrono::seconds(5)).status == 200) return true;
    usleep(50 * 1000);
  }
  return false;
}

struct Proc {
  ChildProcess child;
  int port = 0;
  std::string log;
};

// Starts a binary with --port 0 --port-file and waits until it listens and is ready.
inline Proc start(const std::string& bin, std::vector<std::string> args, const std::string& dir,
                  const std::string& name, int port_wanted = 0) {
  Proc p;
  std::string port_file = dir + "/" + name + ".port";
  std::filesystem::remove(port_file);
  p.log = dir + "/" + name + ".log";
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--port", std::to_string(port_wanted), "--port-file", port_file});
  auto c = ChildProcess::spawn(argv, p.log);
  if (!c.ok()) throw std::runtime_error(c.status().message());
  p.child = std::move(*c);
  // Poll in short slices so a child that dies at start-up fails the test at once.
  Result<int> port = DeadlineExceeded("not started");
  for (int i = 0; i < 300 && !port.ok() && p.child.running(); ++i)
    port = wait_for_port_file(port_file, std::chrono::milliseconds(100));
  // Fatal for the test (gtest reports the exception): nothing after this could mean anything.
  if (!port.ok()) throw std::runtime_error(name + " did not start; log: " + p.log);
  p.port = *port;
  if (!wait_ready(p.port)) throw std::runtime_error(name + " not ready; log: " + p.log);
  return p;
}

inline Proc start_worker(const std::string& dir, const std::string& name, std::vector<std::string> extra,
                         int port = 0) {
  std::vector<std::string> args = {"--model-repository", std::string(HIR_SOURCE_DIR) + "/models"};
  args.insert(args.end(), extra.begin(), extra.end());
  return start(HIR_WORKER_BIN, args, dir, name, port);
}

// Writes a router configuration with one target per (name, port, class, variant) and starts hir serve.
struct TargetSpec {
  std::string name;
  int port;
  std::string hw;
  std::string variant;
  double cost = 0.0001;
  int timeout_ms = 2000;
  int concurrency = 1;
  std::string extra;  // more YAML fields for the target, e.g. ", expected_rtt_ms: 20"
};

inline Proc start_router(const std::string& dir, const std::vector<TargetSpec>& targets,
                         const std::string& extra_yaml = "") {
  std::ofstream cfg(dir + "/router.yaml");
  cfg << extra_yaml << "targets:\n";
  for (const auto& t : targets)
    cfg << "  - {name: " << t.name << ", url: \"http://127.0.0.1:" << t.port << "\", class: " << t.hw
        << ", cost_per_request_usd: " << t.cost << ", timeout_ms: " << t.timeout_ms << ", concurrency: " << t.concurrency << t.extra << "}\n";
  cfg << "models:\n  - name: fmnist\n    max_batch_size: 256\n"
         "    inputs: [{name: input, datatype: FP32, shape: [784]}]\n"
         "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]\n    variants:\n";
  // One variant per name, on every target that names it (a name given twice is refused).
  std::vector<std::pair<std::string, std::string>> variants;  // name, its targets
  for (const auto& t : targets) {
    auto v = std::find_if(variants.begin(), variants.end(), [&](const auto& e) { return e.first == t.variant; });
    if (v == variants.end()) variants.emplace_back(t.variant, t.name);
    else v->second += ", " + t.name;
  }
  for (const auto& [name, on] : variants)
    cfg << "      - {name: " << name << ", targets: [" << on << "], accuracy: 0.9}\n";
  cfg.close();
  return start(HIR_BIN, {"serve", "--config", dir + "/router.yaml"}, dir, "router");
}

// The breaker state /v1/targets reports for `target`: "closed", "open", "half-open".
inline std::string breaker_of(const Proc& router, const std::string& target) {
  const std::string body = call(router.port, "GET", "/v1/targets").body;
  const auto at = body.find("\"name\":\"" + target + "\"");
  if (at == std::string::npos) return "";
  const std::string key = "\"breaker\":\"";
  const auto b = body.find(key, at);
  if (b == std::string::npos) return "";
  return body.substr(b + key.size(), body.find('"', b + key.size()) - b - key.size());
}

}  // namespace hir::testing
