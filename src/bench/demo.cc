#include "bench/demo.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
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

// The processes the demo started; stopped router first, then workers, however run_demo ends.
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

std::vector<std::string> worker_argv(const router::DemoWorker& w, const net::Url& url,
                                     const std::string& repo) {
  std::string models;
  for (const auto& m : w.models) models += (models.empty() ? "" : ",") + m;
  return {executable_dir() + "/hir-worker", "--model-repository", repo,
          "--host", url.host, "--port", std::to_string(url.port), "--models", models,
          "--concurrency", std::to_string(w.concurrency),
          "--emulate-rtt-ms", fmt::format("{}", w.emulate_rtt_ms),
          "--emulate-jitter-ms", fmt::format("{}", w.emulate_jitter_ms)};
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
  auto items = fmnist_test_requests(opts.images, !opts.json);
  if (!items.ok()) {
    std::fprintf(stderr, "hir demo: %s\n", items.status().message().c_str());
    return 2;
  }
  signal(SIGINT, on_interrupt);
  signal(SIGTERM, on_interrupt);

  // Every address the demo needs must be free: otherwise it would measure whatever listens there.
  std::vector<std::pair<std::string, net::Url>> addrs;
  for (const auto& w : cfg->demo_workers) addrs.emplace_back(w.target, *net::Url::parse(cfg->find_target(w.target)->url));
  net::Url router_url;
  router_url.host = cfg->server.host;
  router_url.port = cfg->server.port;
  addrs.emplace_back("router", router_url);
  for (const auto& [who, url] : addrs) {
    if (get_status(url, "/v2/health/live") != 0) {
      std::fprintf(stderr, "hir demo: %s (for %s) is already in use; stop whatever listens there first\n",
                   url.authority().c_str(), who.c_str());
      return 1;
    }
  }

  char tmpl[] = "/tmp/hir-demo-XXXXXX";
  std::string logs = mkdtemp(tmpl) ? tmpl : "/tmp";
  std::printf("hir demo: logs in %s\n", logs.c_str());
  Fleet fleet;
  for (size_t i = 0; i < cfg->demo_workers.size(); ++i) {
    const auto& w = cfg->demo_workers[i];
    const net::Url& url = addrs[i].second;
    auto c = ChildProcess::spawn(worker_argv(w, url, opts.model_repository), logs + "/" + w.target + ".log");
    if (!c.ok()) { std::fprintf(stderr, "hir demo: %s\n", c.status().message().c_str()); return 1; }
    std::string rtt = w.emulate_rtt_ms > 0
                          ? fmt::format(", emulated RTT {} ± {} ms", w.emulate_rtt_ms, w.emulate_jitter_ms)
                          : "";
    std::printf("  started hir-worker for %-8s on %s (%s%s)\n", w.target.c_str(), url.authority().c_str(),
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

  for (size_t i = 0; i < addrs.size(); ++i) {
    if (!wait_ready(addrs[i].second, fleet.children[i], std::chrono::seconds(30))) {
      if (g_interrupted) break;
      std::fprintf(stderr, "hir demo: %s (%s) did not become ready; see %s/%s.log\n",
                   addrs[i].first.c_str(), addrs[i].second.authority().c_str(), logs.c_str(),
                   addrs[i].first.c_str());
      return 1;
    }
  }
  if (g_interrupted) {
    std::printf("hir demo: interrupted; stopping everything it started\n");
    return 130;
  }
  std::printf("hir demo: sending %zu Fashion-MNIST test images to /v2/models/%s/infer (%s, %d in flight)\n",
              items->size(), model.c_str(), opts.json ? "JSON" : "binary tensor extension", opts.concurrency);
  LoadOptions lo;
  lo.url = router_url;
  lo.path = "/v2/models/" + model + "/infer";
  lo.concurrency = opts.concurrency;
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
