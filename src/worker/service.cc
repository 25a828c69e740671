#include "worker/service.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "net/event_loop.h"
#include "net/server.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"
#include "worker/catalog.h"
#include "worker/emulated_speed.h"
#include "worker/executor.h"
#include "worker/handler.h"
#include "worker/repository.h"
#include "worker/rtt_emulator.h"

namespace hir::worker {
namespace {

// Written to a temporary name and renamed, so a reader polling the file never sees half a number.
Status write_port_file(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Internal("cannot write port file '" + tmp + "'");
    out << port << '\n';
    if (!out.flush()) return Internal("cannot write port file '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Internal("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  return Status::Ok();
}

// Holds each response back by the emulated WAN delay with a loop timer.
net::Handler with_emulated_rtt(net::Handler inner, net::EventLoop& loop, RttEmulator& emu) {
  return [inner = std::move(inner), &loop, &emu](net::HttpRequest&& req, net::Responder respond) {
    const Duration delay = emu.next_delay();
    inner(std::move(req), [&loop, delay, respond = std::move(respond)](net::HttpResponse r) {
      loop.run_after(delay, [respond, r = std::move(r)]() mutable { respond(std::move(r)); });
    });
  };
}

// Marks each slot ready or failed. The error says why the worker cannot serve as asked: no model
// loaded at all, or (when the operator named them with --models) a named model of which no
// version loaded, which would otherwise leave a worker that reports ready without it.
Status apply_load_results(Catalog& catalog, const std::vector<Slot>& slots, const std::vector<Status>& results,
                          bool named) {
  std::set<std::string> loaded, failed;
  for (size_t i = 0; i < results.size(); ++i) {
    catalog.set_state(i, results[i].ok() ? VersionState::kReady : VersionState::kFailed);
    if (results[i].ok()) {
      loaded.insert(slots[i].model);
      telemetry::log_info("model_loaded",
                          {{"model", slots[i].model}, {"path", slots[i].onnx_path.string()}});
    } else {
      failed.insert(slots[i].model);
      telemetry::log_error("model_load_failed", {{"model", slots[i].model},
                                                 {"path", slots[i].onnx_path.string()},
                                                 {"error", results[i].message()}});
    }
  }
  if (catalog.ready_count() == 0) return Unavailable("no model could be loaded");
  if (named)
    for (const std::string& m : failed)
      if (!loaded.contains(m)) return Unavailable("model '" + m + "' named by --models could not be loaded");
  return Status::Ok();
}

}  // namespace

int run_worker(const WorkerOptions& opts) {
  // A server outlives whatever reads its log: with SIGPIPE's default action, the first line
  // written after a log pipe's reader went away (tee, a shipper restarting) would kill it. The
  // write then fails instead, and its lines are counted dropped (telemetry/log.h). Sockets send
  // with MSG_NOSIGNAL already.
  std::signal(SIGPIPE, SIG_IGN);
  auto scan = scan_repository(opts.model_repository, opts.models);
  if (!scan.ok()) {
    telemetry::log_error("startup_failed", {{"error", scan.status().message()}});
    return 1;
  }
  for (const std::string& p : scan->problems) telemetry::log_warn("model_skipped", {{"reason", p}});

  Catalog catalog(std::move(scan->models));
  const std::vector<Slot> slots = catalog.slots();
  ExecutorOptions eo;
  eo.concurrency = std::max(opts.concurrency, 1);
  eo.queue_depth = std::max<size_t>(opts.queue_depth, 1);
  Executor executor(eo, slots,
                    with_emulated_service(onnx_model_loader(), from_ms(opts.emulate_service_ms)));
  telemetry::Registry registry;
  const RealClock clock;
  WorkerHandler handler(catalog, executor, registry, clock);

  net::EventLoop loop;
  RttEmulator emulator(opts.emulate_rtt_ms, opts.emulate_jitter_ms,
                       opts.seed != 0 ? opts.seed : std::random_device{}());
  net::Handler h = handler.as_handler();
  if (emulator.enabled()) h = with_emulated_rtt(std::move(h), loop, emulator);
  net::ServerOptions so;
  so.host = opts.host;
  so.port = opts.port;
  so.max_body_bytes = opts.max_body_bytes;
  so.server_name = std::string(kServerName);
  net::HttpServer server(loop, so, std::move(h));
  if (Status s = server.listen(); !s.ok()) {
    telemetry::log_error("startup_failed", {{"error", s.message()},
                                            {"host", opts.host},
                                            {"port", static_cast<int64_t>(opts.port)}});
    return 1;
  }
  telemetry::log_info("listening", {{"host", opts.host},
                                    {"port", static_cast<int64_t>(server.port())},
                                    {"models", static_cast<int64_t>(catalog.models().size())},
                                    {"concurrency", eo.concurrency},
                                    {"queue_depth", static_cast<int64_t>(eo.queue_depth)},
                                    {"emulate_rtt_ms", opts.emulate_rtt_ms},
                                    {"emulate_jitter_ms", opts.emulate_jitter_ms},
                                    {"emulate_service_ms", opts.emulate_service_ms}});
  if (!opts.port_file.empty()) {
    if (Status s = write_port_file(opts.port_file, server.port()); !s.ok()) {
      telemetry::log_error("startup_failed", {{"error", s.message()}});
      return 1;
    }
  }

  // Shutdown runs on the loop, once: stop reporting ready (so routers drain us), let the requests
  // in flight finish, then stop the loop.
  std::atomic<int> exit_code{0};
  std::atomic<bool> shutting_down{false};  // io threads may race on it when --threads > 1
  auto shutdown = [&](std::string_view why) {
    if (shutting_down.exchange(true)) return;
    handler.set_ready(false);
    telemetry::log_info("shutdown", {{"reason", why}, {"in_flight", static_cast<int64_t>(server.requests_in_flight())}});
    server.shutdown(from_ms(opts.shutdown_grace_s * 1000), [&loop] { loop.stop(); });
  };
  // SIGHUP too: the terminal or session that started it going away would otherwise kill it at
  // once (the default action), with requests in flight.
  loop.on_signals({SIGTERM, SIGINT, SIGHUP}, [&](int sig) {
    shutdown(sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT");
  });
  executor.start([&](std::vector<Status> results) {
    const Status loaded = apply_load_results(catalog, slots, results, !opts.models.empty());
    if (loaded.ok()) {
      if (!shutting_down.load()) handler.set_ready(true);
      telemetry::log_info("ready", {{"model_versions", static_cast<int64_t>(catalog.ready_count())}});
      return;
    }
    telemetry::log_error("startup_failed", {{"error", loaded.message()}});
    exit_code = 1;
    loop.post([&] { shutdown("models not loaded"); });
  });

  loop.run(std::max(opts.io_threads, 1));
  executor.stop();
  telemetry::log_info("stopped", {{"exit_code", exit_code.load()}});
  return exit_code.load();
}

}  // namespace hir::worker
