#include "routing/router.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>

#include "routing/cost.h"
#include "routing/predict.h"

namespace hir::routing {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t second_of(TimePoint now) {
  return floor_div(now.time_since_epoch().count(), Duration(std::chrono::seconds(1)).count());
}

// Saturation's figures in fixed point (2^-10 of a request slot), so that the sums kept per
// occupancy set add and subtract exactly, in any order, however long the router runs. A target
// counts for at most 2^32 slots (a load report may say anything): 2^42 each, so the sums cannot
// overflow below two million targets.
int64_t fixed(double x) {
  return x > 0 ? static_cast<int64_t>(std::min(x, 4294967296.0) * 1024.0 + 0.5) : 0;  // NaN: 0
}

uint64_t slot_bit(uint32_t slot) { return uint64_t{1} << std::min<uint32_t>(slot, 63); }

uint32_t count_distinct(std::vector<uint32_t> v) {
  std::sort(v.begin(), v.end());
  return static_cast<uint32_t>(std::unique(v.begin(), v.end()) - v.begin());
}

// A candidate cut before its target was looked at: none of its figures are read.
void cut_unseen(Candidate& c, Cut cut) {
  c.half_open = false;
  c.load = 0;
  c.in_flight = 0;
  c.p95 = Duration::zero();
  c.cost = Money();
  c.rank_cost = 0;
  c.cut = cut;
}

}  // namespace

Router::Router(const Registry& reg, PolicyConfig cfg, const TargetStateOptions& opt)
    : reg_(reg), cfg_(std::move(cfg)) {
  const size_t n = reg.target_count();
  states_.reserve(n);
  breakers_.reserve(n);
  // Interning is done once here so that the decision compares integers, not strings.
  std::unordered_map<std::string, uint32_t> domains;
  std::map<std::tuple<HardwareClass, int64_t, int64_t>, uint32_t> prices;
  for (TargetIndex t = 0; t < n; ++t) {
    const TargetInfo& info = reg.target(t);
    states_.emplace_back(info, opt);
    breakers_.emplace_back(cfg_.breaker);
    auto d = domains.emplace(std::string(reg.failure_domain(t)), domains.size()).first->second;
    domain_.push_back(d);
    auto key = std::make_tuple(info.hw, info.cost_per_request.nano(), info.cost_per_second.nano());
    price_class_.push_back(prices.emplace(key, prices.size()).first->second);
  }
  ready_.assign(n, 1);
  version_.assign(n, 0);
  terms_version_.assign(n, 0);
  views_.resize(n);
  occupancy_at_.assign(n + 1, 0);
  const size_t models = reg.model_count();
  predictions_.resize(models);
  deployments_.resize(models);
  slot_variants_.resize(models);
  tables_.resize(models);
  for (size_t m = 0; m < models; ++m) build_model(static_cast<ModelIndex>(m));
  chosen_.reserve(std::min(cfg_.max_fallbacks, n) + 1);
}

