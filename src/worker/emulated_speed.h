// Stands in for slower hardware in local deployments: a model whose every batch takes at least
// `per_row` × rows, as it would on an edge box several times slower than the host. The inference
// thread sleeps out the difference, so the slot stays taken and every figure the worker reports —
// Server-Timing's `infer`, /v1/load's busy share and service percentiles, the metrics — sees the
// emulated time, just as a router would learn it from the real device.
#pragma once

#include "core/time.h"
#include "worker/executor.h"

namespace hir::worker {

// `inner` unchanged when per_row is zero or less.
ModelLoader with_emulated_service(ModelLoader inner, Duration per_row);

}  // namespace hir::worker
