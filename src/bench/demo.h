// `hir demo`: starts a whole local hybrid deployment (the workers the configuration's `demo`
// section names, then `hir serve`), sends the Fashion-MNIST test set through the router, prints
// accuracy, latency percentiles and the share per target, and stops everything it started,
// also on Ctrl-C.
#pragma once

#include <string>

namespace hir::bench {

struct DemoOptions {
  std::string config_path;  // empty: the embedded config/demo.yaml
  std::string model_repository = "models";
  size_t images = 10000;
  int concurrency = 8;
  bool json = false;  // JSON bodies instead of the binary tensor extension
};

int run_demo(const DemoOptions& opts);

}  // namespace hir::bench
