// The KServe v2 REST paths (shared/protocol-v2.md §1), parsed once for the router and the worker.
#pragma once

#include <string>
#include <string_view>

namespace hir::protocol {

enum class V2Endpoint {
  kUnknown,
  kServerMetadata,  // GET /v2
  kLive,            // GET /v2/health/live
  kReady,           // GET /v2/health/ready
  kModelList,       // GET /v2/models
  kModelMetadata,   // GET /v2/models/{m}[/versions/{v}]
  kModelReady,      // GET /v2/models/{m}[/versions/{v}]/ready
  kInfer,           // POST /v2/models/{m}[/versions/{v}]/infer
  kModelConfig,     // GET /v2/models/{m}[/versions/{v}]/config (Triton's, for its clients)
};

struct V2Path {
  V2Endpoint endpoint = V2Endpoint::kUnknown;
  std::string model;    // percent-decoded
  std::string version;  // empty when the path has no /versions/{v}
  // kUnknown: the message of the 404 that answers it. 404 rather than 400 for an empty name or
  // version, or one that does not decode (an encoded '/' among them): no model has such a name,
  // and hir answers 404 to a name no model has whatever its characters, as Triton's path router
  // answers 404 to a version it cannot read (shared/protocol-v2.md §1.3). The message says what
  // is wrong.
  std::string_view error = "Not Found";
};

// Parses a request path (no query string). Unknown shapes give kUnknown; model names may not be
// empty and may not contain '/' (nor decode to one: `%2F`). Repeated slashes count as one, except
// after `models` and `versions`, where they leave the name or version empty (kUnknown, and `error`
// says which): read as one, `models//infer` named model "infer" and `versions//infer` version
// "infer". So `/v2/models/` is an empty name too; the list is `/v2/models` alone.
V2Path parse_v2_path(std::string_view path);
// The method each endpoint answers ("GET" or "POST").
std::string_view v2_method(V2Endpoint e);

}  // namespace hir::protocol
