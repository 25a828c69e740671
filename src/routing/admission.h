// Load shedding under overload. Under pressure the cheapest work goes first: `sheddable` above
// shed_sheddable_above, then `standard` above shed_standard_above; `critical` is never shed while
// any target can serve it (the criticality tiers of Google's SRE book, ch. 21 "Handling
// Overload"). A shed request is answered HTTP 429 with the reason and a Retry-After header
// (RFC 6585 §4, RFC 9110 §10.2.3) — the client's cue to back off rather than retry at once.
//
// Pure and stateless: the caller measures the fleet and passes it in.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "routing/types.h"

namespace hir::routing {

struct AdmissionConfig {
  double shed_sheddable_above = 0.85;   // fleet utilization (0..1+) above which sheddable is refused
  double shed_standard_above = 0.97;    // above which standard is refused too
  Duration retry_after = std::chrono::seconds(1);
};

// Rejects thresholds that are negative or NaN, standard below sheddable (it would invert the
// shedding order) and a negative retry_after. admit() stays order-safe even without this check.
Status validate(const AdmissionConfig& cfg);

struct Admission {
  bool admitted = true;
  std::string reason;      // empty when admitted; for the 429 body and the logs
  Duration retry_after{};  // zero when admitted
};

// fleet_utilization: the load of the targets that could serve this request (the caller computes
// it); any_target_available: whether any target could serve it at all (breaker closed/half-open,
// healthy). With no target available every priority is refused, critical included: there is
// nothing to send it to (the router may still answer from its fallback cache). A NaN utilization
// means "unknown" and sheds nothing: a broken load signal must not turn away traffic.
Admission admit(Priority p, double fleet_utilization, bool any_target_available,
                const AdmissionConfig& cfg);

// The Retry-After header value: whole seconds, rounded up, at least 1 (a 0 would invite the
// immediate retry storm that shedding is meant to prevent).
int64_t retry_after_seconds(Duration d);

}  // namespace hir::routing
