// Maps a request path to a worker endpoint: the v2 paths (parsed by protocol/v2_path, shared with
// the router) plus the worker's own /v1/load and /metrics. Pure string work, unit-tested alone.
#pragma once

#include <string>
#include <string_view>

namespace hir::worker {

enum class Endpoint {
  kNotFound,
  kServerMetadata,  // GET  /v2
  kLive,            // GET  /v2/health/live
  kReady,           // GET  /v2/health/ready
  kModelList,       // GET  /v2/models                (KServe / MLServer)
  kModelMetadata,   // GET  /v2/models/{m}[/versions/{v}]
  kModelReady,      // GET  /v2/models/{m}[/versions/{v}]/ready
  kModelConfig,     // GET  /v2/models/{m}[/versions/{v}]/config (Triton's model configuration)
  kInfer,           // POST /v2/models/{m}[/versions/{v}]/infer
  kLoad,            // GET  /v1/load                  (polled by the router)
  kMetrics,         // GET  /metrics                  (Prometheus)
};

struct Route {
  Endpoint endpoint = Endpoint::kNotFound;
  std::string model;    // percent-decoded
  std::string version;  // empty: the latest
  std::string_view error = "Not Found";  // kNotFound: what the 404 says (protocol/v2_path.h)
};

// `path` excludes the query string.
Route parse_route(std::string_view path);

// The one method an endpoint takes ("GET" or "POST"); HEAD is not served.
std::string_view allowed_method(Endpoint e);

}  // namespace hir::worker
