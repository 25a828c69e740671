#include "router/store_glue.h"

#include <cstdlib>

#include "net/client.h"
#include "protocol/v2_codec.h"
#include "routing/types.h"

namespace hir::router {

store::TargetRecord target_record(const TargetConfig& t) {
  store::TargetRecord r;
  r.name = t.name;
  r.url = t.url;
  r.hw_class = std::string(hardware_class_name(t.hw));
  r.cost_per_request = t.cost_per_request;
  r.cost_per_second = t.cost_per_second;
  r.failure_domain = t.failure_domain;
  r.concurrency = t.concurrency;
  r.queue_capacity = t.queue_capacity;
  r.token_env = t.token_env;
  r.timeout_ms = to_ms(t.timeout);
  r.expected_rtt_ms = to_ms(t.expected_rtt);
  r.poll_load = t.poll_load;
  return r;
}

RegistryRecords registry_records(const Config& cfg) {
  RegistryRecords out;
  for (const auto& t : cfg.targets) out.targets.push_back(target_record(t));
  for (const auto& m : cfg.models) {
    // The v2 metadata JSON: a form the router can read back for a model the YAML does not name.
    out.models.push_back({m.signature.name, protocol::encode_model_metadata(m.signature)});
    for (size_t i = 0; i < m.variants.size(); ++i) {
      const auto& v = m.variants[i];
      store::VariantRecord r;
      r.model = m.signature.name;
      r.name = v.name;
      r.position = static_cast<int>(i);
      r.accuracy = v.accuracy;
      r.accuracy_by_band = v.accuracy_by_band;
      r.size_bytes = v.size_bytes;
      const TargetConfig* first = v.targets.empty() ? nullptr : cfg.find_target(v.targets.front());
      r.hw_class = first ? std::string(hardware_class_name(first->hw)) : "";
      r.expected_service_ms = to_ms(v.expected_service);
      r.targets = v.targets;
      out.variants.push_back(std::move(r));
    }
  }
  return out;
}

namespace {

// An MCU pool's record keeps its devices in `url` (space-separated, config.h join_devices); the
// pool's tuning (attempt timeout, tries, heartbeat) is not in the registry, so it comes from the
// YAML's target of the same name when there is one, else the defaults. queue_capacity is the
// pool's request limit.
bool mcu_pool_config(const store::TargetRecord& r, const TargetConfig* yaml, TargetConfig& t, std::string* why) {
  if (yaml && yaml->mcu) t.mcu = yaml->mcu;
  else t.mcu.emplace();
  if (r.queue_capacity > 0) t.mcu->max_outstanding = r.queue_capacity;
  if (Status s = make_mcu_pool(t, split_devices(r.url)); !s.ok()) {
    *why = "bad devices: " + s.message();
    return false;
  }
  return true;
}

std::optional<TargetConfig> target_config(const store::TargetRecord& r, const Config& base, std::string* why) {
  auto hw = routing::parse_hardware_class(r.hw_class);
  if (!hw) {
    *why = "unknown class '" + r.hw_class + "'";
    return std::nullopt;
  }
  const bool pool = *hw == routing::HardwareClass::kMcu && names_mcu_devices(r.url);
  if (!pool) {
    if (auto u = net::Url::parse(r.url); !u.ok()) {
      *why = "bad url: " + u.status().message();
      return std::nullopt;
    }
  }
  TargetConfig t;
  t.name = r.name;
  t.url = r.url;
  t.hw = *hw;
  t.cost_per_request = r.cost_per_request;
  t.cost_per_second = r.cost_per_second;
  t.token_env = r.token_env;
  t.timeout = from_ms(r.timeout_ms);
  t.failure_domain = r.failure_domain;
  t.concurrency = std::max<uint32_t>(1, r.concurrency);
  t.queue_capacity = r.queue_capacity;
  t.expected_rtt = from_ms(r.expected_rtt_ms);
  t.poll_load = r.poll_load;
  if (pool && !mcu_pool_config(r, base.find_target(r.name), t, why)) return std::nullopt;
  return t;
}

}  // namespace

Config config_from_registry(const Config& base, const store::RegistrySnapshot& snap,
                            std::vector<std::string>* skipped) {
  auto skip = [skipped](std::string what) {
    if (skipped) skipped->push_back(std::move(what));
  };
  Config out = base;
  out.targets.clear();
  out.models.clear();
  for (const auto& r : snap.targets) {
    if (r.drained) continue;
    std::string why;
    if (auto t = target_config(r, base, &why)) out.targets.push_back(std::move(*t));
    else skip("target " + r.name + ": " + why);
  }
  for (const auto& m : snap.models) {
    ModelConfig mc;
    if (const ModelConfig* yaml = base.find_model(m.name)) {
      mc.signature = yaml->signature;
    } else if (auto sig = protocol::parse_model_metadata(m.signature); sig.ok()) {
      mc.signature = std::move(*sig);
      mc.signature.name = m.name;
    } else {
      skip("model " + m.name + ": no usable signature");
      continue;
    }
    for (const auto& v : snap.variants) {  // by model, then position
      if (v.model != m.name || v.drained) continue;
      VariantConfig vc;
      vc.name = v.name;
      vc.accuracy = v.accuracy;
      vc.accuracy_by_band = v.accuracy_by_band;
      vc.size_bytes = v.size_bytes;
      vc.expected_service = from_ms(v.expected_service_ms);
      // Only targets this Config keeps: a drained or unusable target gets no work for any variant.
      for (const auto& tn : v.targets)
        if (out.find_target(tn)) vc.targets.push_back(tn);
      mc.variants.push_back(std::move(vc));
    }
    out.models.push_back(std::move(mc));
  }
  return out;
}

std::string serve_database_url(std::string_view flag) {
  if (!flag.empty()) return std::string(flag);
  const char* env = std::getenv("DATABASE_URL");
  if (env != nullptr && *env != '\0') return env;
  return "none";
}

Result<std::unique_ptr<store::Store>> open_seeded_store(std::string_view url, const Config& cfg, bool* seeded) {
  auto st = store::open_store(url);
  if (!st.ok()) return st.status();
  RegistryRecords recs = registry_records(cfg);
  auto s = (*st)->seed_if_empty(recs.models, recs.targets, recs.variants);
  if (!s.ok()) return Status(s.status().code(), "seeding the registry from the configuration: " + s.status().message());
  if (seeded) *seeded = *s;
  return std::move(*st);
}

}  // namespace hir::router
