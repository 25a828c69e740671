// `hir demo`: starts a whole local hybrid deployment (the MCU emulators and workers the
// configuration's `demo` section names, then `hir serve`), sends the Fashion-MNIST test set
// through the router with the section's routing hints and pace, prints accuracy, latency
// percentiles and the share per target, and stops everything it started, in reverse order, also
// on Ctrl-C.
#pragma once

#include <string>

namespace hir::bench {

struct DemoOptions {
  std::string config_path;  // empty: the embedded config/demo.yaml
  std::string model_repository = "models";
  size_t images = 10000;
  int concurrency = 8;  // in flight, for a closed loop (demo.rate_per_s unset)
  bool json = false;  // JSON bodies instead of the binary tensor extension
};

int run_demo(const DemoOptions& opts);

}  // namespace hir::bench
