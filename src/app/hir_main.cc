// hir: the hybrid inference router's command line (serve, demo).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/command_line.h"
#include "bench/demo.h"
#include "bench/loadgen.h"
#include "router/serve.h"
#include "sim/sim.h"
#include "store/report_cmd.h"

int main(int argc, char** argv) {
  CLI::App app{
      "hir — a hybrid inference router. It serves the KServe v2 / Triton inference API and sends\n"
      "each request to the cheapest target (MCU, edge box or cloud) and model variant that meets\n"
      "its latency budget and accuracy need, falling back when a target fails.\n\n"
      "Examples:\n"
      "  hir serve                         # the embedded demo configuration on 127.0.0.1:8000\n"
      "  hir serve --config prod.yaml --port 9000 --database sqlite:///var/lib/hir/hir.db\n"
      "  hir demo                          # start a local deployment and send it 10,000 images\n"
      "  hir bench --url http://127.0.0.1:8000 -n 5000   # measure an endpoint\n"
      "  hir sim scenarios/steady.yaml     # simulate a fleet, compare with baselines\n"
      "  hir report --database sqlite:///var/lib/hir/hir.db --since 1h   # what the traffic cost\n"};
  app.require_subcommand(1);
  app.set_version_flag("--version", HIR_VERSION);

  hir::router::ServeOptions so;
  auto* serve = app.add_subcommand("serve", "Run the router until SIGTERM/SIGINT/SIGHUP (then drain requests in flight)");
  serve->add_option("-c,--config", so.config_path, "YAML configuration (default: the embedded config/demo.yaml)")
      ->check(CLI::ExistingFile);
  serve->add_option("--host", so.host, "Listen address (overrides server.host)");
  serve->add_option("-p,--port", so.port, "Listen port, 0 for any free port (overrides server.port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--port-file", so.port_file, "Write the bound port to this file once listening");
  serve->add_option("--log-level", so.log_level, "debug, info, warn or error")->capture_default_str();
  serve->add_option("--drain-seconds", so.drain_seconds, "How long shutdown waits for requests in flight")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  serve->add_option("--database", so.database,
                    "Registry and usage ledger: sqlite://PATH, postgres://..., or none (default: $DATABASE_URL, "
                    "else none: the YAML alone, no ledger)");
  serve->add_option("--registry-poll-seconds", so.registry_poll_seconds,
                    "How often the registry's version is checked for changes (with a database)")
      ->capture_default_str()->check(CLI::Range(0.05, 3600.0));
  serve->add_option("--ledger-queue", so.ledger_queue_capacity,
                    "Usage records held in memory waiting for the database; beyond it they are counted as overflowed")
      ->capture_default_str()->check(CLI::Range(1, 1 << 24));
  serve->footer(
      "Clients call POST /v2/models/<model>/infer exactly as they would call Triton; routing hints go in\n"
      "the request's parameters (latency_budget_ms, priority, complexity, min_accuracy, max_cost_usd)\n"
      "or in x-hir-* headers. Other endpoints: /v2, /v2/health/{live,ready}, /v2/models,\n"
      "/v2/models/<m>[/versions/<v>][/config|/ready], POST /v1/route/explain (the plan a request would\n"
      "get), /metrics (Prometheus), /v1/targets, /v1/admin/... (with a database; Authorization: Bearer\n"
      "$HIR_ADMIN_KEY, docs/store.md). With a database the YAML seeds an empty registry, the registry\n"
      "is reloaded when it changes, and every inference is recorded for `hir report`.");

  hir::bench::DemoOptions dopt;
  auto* demo = app.add_subcommand("demo", "Start a local hybrid deployment, drive it with Fashion-MNIST, report, stop");
  demo->add_option("-c,--config", dopt.config_path, "Configuration whose `demo` section says what to start")
      ->check(CLI::ExistingFile);
  demo->add_option("--model-repository", dopt.model_repository, "Model repository for the workers")
      ->capture_default_str();
  demo->add_option("-n,--images", dopt.images, "How many test images to send (at most 10000)")
      ->capture_default_str()->check(CLI::Range(1, 10000));
  demo->add_option("--concurrency", dopt.concurrency,
                   "Requests in flight, when the configuration sets no demo.rate_per_s (the embedded one "
                   "paces the run at 300 req/s, open loop)")->capture_default_str()
      ->check(CLI::Range(1, 4096));
  demo->add_flag("--json", dopt.json, "Send JSON bodies instead of the binary tensor extension");

  hir::bench::BenchOptions bopt;
  auto* bench = app.add_subcommand("bench", "Send Fashion-MNIST requests to a v2 endpoint (hir or a worker) and report");
  bench->add_option("--url", bopt.url, "Base URL of the endpoint")->capture_default_str();
  bench->add_option("-m,--model", bopt.model, "Model name in the path")->capture_default_str();
  bench->add_option("-n,--requests", bopt.requests, "Requests to send")->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  bench->add_option("--concurrency", bopt.concurrency, "Requests in flight")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  bench->add_flag("--json", bopt.json, "JSON bodies instead of the binary tensor extension");
  bench->add_option("--report", bopt.report_path, "Also write the figures as JSON to this file");
  bench->footer("Example: hir bench --url http://127.0.0.1:8101 --model fmnist-small -n 5000 --concurrency 16\n"
                "Ctrl-C stops it early and prints the figures of the requests sent until then (exit 130).");

  hir::sim::SimOptions sopt;
  uint64_t sim_seed = 0;
  auto* sim = app.add_subcommand("sim", "Simulate a fleet and its faults with the routing code; compare with baselines");
  sim->add_option("scenario", sopt.scenario_path, "Scenario YAML (see scenarios/ and docs/simulator.md)")
      ->required()->check(CLI::ExistingFile);
  auto* seed_opt = sim->add_option("--seed", sim_seed, "Random seed (default: the scenario's)")
                      ->check(CLI::Validator(
                          [](std::string& v) { return v.starts_with('-') ? std::string("a seed is 0 or more") : std::string(); },
                          "UINT"));
  sim->add_option("--json", sopt.json_path, "Also write the figures as JSON to this file");
  sim->add_option("-n,--requests", sopt.max_requests, "Simulate this many requests (default: the scenario's duration)")
      ->check(CLI::Range(uint64_t{1}, hir::sim::kMaxSimRequests));
  sim->add_flag("--progress", sopt.progress, "Show a progress bar on stderr");
  sim->footer("Example: hir sim scenarios/steady.yaml --seed 7 --json steady.json");

  hir::store::ReportCommandOptions ropt;
  auto* report = app.add_subcommand("report", "Summarize the usage ledger: success, latency, cost, edge use, saving vs cloud-only");
  report->add_option("--database", ropt.database_url, "Database URL (default: $DATABASE_URL, else sqlite://hir.db)");
  report->add_option("--since", ropt.since, "Window start: a duration back from now (30m, 1h, 7d) or a UTC time (2026-11-26T00:00:00Z)");
  report->add_option("-m,--model", ropt.model, "Only this model");
  report->add_option("--format", ropt.format, "table, json or csv")->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "csv"}));
  report->footer("Formulas: docs/report.md. Example: hir report --since 1h --format json");

  // `hir help` as well as `hir --help`: both are what people type.
  auto* help = app.add_subcommand("help", "Print this help, or a command's: hir help serve");
  std::string help_on;
  help->add_option("command", help_on, "The command to explain");

  if (auto rc = hir::app::parse_command_line(app, argc, argv)) return *rc;
  if (help->parsed()) {
    CLI::App* of = &app;
    if (!help_on.empty()) {
      try {
        of = app.get_subcommand(help_on);
      } catch (const CLI::OptionNotFound&) {
        std::fprintf(stderr, "hir help: no command '%s'; the commands are serve, demo, bench, sim, report\n",
                     help_on.c_str());
        return 2;
      }
    }
    std::fputs(app.get_formatter()->make_help(of, of == &app ? std::string("hir") : "hir " + of->get_name(), CLI::AppFormatMode::Normal).c_str(), stdout);
    return 0;
  }
  if (sim->parsed()) {
    if (seed_opt->count()) sopt.seed = sim_seed;
    return hir::sim::run_sim(sopt);
  }
  if (bench->parsed()) return hir::bench::run_bench(bopt);
  if (serve->parsed()) return hir::router::run_serve(so);
  if (demo->parsed()) return hir::bench::run_demo(dopt);
  if (report->parsed()) return hir::store::run_report(ropt);
  return 0;
}