void Router::build_model(ModelIndex m) {
  const auto& deployments = reg_.model(m).deployments;
  auto& out = deployments_[m];
  auto& slots = slot_variants_[m];
  out.clear();
  cands_model_ = UINT32_MAX;  // the candidates' static fields are rewritten by the next scan
  slots.clear();
  std::map<std::pair<VariantIndex, uint32_t>, uint32_t> groups;
  for (const Deployment& d : deployments) {
    DeploymentInfo x;
    x.target = d.target;
    x.variant = d.variant;
    x.domain = domain_[d.target];
    x.price_class = price_class_[d.target];
    x.hw = reg_.target(d.target).hw;
    x.prior = reg_.variant(d.variant).expected_service;
    const auto slot = std::find(slots.begin(), slots.end(), d.variant);
    x.slot = static_cast<uint32_t>(slot - slots.begin());
    if (slot == slots.end()) slots.push_back(d.variant);
    x.group = groups.emplace(std::make_pair(d.variant, x.price_class), groups.size()).first->second;
    out.push_back(x);
  }
  predictions_[m].resize(deployments.size());
  const size_t most = deployments.size();

  // Groups, their members and the order the pruned scan visits them in.
  ModelTables& tb = tables_[m];
  tb.groups.assign(groups.size(), Group{});
  std::vector<uint32_t> sizes(groups.size(), 0);
  for (const DeploymentInfo& x : out) {
    Group& g = tb.groups[x.group];
    g.floor = rank_cost(reg_.target(x.target).cost_per_request, x.hw, cfg_.edge_preference);
    g.edge = is_edge(x.hw);
    g.hw = x.hw;
    g.slot = x.slot;
    ++sizes[x.group];
  }
  uint32_t at = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    tb.groups[g].begin = tb.groups[g].end = at;
    at += sizes[g];
  }
  tb.members.assign(most, 0);
  for (size_t j = 0; j < most; ++j) tb.members[tb.groups[out[j].group].end++] = static_cast<uint32_t>(j);
  tb.draw = tb.members;
  for (Group& g : tb.groups) {
    std::vector<uint32_t> ds;
    for (uint32_t i = g.begin; i < g.end; ++i) ds.push_back(out[tb.members[i]].domain);
    g.domains = count_distinct(std::move(ds));
  }
  tb.order.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) tb.order[g] = static_cast<uint32_t>(g);
  std::sort(tb.order.begin(), tb.order.end(), [&](uint32_t a, uint32_t b) {
    return tb.groups[a].floor != tb.groups[b].floor ? tb.groups[a].floor < tb.groups[b].floor : a < b;
  });
  std::vector<uint32_t> domains;
  for (const DeploymentInfo& x : out) domains.push_back(x.domain);
  tb.domains = count_distinct(std::move(domains));
  tb.later_hw.assign(groups.size(), 0);
  for (size_t p = groups.size(); p-- > 0;)
    tb.later_hw[p] = (p + 1 < groups.size() ? tb.later_hw[p + 1] : 0u) |
                     (1u << static_cast<unsigned>(tb.groups[tb.order[p]].hw));

  // The occupancy sets: the model's targets by the set of its variant slots they deploy.
  std::map<TargetIndex, uint64_t> target_slots;
  for (const DeploymentInfo& x : out) target_slots[x.target] |= slot_bit(x.slot);
  tb.targets.clear();
  tb.occupancy.clear();
  tb.set_of.clear();
  std::map<uint64_t, uint32_t> sets;
  for (const auto& [t, bits] : target_slots) {
    const auto set = sets.emplace(bits, static_cast<uint32_t>(sets.size())).first->second;
    if (set == tb.occupancy.size()) tb.occupancy.push_back(Occupancy{bits, 0, 0});
    tb.occupancy[set].busy += views_[t].busy;
    tb.occupancy[set].capacity += views_[t].capacity;
    tb.targets.push_back(t);
    tb.set_of.push_back(set);
  }
  tb.sweep = 0;
  // The per-target index refresh() updates the sums through, over every model.
  std::vector<uint32_t> count(views_.size() + 1, 0);
  for (const ModelTables& x : tables_)
    for (TargetIndex t : x.targets) ++count[t + 1];
  for (size_t t = 0; t < views_.size(); ++t) count[t + 1] += count[t];
  occupancy_at_ = count;
  occupancy_of_.resize(count.back());
  for (size_t mi = 0; mi < tables_.size(); ++mi)
    for (size_t i = 0; i < tables_[mi].targets.size(); ++i)
      occupancy_of_[count[tables_[mi].targets[i]]++] = {static_cast<ModelIndex>(mi), tables_[mi].set_of[i]};

  if (cands_.capacity() < most) cands_.reserve(most);
  if (members_.capacity() < most) members_.reserve(most);
  if (seen_.size() < most) seen_.resize(most, 0);
  if (slot_accuracy_.size() < slots.size()) {
    slot_accuracy_.resize(slots.size());
    slot_accurate_.resize(slots.size());
  }
  if (group_members_.size() < groups.size()) group_members_.resize(groups.size());
}

bool Router::healthy(TargetIndex t, TimePoint now) const {
  const TargetState& s = states_[t];
  return routing::healthy(s.last_report().has_value(), s.staleness(now), ready_[t] != 0,
                          cfg_.breaker);
}

