#include "bench/demo.h"

#include <fmt/format.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "bench/loadgen.h"
#include "core/process.h"
#include "router/config.h"
#include "router/embedded_config.h"
#include "store/report_cmd.h"

namespace hir::bench {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

// The processes the demo started, in start order (emulators, workers, router); stopped in
// reverse — router first, emulators last — however run_demo ends.
struct Fleet {
  std::vector<ChildProcess> children;
  void stop_all() {
    for (auto it = children.rbegin(); it != children.rend(); ++it) it->stop(std::chrono::seconds(10));
    children.clear();
  }
  ~Fleet() { stop_all(); }
};

// One GET; the status, or 0 when nothing answered.
int get_status(const net::Url& url, const std::string& path) {
  net::EventLoop loop;
  net::HttpClient client(loop);
  int status = 0;
  net::HttpRequest req;
  req.method = "GET";
  req.target = path;
  client.send(url, std::move(req), std::chrono::milliseconds(500), [&](Result<net::HttpResponse> r) {
    status = r.ok() ? r->status : 0;
    loop.stop();
  });
  loop.run(1);
  return status;
}

// Polls GET /v2/health/ready until it answers 200, the process dies, the deadline passes or
// the user gives up.
bool wait_ready(const net::Url& url, ChildProcess& child, Duration timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline && !g_interrupted && child.running()) {
    if (get_status(url, "/v2/health/ready") == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// One GET's body, or "" when nothing answered.
std::string get_body(const net::Url& url, const std::string& path) {
  net::EventLoop loop;
  net::HttpClient client(loop);
  std::string body;
  net::HttpRequest req;
  req.method = "GET";
  req.target = path;
  client.send(url, std::move(req), std::chrono::milliseconds(500), [&](Result<net::HttpResponse> r) {
    if (r.ok() && r->status == 200) body = std::move(r->body);
    loop.stop();
  });
  loop.run(1);
  return body;
}

// True when nothing listens on 127.0.0.1:port (binding it works). An emulator speaks no HTTP, so
// the health-check probe used for the workers would not notice one.
// Binds as the emulator does (SO_REUSEADDR), so that connections an earlier run left in
// TIME_WAIT on the port do not count as a listener.
bool tcp_port_free(uint16_t port, const std::string& host = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  // A name ("localhost") or an address of another family: the loopback address it stands for here.
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::string> mcu_argv(const router::DemoMcu& m, const std::string& repo, const std::string& port_file) {
  std::vector<std::string> argv = {executable_dir() + "/hir-mcu-emu", "--model", repo + "/fmnist-tiny/int8/model.hirm",
                                   "--tcp", std::to_string(m.port), "--port-file", port_file};
  if (m.drop_every > 0) argv.insert(argv.end(), {"--drop-every", std::to_string(m.drop_every)});
  if (m.corrupt_every > 0) argv.insert(argv.end(), {"--corrupt-every", std::to_string(m.corrupt_every)});
  return argv;
}

// Request i's routing hints: the configured traffic classes interleaved by weight (a golden-ratio
// sequence, so every stretch of the run has the same mix and the run is reproducible).
void apply_traffic(const std::vector<router::DemoTraffic>& mix, size_t i, InferRequest& req) {
  if (mix.empty()) return;
  double total = 0;
  for (const auto& t : mix) total += t.weight;
  double u = std::fmod(static_cast<double>(i) * 0.6180339887498949, 1.0) * total;
  const router::DemoTraffic* pick = &mix.back();
  for (const auto& t : mix) {
    if (u < t.weight) {
      pick = &t;
      break;
    }
    u -= t.weight;
  }
  if (pick->latency_budget_ms) req.parameters["latency_budget_ms"] = *pick->latency_budget_ms;
  if (pick->min_accuracy) req.parameters["min_accuracy"] = *pick->min_accuracy;
  if (!pick->priority.empty()) req.parameters["priority"] = pick->priority;
}

std::string traffic_text(const std::vector<router::DemoTraffic>& mix) {
  if (mix.empty()) return "no routing hints";
  double total = 0;
  for (const auto& t : mix) total += t.weight;
  std::string out;
  for (const auto& t : mix) {
    std::string hints;
    if (t.latency_budget_ms) hints += fmt::format("latency_budget_ms {}", *t.latency_budget_ms);
    if (t.min_accuracy) hints += fmt::format("{}min_accuracy {}", hints.empty() ? "" : ", ", *t.min_accuracy);
    if (!t.priority.empty()) hints += fmt::format("{}priority {}", hints.empty() ? "" : ", ", t.priority);
    out += fmt::format("{}{:.0f}% {}", out.empty() ? "" : "; ", 100 * t.weight / total, hints.empty() ? "no hints" : hints);
  }
  return out;
}

size_t count_of(const std::string& body, std::string_view what) {
  size_t n = 0;
  for (size_t at = body.find(what); at != std::string::npos; at = body.find(what, at + what.size())) ++n;
  return n;
}

// Waits until the router's /v1/targets shows `mcus` MCU devices up and all `targets` healthy (a
// target is healthy once its first load report is in), so the run does not start while pools
// are connecting or reports are on their way: requests sent then are refused as "unhealthy".
// False after the timeout (the run goes on: routing sends the traffic elsewhere meanwhile).
bool wait_fleet_up(const net::Url& router, size_t mcus, size_t targets, Duration timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline && !g_interrupted) {
    std::string body = get_body(router, "/v1/targets");
    if (count_of(body, R"("state":"up")") >= mcus && count_of(body, R"("healthy":true)") >= targets) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::vector<std::string> worker_argv(const router::DemoWorker& w, const net::Url& url,
                                     const std::string& repo) {
  std::string models;
  for (const auto& m : w.models) models += (models.empty() ? "" : ",") + m;
  return {executable_dir() + "/hir-worker", "--model-repository", repo,
          "--host", url.host, "--port", std::to_string(url.port), "--models", models,
          "--concurrency", std::to_string(w.concurrency),
          "--emulate-rtt-ms", fmt::format("{}", w.emulate_rtt_ms),
          "--emulate-jitter-ms", fmt::format("{}", w.emulate_jitter_ms),
          "--emulate-service-ms", fmt::format("{}", w.emulate_service_ms)};
}

}  // namespace

int run_demo(const DemoOptions& opts) {
  auto cfg = opts.config_path.empty() ? router::parse_config(router::embedded_demo_config())
                                      : router::load_config_file(opts.config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "hir demo: %s\n", cfg.status().message().c_str());
    return 2;
  }
  if (!std::filesystem::is_directory(opts.model_repository)) {
    std::fprintf(stderr, "hir demo: model repository '%s' not found (run from the source tree or pass "
                 "--model-repository)\n", opts.model_repository.c_str());
    return 2;
  }
  std::string model = cfg->models.front().signature.name;
  const auto& mix = cfg->demo_traffic;
  auto items = fmnist_test_requests(opts.images, !opts.json,
                                    [&mix](size_t i, InferRequest& req) { apply_traffic(mix, i, req); });
  if (!items.ok()) {
    std::fprintf(stderr, "hir demo: %s\n", items.status().message().c_str());
    return 2;
  }
  signal(SIGINT, on_interrupt);
  signal(SIGTERM, on_interrupt);
  signal(SIGHUP, on_interrupt);  // its terminal gone: stop what it started, as on SIGTERM

  // Every address the demo needs must be free: otherwise it would measure whatever listens there.
  std::vector<std::pair<std::string, net::Url>> addrs;
  for (const auto& w : cfg->demo_workers) addrs.emplace_back(w.target, *net::Url::parse(cfg->find_target(w.target)->url));
  net::Url router_url;
  router_url.host = cfg->server.host;
  router_url.port = cfg->server.port;
  addrs.emplace_back("router", router_url);
  for (const auto& [who, url] : addrs) {
    // Something that answers HTTP there, or anything at all that holds the port.
    if (get_status(url, "/v2/health/live") != 0 || !tcp_port_free(url.port, url.host)) {
      std::fprintf(stderr, "hir demo: %s (for %s) is already in use; stop whatever listens there first\n",
                   url.authority().c_str(), who.c_str());
      return 1;
    }
  }
  for (const auto& m : cfg->demo_mcus) {
    if (!tcp_port_free(m.port)) {
      std::fprintf(stderr, "hir demo: 127.0.0.1:%u (for an emulated MCU of %s) is already in use; stop whatever "
                   "listens there first\n", m.port, m.target.c_str());
      return 1;
    }
  }

  char tmpl[] = "/tmp/hir-demo-XXXXXX";
  std::string logs = mkdtemp(tmpl) ? tmpl : "/tmp";
  std::printf("hir demo: logs in %s\n", logs.c_str());
  Fleet fleet;
  // The emulated MCUs first: the router's pools connect to them as soon as it starts.
  for (size_t i = 0; i < cfg->demo_mcus.size(); ++i) {
    const auto& m = cfg->demo_mcus[i];
    std::string name = fmt::format("{}-{}", m.target, m.port);
    std::string port_file = logs + "/" + name + ".port";
    auto c = ChildProcess::spawn(mcu_argv(m, opts.model_repository, port_file), logs + "/" + name + ".log");
    if (!c.ok()) { std::fprintf(stderr, "hir demo: %s\n", c.status().message().c_str()); return 1; }
    fleet.children.push_back(std::move(*c));
    Result<int> port = DeadlineExceeded("not started");
    for (int k = 0; k < 100 && !port.ok() && fleet.children.back().running() && !g_interrupted; ++k)
      port = wait_for_port_file(port_file, std::chrono::milliseconds(100));
    if (!port.ok()) {
      if (g_interrupted) break;
      std::fprintf(stderr, "hir demo: hir-mcu-emu for %s did not start; see %s/%s.log\n", m.target.c_str(),
                   logs.c_str(), name.c_str());
      return 1;
    }
    std::string faults = m.drop_every || m.corrupt_every
                             ? fmt::format(", drops every {}th request, corrupts every {}th reply", m.drop_every, m.corrupt_every)
                             : "";
    std::printf("  started hir-mcu-emu for %-8s on 127.0.0.1:%u (fmnist-tiny int8, 921600 baud%s)\n", m.target.c_str(),
                m.port, faults.c_str());
  }
  const size_t first_worker = fleet.children.size();
  for (size_t i = 0; i < cfg->demo_workers.size(); ++i) {
    const auto& w = cfg->demo_workers[i];
    const net::Url& url = addrs[i].second;
    auto c = ChildProcess::spawn(worker_argv(w, url, opts.model_repository), logs + "/" + w.target + ".log");
    if (!c.ok()) { std::fprintf(stderr, "hir demo: %s\n", c.status().message().c_str()); return 1; }
    std::string rtt = w.emulate_rtt_ms > 0
                          ? fmt::format(", emulated RTT {} ± {} ms", w.emulate_rtt_ms, w.emulate_jitter_ms)
                          : "";
    if (w.emulate_service_ms > 0) rtt += fmt::format(", emulated service {} ms", w.emulate_service_ms);
    std::printf("  started hir-worker  for %-8s on %s (%s%s)\n", w.target.c_str(), url.authority().c_str(),
                fmt::format("{}", fmt::join(w.models, ",")).c_str(), rtt.c_str());
    fleet.children.push_back(std::move(*c));
  }
  // The router keeps its registry and usage ledger in the run directory, never in the user's
  // working directory; the report at the end reads that ledger.
  const std::string database = "sqlite://" + logs + "/hir.db";
  std::vector<std::string> serve = {executable_dir() + "/hir", "serve", "--database", database};
  if (!opts.config_path.empty()) serve.insert(serve.end(), {"--config", opts.config_path});
  auto router = ChildProcess::spawn(serve, logs + "/router.log");
  if (!router.ok()) { std::fprintf(stderr, "hir demo: %s\n", router.status().message().c_str()); return 1; }
  fleet.children.push_back(std::move(*router));
  std::printf("  started hir serve on %s\n", router_url.authority().c_str());

  for (size_t i = 0; i < addrs.size() && !g_interrupted; ++i) {
    if (!wait_ready(addrs[i].second, fleet.children[first_worker + i], std::chrono::seconds(30))) {
      if (g_interrupted) break;
      std::fprintf(stderr, "hir demo: %s (%s) did not become ready; see %s/%s.log\n",
                   addrs[i].first.c_str(), addrs[i].second.authority().c_str(), logs.c_str(),
                   addrs[i].first.c_str());
      return 1;
    }
  }
  if (!g_interrupted && !wait_fleet_up(router_url, cfg->demo_mcus.size(), cfg->targets.size(), std::chrono::seconds(10)) &&
      !g_interrupted)  // an interrupted wait is no timeout
    std::printf("hir demo: not every target was up and reporting within 10 s; routing sends their share elsewhere\n");
  if (g_interrupted) {
    std::printf("hir demo: interrupted; stopping everything it started\n");
    return 130;
  }
  const double rate = cfg->demo_rate_per_s;
  const std::string pacing = rate > 0 ? fmt::format("{:.0f} req/s open loop", rate)
                                      : fmt::format("{} in flight", opts.concurrency);
  std::printf("hir demo: sending %zu Fashion-MNIST test images to /v2/models/%s/infer (%s, %s)\n",
              items->size(), model.c_str(), opts.json ? "JSON" : "binary tensor extension", pacing.c_str());
  std::printf("hir demo: hints %s\n", traffic_text(mix).c_str());
  LoadOptions lo;
  lo.url = router_url;
  lo.path = "/v2/models/" + model + "/infer";
  lo.concurrency = opts.concurrency;
  lo.rate_per_s = rate;
  lo.cancel = &g_interrupted;
  auto t0 = SteadyClock::now();
  auto results = run_closed_loop(*items, lo);
  double wall = to_ms(SteadyClock::now() - t0) / 1000.0;
  auto summary = summarize(results, *items);
  std::printf("%s", format_summary(summary, wall).c_str());
  fleet.stop_all();
  std::printf("hir demo: stopped everything it started%s\n", g_interrupted ? " (interrupted)" : "");
  if (g_interrupted) return 130;
  // The router has flushed its ledger on SIGTERM: every request above is in it.
  std::printf("hir demo: usage report (hir report --database %s)\n", database.c_str());
  std::fflush(stdout);
  store::ReportCommandOptions ro;
  ro.database_url = database;
  if (store::run_report(ro) != 0) return 1;
  return summary.ok == summary.sent ? 0 : 1;
}

}  // namespace hir::bench
