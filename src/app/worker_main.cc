// hir-worker: serves ONNX models over the KServe v2 / Triton HTTP API on an edge box or in the
// cloud tier, and reports its load to routers on /v1/load.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <sstream>
#include <string>

#include "app/command_line.h"
#include "telemetry/log.h"
#include "worker/handler.h"
#include "worker/service.h"

namespace {

std::vector<std::string> split_names(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream in(csv);
  for (std::string name; std::getline(in, name, ',');)
    if (!name.empty()) out.push_back(name);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "hir-worker — serves ONNX models over the KServe v2 / Triton HTTP API (JSON and the binary\n"
      "tensor extension), for an edge box or the cloud tier behind `hir serve`.\n\n"
      "It loads a Triton-layout model repository:\n"
      "  <repo>/<model>/config.yaml          name, platform, max_batch_size, inputs, outputs\n"
      "  <repo>/<model>/<version>/model.onnx  every numeric version; the highest is the default\n"
      "Supported today: platform onnxruntime_onnx, one FP32 input and one FP32 output with fixed\n"
      "shapes (besides the batch dimension), run with OpenCV dnn. A request of shape [N, ...] runs\n"
      "as one batch of N. Unsupported or broken models are logged and skipped.\n\n"
      "Examples:\n"
      "  hir-worker                                        # ./models on 127.0.0.1:8001\n"
      "  hir-worker --model-repository /srv/models --models fmnist-small,fmnist-large\n"
      "  hir-worker --host 0.0.0.0 --port 8001 --concurrency 4 --queue-depth 512\n"
      "  hir-worker --port 0 --port-file /tmp/w.port      # any free port, written to the file\n"
      "  hir-worker --emulate-rtt-ms 40 --emulate-jitter-ms 10   # act as a far-away cloud endpoint\n"
      "  hir-worker --emulate-service-ms 5                 # act as an edge box ~30x slower\n"
      "  curl -s localhost:8001/v2/models/fmnist-small     # model metadata\n"
      "  curl -s localhost:8001/v1/load                    # the load report routers poll\n"};

  hir::worker::WorkerOptions o;
  std::string models_csv;
  std::string log_level = "info";
  int port = o.port;
  app.add_option("--model-repository", o.model_repository, "Model repository directory")
      ->capture_default_str();
  app.add_option("--models", models_csv,
                 "Comma-separated model names to serve (default: all in the repository); a name "
                 "that cannot be served stops the worker at start");
  app.add_option("--host", o.host, "Listen address")->capture_default_str();
  app.add_option("-p,--port", port, "Listen port; 0 picks a free one (see --port-file)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--port-file", o.port_file, "Write the bound port to this file once listening");
  app.add_option("--concurrency", o.concurrency,
                 "Inference threads; each loads its own copy of every model")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--queue-depth", o.queue_depth,
                 "Requests that may wait for a thread; beyond it requests get 503 + Retry-After")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-body-bytes", o.max_body_bytes, "Largest request body accepted (413 above)")
      ->capture_default_str();
  app.add_option("--threads", o.io_threads, "I/O threads for HTTP (1 is best on 2 cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--emulate-rtt-ms", o.emulate_rtt_ms,
                 "For local deployments only: delay every response by this many ms to stand in "
                 "for a WAN link (a timer, not a sleeping thread)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--emulate-jitter-ms", o.emulate_jitter_ms,
                 "With --emulate-rtt-ms: add a uniform ±jitter in ms to each delay")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--emulate-service-ms", o.emulate_service_ms,
                 "For local deployments only: inference takes at least this many ms per image, as on "
                 "a slower device; reported as service time (Server-Timing, /v1/load)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--log-level", log_level, "debug, info, warn or error (JSON lines on stderr)")
      ->capture_default_str();
  app.set_version_flag("--version", std::string(hir::worker::kServerVersion));
  app.footer(
      "Endpoints: GET /v2, /v2/health/live, /v2/health/ready (503 until the models load),\n"
      "/v2/models, /v2/models/<m>[/versions/<v>][/ready], POST /v2/models/<m>[/versions/<v>]/infer,\n"
      "GET /v1/load (queue, busy share, service-time percentiles), GET /metrics (Prometheus).\n"
      "SIGTERM, SIGINT or SIGHUP: stop accepting, finish the requests in flight (up to 10 s), exit 0.");

  if (auto rc = hir::app::parse_command_line(app, argc, argv)) return *rc;

  auto level = hir::telemetry::parse_level(log_level);
  if (!level) {
    std::fprintf(stderr, "hir-worker: --log-level must be debug, info, warn or error, not '%s'\n",
                 log_level.c_str());
    return 2;
  }
  hir::telemetry::init_logging(*level, "hir-worker");
  o.port = static_cast<uint16_t>(port);
  o.models = split_names(models_csv);
  return hir::worker::run_worker(o);
}