void Router::refresh(TargetView& v, TargetIndex t, TimePoint now) {
  // Everything here changes only through a call that bumps the version, or with time: health
  // and the breaker at thresholds (a report going stale after seconds, an ejection ending), the
  // load as the report ages, learnt latencies forgotten after a long idle spell. Within
  // estimate_reuse of the last look that drift is negligible.
  if (states_[t].forget_if_idle(now, cfg_.forget_idle_estimates, cfg_.forget_idle_gaps)) {
    ++version_[t];
    ++terms_version_[t];
  }
  const TargetState& s = states_[t];
  v.version = version_[t];
  v.at = now;
  v.healthy = healthy(t, now);
  v.breaker_allows = breakers_[t].would_allow(now);
  v.half_open = breakers_[t].state(now) == BreakerState::kHalfOpen;
  v.others = s.others(now);
  v.load = s.utilization_with(v.others);  // = s.utilization(now), without a second others()
  v.in_flight = s.in_flight();
  v.concurrency = s.concurrency();
  // What it can hold: its threads plus its queue. Whether a request sent now would find room is
  // decided per variant in gather(), from the prediction, which counts the report's queue
  // through TargetState::others — aged, because a report that said "full" a second ago says
  // little about a queue that drains in milliseconds (trusting it kept a whole MCU tier idle).
  const auto& rep = s.last_report();
  v.queue = rep && rep->queue_capacity > 0 ? rep->queue_capacity : reg_.target(t).queue_capacity;
  v.slots = static_cast<double>(v.concurrency) + static_cast<double>(v.queue);
  // Its share of admission's saturation: occupancy over what it can hold (threads and queue),
  // while it is available. Busy threads with room in the queues are not overload; full queues are.
  const bool available = v.healthy && v.breaker_allows;
  const int64_t busy = available ? fixed(v.load * v.concurrency) : 0;
  const int64_t capacity = available ? fixed(v.slots) : 0;
  if (busy != v.busy || capacity != v.capacity) {
    for (uint32_t i = occupancy_at_[t]; i < occupancy_at_[t + 1]; ++i) {
      Occupancy& o = tables_[occupancy_of_[i].first].occupancy[occupancy_of_[i].second];
      o.busy += busy - v.busy;
      o.capacity += capacity - v.capacity;
    }
    v.busy = busy;
    v.capacity = capacity;
  }
}

void Router::predict(Prediction& p, const DeploymentInfo& d, const TargetView& tv, TimePoint now) {
  const TargetState& s = states_[d.target];
  if (p.terms_version != terms_version_[d.target]) {
    // The estimators or the report changed since this deployment's last prediction: their
    // figures and the cost they give. In between they cannot move (predict.h, LatencyTerms):
    // a quantile window's snapshot is rebuilt only after samples are added, and every add
    // comes with a terms_version_ bump, so the quantile calls skipped here would not have
    // rebuilt it.
    p.terms_version = terms_version_[d.target];
    const TargetInfo& info = reg_.target(d.target);
    p.terms = latency_terms(s, d.variant, d.prior);
    // Cost is an expectation, so it is priced on the mean service time, not the p95; a target
    // priced per request only needs no service time at all.
    p.cost = info.cost_per_second == Money() ? info.cost_per_request
                                              : predict_cost(info, p.terms.service_mean);
    p.rank_cost = rank_cost(p.cost, d.hw, cfg_.edge_preference);
  }
  p.version = version_[d.target];
  p.at = now;
  // The view looked at the target at `now` too when it was refreshed in this decision: same
  // state, same instant, same others().
  const LatencyPrediction lp =
      predict_latency(s, p.terms, tv.at == now ? tv.others : s.others(now), now);
  p.p95 = lp.total;
  // A waiting room that will be full when this request arrives refuses it (a target without
  // one queues without bound).
  p.full = tv.queue > 0 && lp.at_target >= tv.slots;
}

Router::Scan Router::scan_of(const Constraints& k) {
  Scan s;
  s.deps = deployments_[model_].data();
  s.preds = predictions_[model_].data();
  s.cands = cands_.data();
  s.seen = seen_.data();
  s.accurate = slot_accurate_.data();
  s.budget = k.budget;
  s.reuse = cfg_.estimate_reuse;
  s.max_cost = k.max_cost.value_or(Money());
  s.cloud_allowed = k.cloud_allowed;
  s.cost_capped = k.max_cost.has_value();
  return s;
}

