// The registry view the routing core decides over: logical models, their variants (accuracy,
// size, expected service time), the targets (hardware class, price, failure domain) and which
// target serves which variant. Built once from configuration (or the store); read-only while
// routing. Indices are dense and stable.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/time.h"
#include "routing/types.h"

namespace hir::routing {

using ModelIndex = uint32_t;

struct VariantInfo {
  std::string name;          // the model's name on its targets
  ModelIndex model = 0;
  double accuracy = 0;       // top-1, 0..1, over the whole test set
  // Optional accuracy per complexity band: band i covers complexity [i/n, (i+1)/n). Empty:
  // `accuracy` at every complexity.
  std::vector<double> accuracy_by_band;
  int64_t size_bytes = 0;
  Duration expected_service = std::chrono::milliseconds(1);  // prior until measured
};

struct TargetInfo {
  std::string name;
  HardwareClass hw = HardwareClass::kEdgeCpu;
  Money cost_per_request;
  Money cost_per_second;           // per second of service
  std::string failure_domain;      // targets sharing it fail together (a site, a region); "" = own
  Duration expected_rtt = std::chrono::milliseconds(1);  // prior until measured
  uint32_t concurrency = 1;        // requests it serves at once (its inference threads)
  uint32_t queue_capacity = 0;     // requests it can hold waiting (prior until a load report says)
};

struct Deployment {
  VariantIndex variant = 0;
  TargetIndex target = 0;
};

struct ModelInfo {
  std::string name;
  std::vector<VariantIndex> variants;
  std::vector<Deployment> deployments;  // every (variant, target) pair that serves this model
};

class Registry {
 public:
  ModelIndex add_model(std::string name);
  VariantIndex add_variant(VariantInfo v);  // v.model must exist
  TargetIndex add_target(TargetInfo t);
  void deploy(VariantIndex v, TargetIndex t);  // t serves v

  const ModelInfo* find_model(std::string_view name) const;  // nullptr when unknown
  const ModelInfo& model(ModelIndex i) const { return models_[i]; }
  const VariantInfo& variant(VariantIndex i) const { return variants_[i]; }
  const TargetInfo& target(TargetIndex i) const { return targets_[i]; }
  size_t model_count() const { return models_.size(); }
  size_t variant_count() const { return variants_.size(); }
  size_t target_count() const { return targets_.size(); }

  // The variant's accuracy at a request complexity in [0, 1] (clamped).
  double accuracy_at(VariantIndex v, double complexity) const;
  // The same from a variant's figures: `accuracy`, or its band for `complexity` when there are bands.
  static double accuracy_at(double accuracy, std::span<const double> by_band, double complexity);
  // The failure domain of a target: its configured one, or its own name.
  std::string_view failure_domain(TargetIndex t) const;

 private:
  std::vector<ModelInfo> models_;
  std::vector<VariantInfo> variants_;
  std::vector<TargetInfo> targets_;
};

}  // namespace hir::routing
