// A load generator for v2 inference endpoints: sends prepared request bodies with a fixed number
// in flight (closed loop) and records, per request, the status, latency, the target that served
// it (hir_target) and the predicted class. Used by `hir demo` and by the integration tests.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "core/time.h"
#include "net/client.h"

namespace hir::bench {

struct LoadItem {
  std::string body;
  std::optional<size_t> json_length;  // set for binary-extension bodies
  int label = -1;                     // the true class, when known
};

struct LoadResult {
  int status = 0;  // HTTP status; 0 when no response came
  double latency_ms = 0;
  std::string target;   // the response's hir_target parameter, if any
  int predicted = -1;   // argmax of the first output, if it could be read
  std::string error;    // transport or decoding error
};

struct LoadOptions {
  net::Url url;
  std::string path;  // e.g. /v2/models/fmnist/infer
  int concurrency = 16;
  Duration timeout = std::chrono::seconds(10);
  const std::atomic<bool>* cancel = nullptr;  // stop issuing new requests when it turns true
  size_t total = 0;  // requests to send, cycling through the items; 0: each item once
  // > 0: open loop — request i is sent at start + i / rate_per_s whatever the answers, with at
  // most kMaxPacedInFlight outstanding (concurrency is then unused). 0: closed loop.
  double rate_per_s = 0;
};
inline constexpr int kMaxPacedInFlight = 256;

std::vector<LoadResult> run_closed_loop(const std::vector<LoadItem>& items, const LoadOptions& opts);

// Fashion-MNIST test images as v2 requests for input `input` FP32 [1,784] scaled to [0,1].
// binary: the binary tensor extension; otherwise JSON data. limit: at most this many images.
// decorate, if set, may change request i (its parameters: routing hints) before it is encoded.
Result<std::vector<LoadItem>> fmnist_test_requests(size_t limit, bool binary,
                                                   const std::function<void(size_t, InferRequest&)>& decorate = {});

struct Summary {
  size_t sent = 0, ok = 0, correct = 0, labelled = 0;
  double p50 = 0, p95 = 0, p99 = 0, mean = 0;
  std::map<std::string, size_t> per_target;
  std::map<int, size_t> per_status;
};
// Result i belongs to item i % items.size() (see LoadOptions::total).
Summary summarize(const std::vector<LoadResult>& results, const std::vector<LoadItem>& items);
std::string format_summary(const Summary& s, double wall_seconds);

}  // namespace hir::bench

namespace hir::bench {

// `hir bench`: drive one endpoint with Fashion-MNIST requests and report (optionally as JSON).
struct BenchOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string model = "fmnist";
  size_t requests = 2000;
  int concurrency = 8;
  bool json = false;
  std::string report_path;  // write the figures as JSON here
};
int run_bench(const BenchOptions& opts);

}  // namespace hir::bench
