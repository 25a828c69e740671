#include "router/serve.h"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "router/cache_glue.h"
#include "router/config.h"
#include "router/embedded_config.h"
#include "router/service.h"
#include "router/store_glue.h"
#include "store/ledger.h"
#include "store/store.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"

namespace hir::router {

namespace {

// A start-up failure as one JSON line like every other (the worker logs the same event), then
// the exit status: 2 for what the operator must fix in the configuration or environment.
int startup_failed(const std::string& error, int status = 2) {
  telemetry::log_error("startup_failed", {{"error", error}});
  telemetry::flush_logging();
  return status;
}

}  // namespace

int run_serve(const ServeOptions& opts) {
  // A server outlives whatever reads its log: with SIGPIPE's default action, the first line
  // written after a log pipe's reader went away (tee, a shipper restarting) would kill it. The
  // write then fails instead, and its lines are counted dropped (telemetry/log.h). Sockets send
  // with MSG_NOSIGNAL already.
  std::signal(SIGPIPE, SIG_IGN);
  auto level = telemetry::parse_level(opts.log_level);
  if (!level) {
    std::fprintf(stderr, "hir serve: unknown --log-level '%s'\n", opts.log_level.c_str());
    return 2;
  }
  telemetry::init_logging(*level, "hir");
  auto cfg = opts.config_path.empty() ? parse_config(embedded_demo_config())
                                      : load_config_file(opts.config_path);
  if (!cfg.ok()) return startup_failed(cfg.status().message());
  if (!opts.host.empty()) cfg->server.host = opts.host;
  if (opts.port >= 0) cfg->server.port = static_cast<uint16_t>(opts.port);
  if (const char* url = std::getenv(kRedisUrlEnv); url != nullptr && *url != '\0') {
    if (Status s = apply_redis_url(*cfg, url); !s.ok()) return startup_failed(s.message());
    if (!cfg->cache) telemetry::log_warn("redis_url_ignored", {{"env", kRedisUrlEnv}, {"reason", "no cache section"}});
  }

  // Declared before the service so they outlive it: the service submits to the ledger, which
  // writes to the store.
  std::unique_ptr<store::Store> db;
  std::unique_ptr<store::LedgerWriter> ledger;
  const std::string db_url = serve_database_url(opts.database);
  StoreWiring wiring;
  if (!is_no_database(db_url)) {
    bool seeded = false;
    auto opened = open_seeded_store(db_url, *cfg, &seeded);
    if (!opened.ok())
      return startup_failed("database " + store::redact_url(db_url) + ": " + opened.status().message());
    db = std::move(*opened);
    telemetry::log_info("database", {{"url", store::redact_url(db_url)}, {"backend", db->backend()},
                                     {"schema_version", static_cast<int64_t>(db->schema_version())},
                                     {"seeded_from_config", seeded}});
    store::LedgerOptions lo;
    lo.queue_capacity = static_cast<size_t>(std::max(1, opts.ledger_queue_capacity));
    ledger = std::make_unique<store::LedgerWriter>(*db, lo);
    wiring.store = db.get();
    wiring.ledger = ledger.get();
    wiring.registry_poll = from_ms(opts.registry_poll_seconds * 1000);
  }
  if (const char* key = std::getenv("HIR_ADMIN_KEY"); key != nullptr) {
    // A key read from a secret file often ends in a newline, which no request can send (HTTP
    // drops the whitespace around a header's value): the key is what lies between.
    std::string_view k(key);
    const auto first = k.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos) wiring.admin_key = k.substr(first, k.find_last_not_of(" \t\r\n") - first + 1);
  }
  const bool admin_on = !wiring.admin_key.empty();

