#include "worker/routes.h"

#include "protocol/v2_path.h"

namespace hir::worker {

Route parse_route(std::string_view path) {
  if (path == "/v1/load") return {Endpoint::kLoad, {}, {}};
  if (path == "/metrics") return {Endpoint::kMetrics, {}, {}};
  protocol::V2Path p = protocol::parse_v2_path(path);
  Route r{Endpoint::kNotFound, std::move(p.model), std::move(p.version), p.error};
  switch (p.endpoint) {
    case protocol::V2Endpoint::kUnknown: r.endpoint = Endpoint::kNotFound; break;
    case protocol::V2Endpoint::kServerMetadata: r.endpoint = Endpoint::kServerMetadata; break;
    case protocol::V2Endpoint::kLive: r.endpoint = Endpoint::kLive; break;
    case protocol::V2Endpoint::kReady: r.endpoint = Endpoint::kReady; break;
    case protocol::V2Endpoint::kModelList: r.endpoint = Endpoint::kModelList; break;
    case protocol::V2Endpoint::kModelMetadata: r.endpoint = Endpoint::kModelMetadata; break;
    case protocol::V2Endpoint::kModelReady: r.endpoint = Endpoint::kModelReady; break;
    case protocol::V2Endpoint::kInfer: r.endpoint = Endpoint::kInfer; break;
    case protocol::V2Endpoint::kModelConfig: r.endpoint = Endpoint::kModelConfig; break;
  }
  return r;
}

std::string_view allowed_method(Endpoint e) { return e == Endpoint::kInfer ? "POST" : "GET"; }

}  // namespace hir::worker