// Inline: it runs for every deployment a decision looks at.
[[gnu::always_inline]] inline bool Router::consider(Scan& s, size_t j, TimePoint now, bool collect) {
  const DeploymentInfo& d = s.deps[j];
  Candidate& c = s.cands[j];
  s.seen[j] = epoch_;
  Cut cut = Cut::kNone;
  if (!s.accurate[d.slot]) {
    // Accuracy is the first check and depends on the request alone: the target is not even
    // looked at (a view refreshed here would be wasted on a candidate nothing reads).
    cut_unseen(c, Cut::kAccuracy);
    ++s.cuts[static_cast<size_t>(Cut::kAccuracy)];
    return false;  // not a fallback either (tier 2)
  }
  TargetView& tv = view(d.target, now);
  c.half_open = tv.half_open;
  c.load = tv.load;
  c.in_flight = tv.in_flight;
  if (!(tv.healthy && tv.breaker_allows)) {
    // Not available: no prediction.
    c.p95 = Duration::zero();
    c.cost = Money();
    c.rank_cost = 0;
    cut = !tv.healthy ? Cut::kUnhealthy : Cut::kBreaker;  // first_cut's order
  } else {
    any_available_ = true;
    Prediction& p = s.preds[j];
    // fresh(): the view holds the target's current version (view() has just checked or
    // refreshed it, and nothing in the scan changes it).
    if (!(p.version == tv.version && now >= p.at && now - p.at < s.reuse)) predict(p, d, tv, now);
    c.p95 = p.p95;
    c.cost = p.cost;
    c.rank_cost = p.rank_cost;
    // first_cut's remaining checks, in its order.
    if (p.full) {
      cut = Cut::kQueueFull;
    } else if (!s.cloud_allowed && d.hw == HardwareClass::kCloud) {
      cut = Cut::kSpendCap;
    } else if (s.cost_capped && p.cost > s.max_cost) {
      cut = Cut::kCost;
    } else if (p.p95 > s.budget) {
      cut = Cut::kBudget;
    }
  }
  c.cut = cut;
  ++s.cuts[static_cast<size_t>(cut)];
  if (!collect) return cut == Cut::kNone;
  const auto i = static_cast<uint32_t>(j);
  if (cut == Cut::kNone) {
    if (s.best == kNone || ranks_before(c, s.cands[s.best])) s.best = i;
    if (c.half_open && (s.probe == kNone || ranks_before(c, s.cands[s.probe]))) s.probe = i;
    if (is_edge(d.hw)) {
      // P2C's members: the feasible edge candidates of the same variant and price class.
      auto& g = group_members_[d.group];
      if (g.empty()) groups_touched_.push_back(d.group);
      g.push_back(i);
    }
  }
  fallbacks_.offer(cands_, i);
  return cut == Cut::kNone;
}

