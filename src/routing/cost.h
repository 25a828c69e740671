// Cost of one request on a target: a fixed price per request plus a price per second of
// service (the two ways inference is sold — per call, and per second of an instance/GPU).
//
//   cost = cost_per_request + round(cost_per_second × service_ns / 1e9)
//
// in integer nano-USD throughout (no bare doubles for money): the product is taken in 128 bits,
// so it is exact for any price and duration an int64 can hold, then rounded to the nearest
// nano-USD, halves away from zero, and saturated to the int64 range. A negative service time
// counts as zero.
#pragma once

#include "core/money.h"
#include "core/time.h"
#include "routing/registry.h"

namespace hir::routing {

Money predict_cost(const TargetInfo& t, Duration service);

// The per-second term alone: price × duration, rounded as above.
Money cost_of_time(Money per_second, Duration d);

}  // namespace hir::routing