  net::EventLoop loop;
  telemetry::Registry metrics;
  net::HttpClient client(loop);
  auto cache = CacheGlue::create(*cfg, metrics);
  if (!cache.ok()) return startup_failed("cache: " + cache.status().message());
  RouterService service(*cfg, loop, client, metrics, static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count()),
                        std::move(*cache), wiring);
  if (db) {
    // The registry, not the YAML, is what this router serves from now on.
    if (Status s = service.reload_registry(); !s.ok()) return startup_failed("loading the registry: " + s.message());
  }
  net::ServerOptions so;
  so.host = cfg->server.host;
  so.port = cfg->server.port;
  so.max_body_bytes = cfg->server.max_body_bytes;
  so.max_connections = cfg->server.max_connections;
  net::HttpServer server(loop, so, [&service](net::HttpRequest&& r, net::Responder done) {
    service.handle(std::move(r), std::move(done));
  });
  if (Status s = server.listen(); !s.ok())
    return startup_failed("cannot listen on " + so.host + ":" + std::to_string(so.port) + ": " + s.message(), 1);
  bool stopping = false;
  // SIGHUP too: the terminal or session that started it going away would otherwise kill it at
  // once (the default action), with requests in flight and the ledger's queue unwritten.
  loop.on_signals({SIGINT, SIGTERM, SIGHUP}, [&](int sig) {
    if (stopping) return;  // a second signal while draining changes nothing
    stopping = true;
    service.set_ready(false);
    service.stop_polling();
    telemetry::log_info("shutdown", {{"signal", sig}, {"in_flight", static_cast<int64_t>(server.requests_in_flight())}});
    server.shutdown(from_ms(opts.drain_seconds * 1000), [&loop] { loop.stop(); });
  });
  metrics.gauge_fn("hir_http_connections", "Open client connections", {},
                   [&server] { return static_cast<double>(server.connections()); });
  metrics.counter_fn("hir_log_lines_dropped_total", "Log lines dropped since start because the log writer fell behind", {},
                     [] { return static_cast<double>(telemetry::log_dropped()); });
  if (!opts.port_file.empty()) {
    // Written whole, then renamed, so a reader never sees half a number.
    std::string tmp = opts.port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    std::rename(tmp.c_str(), opts.port_file.c_str());
  }
  telemetry::log_info("listening", {{"host", so.host}, {"port", static_cast<int64_t>(server.port())},
                                    {"config", opts.config_path.empty() ? "embedded" : opts.config_path},
                                    {"database", db ? store::redact_url(db_url) : std::string("none")},
                                    {"registry_version", service.registry_version()},
                                    {"admin_api", admin_on ? "enabled" : "disabled"},
                                    {"busy_poll_us", static_cast<int64_t>(cfg->server.busy_poll.count() / 1000)}});

  loop.post([&service] { service.start_polling(); });
  loop.run(cfg->server.threads, cfg->server.busy_poll);
  // After the HTTP drain: no request needs a device any more.
  service.stop_devices();
  // A database that hangs must not hold the exit: once the drain's grace has passed again,
  // whatever still waits on it (an admin call, a registry poll, the ledger's last batch) is
  // broken off, and its records are counted as lost.
  std::mutex end_mu;
  std::condition_variable end_cv;
  bool ended = false;
  std::thread watchdog;
  if (db) {
    watchdog = std::thread([&] {
      std::unique_lock lock(end_mu);
      const auto grace = std::max(from_ms(opts.drain_seconds * 1000), Duration(std::chrono::seconds(1)));
      if (end_cv.wait_for(lock, grace, [&] { return ended; })) return;
      telemetry::log_warn("database_interrupted", {{"reason", "the database did not answer within the drain's grace"}});
      while (!end_cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return ended; })) db->interrupt();
    });
  }
  service.stop_store_work();
  if (ledger) {
    // Every request the drain let finish has submitted its record; write them all before exit.
    ledger->flush_and_stop();
    auto c = ledger->counters();
    telemetry::log_info("ledger_flushed", {{"accepted", static_cast<int64_t>(c.accepted)},
                                           {"written", static_cast<int64_t>(c.written)},
                                           {"overflowed", static_cast<int64_t>(c.overflowed)},
                                           {"lost", static_cast<int64_t>(c.lost)}});
  }
  if (watchdog.joinable()) {
    {
      std::lock_guard lock(end_mu);
      ended = true;
    }
    end_cv.notify_all();
    watchdog.join();
  }
  telemetry::log_info("stopped");
  telemetry::flush_logging();
  return 0;
}

}  // namespace hir::router