size_t Router::gather(const RouteRequest& r, const Constraints& k, TimePoint now, Rng& rng) {
  if (deployments_[r.model].size() != reg_.model(r.model).deployments.size()) build_model(r.model);
  const auto& deployments = deployments_[r.model];
  const size_t n = deployments.size();
  // Every candidate looked at is rewritten, but its static fields — the deployment's own — only
  // when the model differs from the last scan's: no clearing, no per-candidate growth check.
  if (cands_.size() != n || cands_model_ != r.model) {
    cands_.resize(n);
    for (size_t j = 0; j < n; ++j) {
      Candidate& c = cands_[j];
      const DeploymentInfo& d = deployments[j];
      c.target = d.target;
      c.variant = d.variant;
      c.domain = d.domain;
      c.price_class = d.price_class;
      c.hw = d.hw;
    }
    cands_model_ = r.model;
  }
  // Accuracy depends on the variant and the request only: once per variant, not per deployment.
  ModelTables& tb = tables_[r.model];
  const auto& slots = slot_variants_[r.model];
  uint64_t accurate_slots = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const double acc = reg_.accuracy_at(slots[i], r.complexity);
    slot_accuracy_[i] = acc;
    slot_accurate_[i] = !k.min_accuracy || acc >= *k.min_accuracy;
    if (slot_accurate_[i]) accurate_slots |= slot_bit(static_cast<uint32_t>(i));
  }
  accurate_slots_ = accurate_slots;
  for (uint32_t g : groups_touched_) group_members_[g].clear();
  groups_touched_.clear();
  fallbacks_.reset(r.priority == Priority::kCritical, cfg_.max_fallbacks, n);
  any_available_ = false;
  Scan s = scan_of(k);
  pruned_ = false;
  accuracy_cut_.clear();
  if (!prune_ || n <= kScanAllUpTo) {
    for (size_t j = 0; j < n; ++j) consider(s, j, now, true);
  } else {
    const size_t sample_over = cfg_.sample_groups_over;
    for (size_t pos = 0; pos < tb.order.size(); ++pos) {
      const uint32_t gid = tb.order[pos];
      const Group& g = tb.groups[gid];
      // Every candidate from here on ranks at g.floor or dearer: with a best below it and the
      // fallbacks settled below it, nothing later can change the plan — nor anything in this
      // group when only another class could still change the fallbacks.
      if (s.best != kNone && s.cands[s.best].rank_cost < g.floor) {
        const HardwareClass primary_hw = s.cands[s.best].hw;
        if (fallbacks_.settled(cands_, g.floor, primary_hw, tb.later_hw[pos], tb.domains)) {
          pruned_ = true;
          break;
        }
        if (fallbacks_.settled(cands_, g.floor, primary_hw, 1u << static_cast<unsigned>(g.hw),
                               tb.domains)) {
          pruned_ = true;
          continue;
        }
      }
      const uint32_t size = g.end - g.begin;
      if (!slot_accurate_[g.slot]) {
        // The whole group is below the accuracy need: counted as cut without looking at its
        // targets; its candidates are written only if the full scans are to read them
        // (cut_by_accuracy()).
        accuracy_cut_.push_back(gid);
        s.cuts[static_cast<size_t>(Cut::kAccuracy)] += size;
      } else if (g.edge && sample_over > 0 && size > sample_over) {
        // Members drawn first and checked after (a partial Fisher-Yates shuffle of the group)
        // until two pass every constraint — what P2C needs — and the fallbacks have their
        // failure domains, so that they come from this group's price rather than the next
        // groups' (the domain list fills with the cheapest candidates in distinct domains).
        uint32_t* const d = tb.draw.data() + g.begin;
        // A group priced above a best already found cannot be P2C's: one member that passes
        // is all its fallbacks can use from it, unless they still need domains.
        const uint32_t wanted =
            s.best != kNone && s.cands[s.best].rank_cost < g.floor ? 1 : 2;
        // At most `most` draws: past them, a group that has its members stops drawing for
        // domains (one spread over fewer domains than the fallbacks want would otherwise be
        // drawn whole, every decision), and one that has not is looked at in order (below).
        // Nor does a group in fewer domains than the fallbacks want draw for domains once the
        // members that passed cover all of its own and are enough for a whole chain.
        const size_t most = 8 * (cfg_.max_fallbacks + 1);
        const bool few_domains = g.domains <= cfg_.max_fallbacks;
        uint32_t drawn = 0, feasible = 0;
        domains_seen_.clear();
        for (; drawn < size && drawn < most &&
               (feasible < wanted ||
                (!fallbacks_.domains_full(tb.domains) &&
                 !(few_domains && domains_seen_.size() == g.domains && feasible > cfg_.max_fallbacks)));
             ++drawn) {
          std::swap(d[drawn], d[drawn + rng.below(size - drawn)]);
          if (!consider(s, d[drawn], now, true)) continue;
          ++feasible;
          const uint32_t dom = s.deps[d[drawn]].domain;
          if (few_domains && std::find(domains_seen_.begin(), domains_seen_.end(), dom) == domains_seen_.end())
            domains_seen_.push_back(dom);
        }
        if (drawn < size && feasible < wanted) {
          // Few members pass (overload, an outage): the rest are looked at in candidate order,
          // which costs less than drawing them one by one and finds every one that passes.
          for (uint32_t i = g.begin; i < g.end; ++i)
            if (s.seen[tb.members[i]] != epoch_) consider(s, tb.members[i], now, true);
          drawn = size;
        }
        if (drawn < size) pruned_ = true;
        // P2C draws its pair among the members that passed, kept in candidate order as a scan
        // would have collected them (the full scans find the same ones: the rest are kSkipped).
        auto& m = group_members_[gid];
        std::sort(m.begin(), m.end());
      } else {
        for (uint32_t i = g.begin; i < g.end; ++i) consider(s, tb.members[i], now, true);
      }
    }
  }
  if (pruned_) {
    // The sweep: when the scan left targets out, one of the model's targets is refreshed
    // whether or not it reached it, so that the saturation sums (ModelTables::occupancy) hold
    // no share older than `targets` such decisions.
    if (tb.sweep >= tb.targets.size()) tb.sweep = 0;
    view(tb.targets[tb.sweep++], now);
  }
  cuts_ = s.cuts;
  probe_ = s.probe;
  return s.best;
}

