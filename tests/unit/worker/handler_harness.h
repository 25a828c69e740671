// A WorkerHandler over a temporary repository and a fake (or real) engine, called without sockets.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>

#include "telemetry/metrics.h"
#include "unit/worker/fake_model.h"
#include "unit/worker/test_repo.h"
#include "worker/catalog.h"
#include "worker/executor.h"
#include "worker/handler.h"
#include "worker/repository.h"

namespace hir::worker::testing {

struct HarnessOptions {
  std::shared_ptr<Gate> gate;
  size_t queue_depth = 16;
  int concurrency = 1;
  bool load = true;  // load the models and mark the server ready
  std::optional<std::filesystem::path> repository;  // default: a toy repository
  ModelLoader loader;                                // default: fake_loader(gate)
};

class Harness {
 public:
  explicit Harness(HarnessOptions o = {}) {
    if (!o.repository) {
      repo_ = std::make_unique<TempRepo>();
      repo_->add_model("toy", kSmallConfig, {1, 2});
      o.repository = repo_->root();
    }
    auto scan = scan_repository(*o.repository);
    EXPECT_TRUE(scan.ok()) << scan.status().to_string();
    catalog_ = std::make_unique<Catalog>(scan.ok() ? std::move(scan->models)
                                                   : std::vector<RepositoryModel>{});
    ExecutorOptions eo;
    eo.queue_depth = o.queue_depth;
    eo.concurrency = o.concurrency;
    executor_ = std::make_unique<Executor>(eo, catalog_->slots(),
                                           o.loader ? o.loader : fake_loader(o.gate));
    handler_ = std::make_unique<WorkerHandler>(*catalog_, *executor_, registry_, clock_);
    if (o.load) load();
  }
  ~Harness() { executor_->stop(); }

  void load() {
    std::promise<void> loaded;
    executor_->start([&](std::vector<Status> results) {
      for (size_t i = 0; i < results.size(); ++i)
        catalog_->set_state(i, results[i].ok() ? VersionState::kReady : VersionState::kFailed);
      loaded.set_value();
    });
    loaded.get_future().wait();
    handler_->set_ready(true);
  }

  // Starts a request; the future completes when the handler responds.
  std::future<net::HttpResponse> start(std::string method, std::string target,
                                       std::string body = "", net::Headers headers = {}) {
    auto p = std::make_shared<std::promise<net::HttpResponse>>();
    auto f = p->get_future();
    net::HttpRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    handler_->handle(std::move(req), [p](net::HttpResponse r) { p->set_value(std::move(r)); });
    return f;
  }
  net::HttpResponse call(std::string method, std::string target, std::string body = "",
                         net::Headers headers = {}) {
    auto f = start(std::move(method), std::move(target), std::move(body), std::move(headers));
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "no response";
      return {};
    }
    return f.get();
  }

  WorkerHandler& handler() { return *handler_; }
  Catalog& catalog() { return *catalog_; }

 private:
  std::unique_ptr<TempRepo> repo_;
  RealClock clock_;
  telemetry::Registry registry_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<WorkerHandler> handler_;
};

}  // namespace hir::worker::testing
