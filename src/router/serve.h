// `hir serve`: runs the router until SIGTERM/SIGINT/SIGHUP, then drains requests in flight.
#pragma once

#include <string>

namespace hir::router {

struct ServeOptions {
  std::string config_path;  // empty: the embedded config/demo.yaml
  std::string host;         // overrides server.host when non-empty
  int port = -1;            // overrides server.port when >= 0 (0 picks a free port)
  std::string port_file;    // where to write the bound port, for scripts and tests
  std::string log_level = "info";
  double drain_seconds = 10;
  // sqlite://PATH, postgres://..., or "none"; "" = $DATABASE_URL, else "none" (docs/configuration.md).
  std::string database;
  double registry_poll_seconds = 1;
  int ledger_queue_capacity = 65536;
};

// Returns the process exit code: 0 after a clean shutdown, 2 for a bad configuration or a database
// that cannot be opened, 1 when the listening socket cannot be opened. On SIGTERM/SIGINT/SIGHUP: the HTTP
// drain first, then the usage ledger is flushed, then the database closed.
int run_serve(const ServeOptions& opts);

}  // namespace hir::router