void Router::gather_rest(const Constraints& k, TimePoint now) {
  // What the pruned scan left out, looked at after all (a half-open primary lost its probe
  // slot, and the full scans run from here).
  cut_by_accuracy();
  Scan s = scan_of(k);
  s.cuts = cuts_;
  const size_t n = deployments_[model_].size();
  for (size_t j = 0; j < n; ++j)
    if (s.seen[j] != epoch_) consider(s, j, now, false);
  s.cuts[static_cast<size_t>(Cut::kSkipped)] = 0;  // every candidate has been looked at now
  cuts_ = s.cuts;
  pruned_ = false;
}

void Router::cut_by_accuracy() {
  const ModelTables& tb = tables_[model_];
  for (uint32_t gid : accuracy_cut_)
    for (uint32_t i = tb.groups[gid].begin; i < tb.groups[gid].end; ++i) {
      const uint32_t j = tb.members[i];
      seen_[j] = epoch_;
      cut_unseen(cands_[j], Cut::kAccuracy);
    }
  accuracy_cut_.clear();
}

void Router::mark_skipped() {
  cut_by_accuracy();
  const size_t n = deployments_[model_].size();
  for (size_t j = 0; j < n; ++j) {
    if (seen_[j] == epoch_) continue;
    cut_unseen(cands_[j], Cut::kSkipped);
    ++cuts_[static_cast<size_t>(Cut::kSkipped)];
  }
}

double Router::saturation(uint64_t accurate_slots) const {
  int64_t busy = 0, capacity = 0;
  for (const Occupancy& o : tables_[model_].occupancy)
    if (o.slots & accurate_slots) {
      busy += o.busy;
      capacity += o.capacity;
    }
  return capacity > 0 ? static_cast<double>(busy) / static_cast<double>(capacity) : 0.0;
}

size_t Router::p2c_fast(size_t best, Rng& rng) {
  // power_of_two_choices without its scan: the members were collected by gather().
  if (!is_edge(cands_[best].hw)) {
    p2c_members_ = 0;
    return best;
  }
  const auto& members = group_members_[deployments_[model_][best].group];
  p2c_members_ = members.size();
  return pick_of_two(cands_, members, best, rng);
}

bool Router::acquire(const Candidate& c, TimePoint now, bool dry_run) {
  if (!c.half_open || dry_run) return true;
  ++version_[c.target];  // a probe slot taken changes would_allow()
  return breakers_[c.target].allow(now);
}

size_t Router::choose(size_t best, size_t (*rescan)(std::span<const Candidate>), bool p2c,
                      TimePoint now, bool dry_run, Rng& rng, bool& fast) {
  for (;; best = rescan(cands_)) {
    if (best == kNone) return kNone;
    size_t chosen = best;
    if (p2c && fast) {
      chosen = p2c_fast(best, rng);
    } else if (p2c) {
      chosen = power_of_two_choices(cands_, best, members_, rng);
      p2c_members_ = members_.size();
    }
    if (acquire(cands_[chosen], now, dry_run)) return chosen;
    // Half-open and its probe slot went to an earlier request: not available to this one.
    Candidate& c = cands_[chosen];
    --cuts_[static_cast<size_t>(c.cut)];
    c.cut = Cut::kBreaker;
    ++cuts_[static_cast<size_t>(Cut::kBreaker)];
    fast = false;  // what gather() collected assumed the old cut: the full scans from here
    // ... over every candidate: the pruned scan's bounds assumed the old cut too.
    if (pruned_ || !accuracy_cut_.empty()) gather_rest(k_, now);
  }
}

