// RouterService's routing generations: building one from a Config (the YAML's, or one made from
// the store's registry), swapping it in when the registry changes, and the periodic work that
// runs per generation (each target's load report) or across them (the registry's version).
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "protocol/hir_messages.h"
#include "router/admin_api.h"
#include "router/service.h"
#include "router/service_call.h"
#include "router/store_glue.h"
#include "telemetry/log.h"

namespace hir::router {

using net::HttpResponse;

RouterService::RouterService(const Config& cfg, net::EventLoop& loop, net::HttpClient& client,
                             telemetry::Registry& metrics, uint64_t seed, std::unique_ptr<CacheGlue> cache,
                             StoreWiring store)
    : cfg_(cfg),
      loop_(loop),
      client_(client),
      metrics_(metrics),
      seed_(seed),
      inflight_(metrics.gauge("hir_requests_in_flight", "Inference requests being routed")),
      cache_(std::move(cache)),
      store_(std::move(store)) {
  shed_ = &metrics_.counter("hir_shed_total", "Requests refused with 429 under overload");
  refused_ = &metrics_.counter("hir_refused_total",
                               "Requests no target could serve within their constraints (answered before any attempt)");
  unknown_model_ = &metrics_.counter("hir_unknown_model_total", "Inference requests for a model not configured (404)");
  hedges_ = &metrics_.counter("hir_hedges_total", "Hedged requests: a second copy sent to the next step");
  if (cfg_.batching.on()) {
    batch_calls_ = &metrics_.counter("hir_batch_calls_total", "Calls to targets that carried several requests merged");
    batched_requests_ = &metrics_.counter("hir_batched_requests_total", "Requests sent to targets inside merged calls");
    batch_refused_ = &metrics_.counter("hir_batch_refused_total",
                                       "Merged calls a target refused as a client error; their requests went again one by one");
  }
  if (store_.store) {
    store_work_ = std::make_unique<WorkQueue>(1, kMaxStoreJobs);
    registry_reloads_ = &metrics_.counter("hir_registry_reloads_total", "Routing cores rebuilt from the registry");
    registry_errors_ = &metrics_.counter("hir_registry_poll_errors_total", "Registry reads that failed");
  }
  if (store_.ledger) {
    const char* kRecords = "Usage ledger records by state";
    ledger_accepted_ = &metrics_.counter("hir_ledger_records_total", kRecords, {{"state", "accepted"}});
    ledger_written_ = &metrics_.counter("hir_ledger_records_total", kRecords, {{"state", "written"}});
    ledger_overflowed_ = &metrics_.counter("hir_ledger_records_total", kRecords, {{"state", "overflowed"}});
    ledger_lost_ = &metrics_.counter("hir_ledger_records_total", kRecords, {{"state", "lost"}});
    ledger_write_errors_ = &metrics_.counter("hir_ledger_write_errors_total", "Failed ledger batch writes, retries included");
    ledger_queue_ = &metrics_.gauge("hir_ledger_queue_depth", "Usage records waiting to be written");
  }
  admin_ = std::make_unique<AdminApi>(store_.store, store_.admin_key, [this] { return reload_registry(); },
                                      [this]() -> std::optional<store::LedgerCounters> {
                                        if (!store_.ledger) return std::nullopt;
                                        return store_.ledger->counters();
                                      });
  mcus_ = std::make_unique<McuFleet>(metrics_, [this](const std::string& target, const routing::LoadReport& r,
                                                      bool ready) { feed_mcu_load(target, r, ready); });
  GenPtr first = build_generation(std::make_shared<const Config>(cfg), -1);
  std::lock_guard lock(gen_mu_);
  gen_ = std::move(first);
}

RouterService::~RouterService() {
  if (store_work_) store_work_->stop();
}

bool RouterService::first_token_report(std::string_view line, const std::string& target, const std::string& env) {
  std::string key = std::string(line) + '\0' + target + '\0' + env;
  std::lock_guard lock(token_logged_mu_);
  return token_logged_.insert(std::move(key)).second;
}

RouterService::GenPtr RouterService::build_generation(std::shared_ptr<const Config> cfg, int64_t version) {
  auto gen = std::make_shared<Generation>();
  gen->cfg = std::move(cfg);
  gen->version = version;
  static std::atomic<uint64_t> serials{0};
  gen->serial = ++serials;
  // A fresh seed per generation, derived from the service's, so two cores never share a stream.
  gen->routing = std::make_unique<CoreRouting>(*gen->cfg, seed_ + static_cast<uint64_t>(version + 1) * 0x9e3779b97f4a7c15ull);
  for (const auto& t : gen->cfg->targets) {
    Target tg;
    tg.cfg = &t;
    if (t.is_mcu_pool()) {
      gen->targets.push_back(std::move(tg));  // its pool is attached below
      continue;
    }
    if (auto u = net::Url::parse(t.url); u.ok()) tg.url = *u;  // checked by parse_config / store_glue
    tg.host = tg.url.authority();
    if (Status ok = check_token_env(t.token_env); !t.token_env.empty() && !ok.ok()) {
      // Only a registry written before the rule could hold such a name: never read it.
      if (first_token_report("target_token_refused", t.name, t.token_env))
        telemetry::log_warn("target_token_refused", {{"target", t.name}, {"reason", ok.message()}});
    } else if (!t.token_env.empty()) {
      const char* tok = std::getenv(t.token_env.c_str());
      if (tok && *tok) tg.authorization = std::string("Bearer ") + tok;
      else if (first_token_report("target_token_missing", t.name, t.token_env))
        telemetry::log_warn("target_token_missing", {{"target", t.name}, {"env", t.token_env}});
    }
    gen->targets.push_back(std::move(tg));
  }
  // Each deployment's request prefix, once (a target serves few variants: looked up in order).
  std::unordered_map<std::string_view, Target*> by_name;
  for (Target& tg : gen->targets)
    if (!tg.cfg->is_mcu_pool()) by_name.emplace(tg.cfg->name, &tg);
  for (const ModelConfig& m : gen->cfg->models)
    for (const VariantConfig& v : m.variants)
      for (const std::string& name : v.targets)
        if (auto it = by_name.find(name); it != by_name.end())
          it->second->prefixes.emplace_back(&v, upstream_prefix(it->second->url, it->second->host, v.name,
                                                                it->second->authorization));
  attach_pools(*gen);
  gen->poll_disabled.assign(gen->cfg->targets.size(), 0);
  gen->poll_timers.resize(gen->cfg->targets.size());
  make_metrics(*gen);
  return gen;
}

namespace {

// One series per breaker state, OpenMetrics state-set style, so an alert can match
// state="open" alone. Label values are /v1/targets' names with '_' for '-' (half_open).
std::array<telemetry::Gauge*, 3> breaker_gauges(telemetry::Registry& metrics, const std::string& target) {
  constexpr routing::BreakerState kStates[] = {routing::BreakerState::kClosed, routing::BreakerState::kOpen,
                                               routing::BreakerState::kHalfOpen};
  std::array<telemetry::Gauge*, 3> out{};
  for (routing::BreakerState s : kStates) {
    std::string label(routing::breaker_state_name(s));
    std::replace(label.begin(), label.end(), '-', '_');
    out[static_cast<size_t>(s)] = &metrics.gauge(
        "hir_breaker_state", "Circuit breaker state by target: 1 for the state it is in, 0 for the others",
        {{"target", target}, {"state", label}});
  }
  return out;
}

}  // namespace

// Metric handles are looked up once per generation; the registry returns the existing series for
// a (name, labels) seen before, so a target that survives a reload keeps counting where it was.
void RouterService::make_metrics(Generation& gen) {
  const char* kRequests = "Inference requests by model, target and outcome";
  for (const auto& m : gen.cfg->models) {
    const std::string& model = m.signature.name;
    gen.model_metrics.push_back(
        {&metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", "none"}, {"outcome", "failed"}}),
         &metrics_.counter("hir_fallbacks_total", "Requests served after at least one failed attempt", {{"model", model}}),
         &metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", "cache"}, {"outcome", "hit"}}),
         &metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", "cache"}, {"outcome", "stale"}}),
         &metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", "none"}, {"outcome", "invalid"}})});
    for (const auto& t : gen.cfg->targets) {
      gen.pair_metrics.push_back(
          {&metrics_.counter("hir_requests_total", kRequests, {{"model", model}, {"target", t.name}, {"outcome", "ok"}}),
           &metrics_.counter("hir_requests_total", kRequests,
                             {{"model", model}, {"target", t.name}, {"outcome", "client_error"}}),
           &metrics_.histogram("hir_request_duration_seconds", "End-to-end latency of successful requests",
                               {{"model", model}, {"target", t.name}})});
    }
  }
  for (const auto& t : gen.cfg->targets)
    gen.target_metrics.push_back({&metrics_.counter("hir_attempt_failures_total", "Failed attempts by target", {{"target", t.name}}),
                                  &metrics_.counter("hir_cost_usd_total", "Cost of served requests in USD", {{"target", t.name}}),
                                  &metrics_.counter("hir_load_poll_failures_total", "Load polls that got no report, by target",
                                                    {{"target", t.name}}),
                                  breaker_gauges(metrics_, t.name)});
}

void RouterService::export_breaker_metrics(const Generation& gen) {
  const auto states = gen.routing->breaker_states();
  for (size_t i = 0; i < states.size() && i < gen.target_metrics.size(); ++i) {
    const auto& gauges = gen.target_metrics[i].breaker;
    for (size_t k = 0; k < gauges.size(); ++k) gauges[k]->set(k == static_cast<size_t>(states[i]) ? 1 : 0);
  }
}

void RouterService::clear_breaker_metrics(const Generation& old, const Generation& next) {
  for (size_t i = 0; i < old.cfg->targets.size() && i < old.target_metrics.size(); ++i) {
    if (next.cfg->find_target(old.cfg->targets[i].name)) continue;  // same series, still set
    for (telemetry::Gauge* g : old.target_metrics[i].breaker) g->set(0);
  }
}

size_t RouterService::model_pos(const Generation& gen, const ModelConfig* m) {
  return static_cast<size_t>(m - gen.cfg->models.data());
}

size_t RouterService::target_pos(const Generation& gen, const TargetConfig* t) {
  return static_cast<size_t>(t - gen.cfg->targets.data());
}

RouterService::PairMetrics& RouterService::pair_metrics(Generation& gen, const ModelConfig* m, const TargetConfig* t) {
  return gen.pair_metrics[model_pos(gen, m) * gen.cfg->targets.size() + target_pos(gen, t)];
}

const RouterService::Target* RouterService::target_of(const Generation& gen, const TargetConfig* t) {
  for (const auto& tg : gen.targets)
    if (tg.cfg == t) return &tg;
  return nullptr;  // a policy handed out a target from another configuration
}

RouterService::GenPtr RouterService::current() const {
  std::lock_guard lock(gen_mu_);
  return gen_;
}

int64_t RouterService::registry_version() const { return current()->version; }

// Requests that started on the old generation keep it (Call::gen) until they end; its load polls
// stop now, and the new generation's start, so each target is polled by one generation at a time.
void RouterService::swap_generation(GenPtr next) {
  GenPtr old;
  {
    std::lock_guard lock(gen_mu_);
    old = std::exchange(gen_, next);
  }
  if (old) stop_load_polls(*old);
  if (old) clear_breaker_metrics(*old, *next);
  if (polling_) start_load_polls(next);
  // Pools of targets the new registry dropped (or changed) let go of their lines.
  std::vector<const TargetConfig*> in_use;
  for (const auto& t : next->cfg->targets) in_use.push_back(&t);
  mcus_->retain(in_use);
}

Status RouterService::reload_registry() {
  if (!store_.store) return Status(Code::kFailedPrecondition, "no store: the registry is the configuration file");
  std::lock_guard lock(reload_mu_);
  auto snap = store_.store->load_registry();
  if (!snap.ok()) {
    if (registry_errors_) registry_errors_->inc();
    return snap.status();
  }
  if (snap->version == current()->version) return Status::Ok();  // another caller got here first
  std::vector<std::string> skipped;
  auto cfg = std::make_shared<const Config>(config_from_registry(cfg_, *snap, &skipped));
  for (const auto& why : skipped) telemetry::log_warn("registry_entry_skipped", {{"entry", why}});
  swap_generation(build_generation(cfg, snap->version));
  if (registry_reloads_) registry_reloads_->inc();
  telemetry::log_info("registry_loaded", {{"version", snap->version},
                                          {"targets", static_cast<int64_t>(cfg->targets.size())},
                                          {"models", static_cast<int64_t>(cfg->models.size())}});
  return Status::Ok();
}

// One registry_version() read per interval on the event loop: a single-row SELECT, so it holds an
// I/O thread for well under a millisecond on SQLite (a round trip on PostgreSQL). The next read
// is scheduled when this one ends, so reads never pile up behind a slow database.
void RouterService::watch_registry() {
  if (!polling_ || !store_.store) return;
  // Records the ledger gave up on (the database refused every retry) are counted in
  // hir_ledger_records_total{state="lost"}; said in the log too, once per poll that saw more.
  if (store_.ledger) {
    const uint64_t lost = store_.ledger->counters().lost;
    if (lost > ledger_lost_logged_) {
      telemetry::log_warn("ledger_records_lost", {{"lost", static_cast<int64_t>(lost - ledger_lost_logged_)},
                                                  {"lost_total", static_cast<int64_t>(lost)},
                                                  {"hint", "the database refused the ledger's writes after every retry (hir_ledger_write_errors_total)"}});
      ledger_lost_logged_ = lost;
    }
  }
  auto v = store_.store->registry_version();
  if (!v.ok()) {
    registry_errors_->inc();
    telemetry::log_warn("registry_poll_failed", {{"reason", v.status().message()}});
  } else if (*v != current()->version) {
    if (Status s = reload_registry(); !s.ok()) telemetry::log_warn("registry_reload_failed", {{"reason", s.message()}});
  }
  schedule_registry_poll();
}

// The timer fires on the loop; the poll itself runs on the store's thread (store_work_). A poll
// that finds the queue full is skipped: the next timer tries again.
void RouterService::schedule_registry_poll() {
  std::lock_guard lock(registry_timer_mu_);
  if (!polling_) return;
  registry_timer_ = loop_.run_after(store_.registry_poll, [this] {
    if (!store_work_->post([this] { watch_registry(); })) schedule_registry_poll();
  });
}

void RouterService::start_polling() {
  polling_ = true;
  start_load_polls(current());
  if (store_.store) schedule_registry_poll();
}

void RouterService::stop_polling() {
  polling_ = false;
  stop_load_polls(*current());
  std::lock_guard lock(registry_timer_mu_);
  if (registry_timer_) registry_timer_->cancel();
}

void RouterService::start_load_polls(const GenPtr& gen) {
  gen->polling = true;
  for (size_t i = 0; i < gen->cfg->targets.size(); ++i)
    if (gen->cfg->targets[i].poll_load) poll(gen, i);
}

void RouterService::stop_load_polls(Generation& gen) {
  gen.polling = false;
  std::lock_guard lock(gen.timers_mu);
  for (auto& t : gen.poll_timers)
    if (t) t->cancel();
}

// One GET /v1/load; the next is scheduled when this one ends, so polls never pile up on a slow
// target. A target without the endpoint (404) is judged by its answers alone.
void RouterService::poll(const GenPtr& gen, size_t i) {
  if (!polling_ || !gen->polling || gen->poll_disabled[i]) return;
  net::HttpRequest req;
  req.method = "GET";
  req.target = "/v1/load";
  const Target& tg = gen->targets[i];
  if (!tg.authorization.empty()) req.headers.set("Authorization", tg.authorization);
  auto t0 = SteadyClock::now();
  client_.send(tg.url, std::move(req), cfg_.routing.load_poll_timeout, [this, gen, i, t0](Result<HttpResponse> r) {
    auto took = SteadyClock::now() - t0;
    if (r.ok() && r->status == 404) {
      gen->poll_disabled[i] = 1;
      telemetry::log_info("load_poll_disabled", {{"target", gen->cfg->targets[i].name}, {"reason", "no /v1/load"}});
      return;
    }
    auto rep = r.ok() && r->status == 200 ? protocol::parse_load_report(r->body)
                                          : Result<protocol::LoadReportMsg>(Unavailable("no report"));
    if (rep.ok()) gen->routing->load_report(static_cast<routing::TargetIndex>(i), *rep, took);
    else gen->target_metrics[i].poll_failures->inc();
    if (!polling_ || !gen->polling) return;
    // The timer holds the generation weakly: a replaced generation is freed once its requests end.
    std::weak_ptr<Generation> weak = gen;
    std::lock_guard lock(gen->timers_mu);
    if (!gen->polling) return;  // stopped while this poll was on the wire
    gen->poll_timers[i] = loop_.run_after(cfg_.routing.load_poll_interval, [this, weak, i] {
      if (auto g = weak.lock()) poll(g, i);
    });
  });
}

}  // namespace hir::router
