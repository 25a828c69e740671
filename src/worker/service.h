// hir-worker as a process: scan the repository, listen, load the models on the inference
// threads (ready once they are), serve until SIGTERM/SIGINT/SIGHUP, then drain and exit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hir::worker {

struct WorkerOptions {
  std::string model_repository = "models";
  std::vector<std::string> models;  // empty: every model in the repository
  std::string host = "127.0.0.1";
  uint16_t port = 8001;             // 0: any free port (see port_file)
  std::string port_file;            // written with the bound port once listening
  int concurrency = 1;              // inference threads
  size_t queue_depth = 256;
  size_t max_body_bytes = 64u << 20;
  int io_threads = 1;
  double emulate_rtt_ms = 0;
  double emulate_jitter_ms = 0;
  double emulate_service_ms = 0;    // per image: see emulated_speed.h
  uint64_t seed = 0;                // for the emulated jitter; 0: from std::random_device
  double shutdown_grace_s = 10;
};

// Runs until a signal asks it to stop. Returns the process exit code: 0 after a clean shutdown,
// 1 when the worker cannot start (bad repository, port in use, no model loads). Logging must be
// initialised by the caller.
int run_worker(const WorkerOptions& opts);

}  // namespace hir::worker