bool Router::promote_probe(size_t primary, TimePoint now, bool dry_run) {
  // A half-open target gets its probe only as a primary: as a fallback it comes last, after
  // every closed one, so that a request that has already failed once is not sent to a target
  // that may still be broken. One that is never a request's first choice (a cheaper closed
  // target always ranks first) was then never probed, and stayed out of every chain but as a
  // last resort for good, though it ranks before steps the chains do use: the dearer cloud
  // target behind a cheap one, or behind a step the service skips for the request (an MCU pool
  // for a batch it cannot take). So when the best feasible half-open candidate ranks before a
  // step this plan would fall back to, this request is its probe: it goes there first, taking
  // the probe slot, with the planned chain (its first choice first) as its fallbacks. One
  // request per probe window pays a dearer first choice at most, and it is still never sent to
  // the half-open target after a failure.
  if (probe_ == kNone || probe_ == primary || cands_[primary].half_open) return false;
  const Candidate& h = cands_[probe_];
  if (h.cut != Cut::kNone || !h.half_open) return false;  // its slot went to this decision's primary search
  bool outranks = false;
  for (size_t n = 1; n < chosen_.size() && !outranks; ++n) {
    const Candidate& c = cands_[chosen_[n]];
    // A relaxed step (cut by price or latency) ranks behind any feasible one.
    outranks = c.cut != Cut::kNone || (!c.half_open && ranks_before(h, c));
  }
  if (!outranks || !acquire(h, now, dry_run)) return false;
  const auto p = static_cast<uint32_t>(probe_);
  if (auto it = std::find(chosen_.begin(), chosen_.end(), p); it != chosen_.end()) chosen_.erase(it);
  chosen_.insert(chosen_.begin(), p);
  if (chosen_.size() > cfg_.max_fallbacks + 1) chosen_.resize(cfg_.max_fallbacks + 1);
  return true;
}

Status Router::fail(const RouteRequest& r, const Constraints& k) {
  std::string why = infeasible_reason(reg_, r.model, cuts_, k);
  if (last_cut(cuts_) == Cut::kQueueFull) {
    // Every target left is full: overload, so a shed with Retry-After rather than a 400.
    last_retry_after_ = cfg_.admission.retry_after;
    return Status(Code::kResourceExhausted, std::move(why));
  }
  return Status(Code::kFailedPrecondition, std::move(why));
}

Status Router::plan_into(const RouteRequest& r, TimePoint now, Rng& rng, Plan& out) {
  out.steps.clear();
  out.hedge_after.reset();
  out.best_effort = false;
  out.reason.clear();
  last_retry_after_ = Duration::zero();
  if (r.model >= reg_.model_count())
    return InvalidArgument("unknown model index " + std::to_string(r.model));
  if (!(r.complexity >= 0.0 && r.complexity <= 1.0))  // also rejects NaN
    return InvalidArgument("complexity must be within [0, 1]");
  if (reg_.target_count() != states_.size() || r.model >= predictions_.size())
    return Internal("the registry changed after the router was built");

  const bool critical = r.priority == Priority::kCritical;
  Constraints k{r.min_accuracy, r.budget.value_or(cfg_.default_budget), r.max_cost, true};
  k.cloud_allowed = critical || cloud_spend_rate(now) <= cfg_.cloud_spend_cap_per_s;
  ++epoch_;
  model_ = r.model;
  k_ = k;
  bool fast = !full_scan_ && !r.explain;
  const size_t cheapest = gather(r, k, now, rng);
  // The full scans read every candidate: those the scan left out are marked as such.
  if (!fast && (pruned_ || !accuracy_cut_.empty())) mark_skipped();
  if (!any_available_) return fail(r, k);  // no deployments, or all inaccurate, down or ejected

  // Admission before choosing: shed by priority under fleet overload (admission.h). The
  // saturation is that of the targets holding a variant accurate enough for the request,
  // available as of their last refresh (refresh(), the occupancy sets).
  Admission a = admit(r.priority, saturation(accurate_slots_), true, cfg_.admission);
  if (!a.admitted) {
    last_retry_after_ = a.retry_after;
    return Status(Code::kResourceExhausted, std::move(a.reason));
  }

  Choice how = Choice::kCheapest;
  size_t primary = choose(cheapest, &best_feasible, true, now, r.explain, rng, fast);
  if (primary != kNone && p2c_members_ >= 2) how = Choice::kPowerOfTwo;
  if (primary == kNone && critical) {
    cut_by_accuracy();  // best_effort() reads every candidate
    primary = choose(best_effort(cands_), &best_effort, false, now, r.explain, rng, fast);
    how = Choice::kBestEffort;
    out.best_effort = primary != kNone;
  }
  if (primary == kNone) return fail(r, k);

  chosen_.clear();
  chosen_.push_back(static_cast<uint32_t>(primary));
  if (fast) {
    fallbacks_.finish(cands_, chosen_);
  } else {
    add_fallbacks(cands_, critical, cfg_.max_fallbacks, chosen_, fallback_scratch_);
    diversify_last_fallback(cands_, critical, chosen_);
  }
  if (how != Choice::kBestEffort && promote_probe(primary, now, r.explain)) how = Choice::kProbe;
  for (uint32_t i : chosen_) out.steps.push_back(step_of(cands_[i]));
  out.hedge_after = hedge_delay(out.steps, r.priority, k.budget, cfg_.hedge_when_p95_over);
  if (r.explain) {
    out.reason = explain_plan(reg_, cands_, chosen_, how, p2c_members_, cuts_, k,
                              out.hedge_after);
  } else {
    // Short tags fit the small-string buffer: no allocation on the hot path.
    out.reason = how == Choice::kCheapest    ? "cheapest"
                 : how == Choice::kPowerOfTwo ? "p2c"
                 : how == Choice::kProbe      ? "probe"
                                              : "best-effort";
  }
  return Status::Ok();
}

Result<Plan> Router::plan(const RouteRequest& r, TimePoint now, Rng& rng) {
  Plan p;
  Status s = plan_into(r, now, rng, p);
  if (!s.ok()) return s;
  return p;
}

void Router::on_dispatch(TargetIndex t, TimePoint now) {
  states_[t].on_dispatch(now);
  ++version_[t];
}

namespace {

void feed_breaker(Breaker& b, Outcome o, TimePoint now) {
  switch (o) {
    case Outcome::kOk: b.on_success(now); return;
    case Outcome::kError:
    case Outcome::kTimeout:
    case Outcome::kRefused: b.on_failure(now); return;
    case Outcome::kOverloaded:
      if (b.state(now) == BreakerState::kHalfOpen) b.on_failure(now);
      return;
    case Outcome::kAbandoned: b.on_abandoned(now); return;
  }
}

}  // namespace

void Router::on_result(TargetIndex t, VariantIndex v, Outcome o, Duration latency, TimePoint now, bool judged) {
  states_[t].on_result(v, o, latency, now);
  ++version_[t];
  ++terms_version_[t];
  if (judged) feed_breaker(breakers_[t], o, now);
}

void Router::on_result(TargetIndex t, VariantIndex v, Outcome o, Duration latency,
                       Duration service, TimePoint now, Duration queued, bool judged) {
  states_[t].on_result(v, o, latency, service, now, queued);
  ++version_[t];
  ++terms_version_[t];
  if (judged) feed_breaker(breakers_[t], o, now);
}

void Router::on_call_result(TargetIndex t, Outcome o, TimePoint now) {
  feed_breaker(breakers_[t], o, now);
  ++version_[t];  // the breaker's state is part of what a decision reuses (TargetView)
}

void Router::on_load_report(TargetIndex t, const LoadReport& r, bool ready, TimePoint now) {
  states_[t].on_load_report(r, now);
  ++version_[t];
  ++terms_version_[t];
  ready_[t] = ready ? 1 : 0;
}

void Router::on_rtt_sample(TargetIndex t, Duration rtt, TimePoint now) {
  states_[t].on_rtt_sample(rtt, now);
  ++version_[t];
  ++terms_version_[t];
}

void Router::on_cost(TargetIndex t, Money cost, TimePoint now) {
  if (reg_.target(t).hw != HardwareClass::kCloud) return;
  const int64_t sec = second_of(now);
  SpendBucket& b = spend_[static_cast<size_t>(((sec % kSpendBuckets) + kSpendBuckets) % kSpendBuckets)];
  if (b.second != sec) b = SpendBucket{sec, Money()};
  b.spent += cost;
}

Money Router::cloud_spend_rate(TimePoint now) const {
  const int64_t sec = second_of(now);
  int64_t total = 0;
  for (const SpendBucket& b : spend_)
    if (b.second > sec - kSpendBuckets && b.second <= sec) total += b.spent.nano();
  return Money::from_nano(total / kSpendBuckets);
}

}  // namespace hir::routing
