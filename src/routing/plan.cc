#include "routing/plan.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace hir::routing {
namespace {

// printf-style append; routing links hir_core only (no fmt), and these strings are built only
// for explain and for errors.
[[gnu::format(printf, 2, 3)]] void appendf(std::string& s, const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  const int n = std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  if (n > 0) s.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

bool in_chain(std::span<const Candidate> c, const std::vector<uint32_t>& chosen, TargetIndex t) {
  for (uint32_t i : chosen)
    if (c[i].target == t) return true;
  return false;
}

bool domain_used(std::span<const Candidate> c, const std::vector<uint32_t>& chosen, uint32_t d) {
  for (uint32_t i : chosen)
    if (c[i].domain == d) return true;
  return false;
}

int tier(const Candidate& c, bool include_relaxed) { return fallback_tier(c, include_relaxed); }

void append_step(std::string& s, const Registry& reg, const Candidate& c) {
  const auto& t = reg.target(c.target);
  appendf(s, "%s/%s (%.*s, domain %.*s, p95 %.2f ms, $%.9f)", t.name.c_str(),
          reg.variant(c.variant).name.c_str(), static_cast<int>(hardware_class_name(t.hw).size()),
          hardware_class_name(t.hw).data(), static_cast<int>(reg.failure_domain(c.target).size()),
          reg.failure_domain(c.target).data(), to_ms(c.p95), c.cost.usd());
}

void append_cuts(std::string& s, const CutCounts& cuts, const Constraints& k) {
  bool any = false;
  for (size_t i = 1; i < kCutCount; ++i) {
    if (cuts[i] == 0) continue;
    const auto cut = static_cast<Cut>(i);
    appendf(s, "%s%u %.*s", any ? ", " : "", cuts[i], static_cast<int>(cut_name(cut).size()),
            cut_name(cut).data());
    if (cut == Cut::kAccuracy && k.min_accuracy) appendf(s, " %.3f", *k.min_accuracy);
    if (cut == Cut::kCost && k.max_cost) appendf(s, " $%.9f", k.max_cost->usd());
    if (cut == Cut::kBudget) appendf(s, " %g ms", to_ms(k.budget));  // as the client wrote it: 0.001, not 0.00
    any = true;
  }
  if (!any) s += "none";
}

// add_fallbacks' choice, from the best max_fallbacks candidates on targets not in the chain
// (top) and the best of each of the best max_fallbacks domains not in it (top_domains).
void pick_fallbacks(std::span<const Candidate> c, bool include_relaxed, size_t max_fallbacks,
                    const std::vector<uint32_t>& top, const std::vector<uint32_t>& top_domains,
                    std::vector<uint32_t>& chosen) {
  // A: the best candidate in a domain not yet in the chain; B: the best on any target not in it.
  // B in a new domain would make A at least as good, so B is picked only from a used domain, and
  // only when it is in a better tier than A.
  size_t next_domain = 0;
  for (size_t slot = 0; slot < max_fallbacks; ++slot) {
    const uint32_t* b = nullptr;
    for (const uint32_t& i : top)
      if (!in_chain(c, chosen, c[i].target)) {
        b = &i;
        break;
      }
    const uint32_t* a =
        next_domain < top_domains.size() ? &top_domains[next_domain] : nullptr;
    if (a && (!b || tier(c[*a], include_relaxed) == tier(c[*b], include_relaxed))) {
      chosen.push_back(*a);
      ++next_domain;
    } else if (b) {
      chosen.push_back(*b);
    } else {
      return;
    }
  }
}

}  // namespace

void add_fallbacks(std::span<const Candidate> c, bool include_relaxed, size_t max_fallbacks,
                   std::vector<uint32_t>& chosen, FallbackScratch& s) {
  if (max_fallbacks == 0) return;
  // The order within and across tiers: feasible by the policy ranking, then relaxed fastest first.
  s.tiers.resize(c.size());
  for (size_t n = 0; n < c.size(); ++n) s.tiers[n] = static_cast<uint8_t>(tier(c[n], include_relaxed));
  auto before = [&](uint32_t a, uint32_t b) {
    const int ta = s.tiers[a], tb = s.tiers[b];
    if (ta != tb) return ta < tb;
    if (ta == 1 && c[a].p95 != c[b].p95) return c[a].p95 < c[b].p95;
    return ranks_before(c[a], c[b]);
  };
  // Keeps v sorted by `before`, at most max_fallbacks long, one entry per target.
  auto offer = [&](std::vector<uint32_t>& v, uint32_t i) {
    if (v.size() == max_fallbacks && !before(i, v.back())) return;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (c[*it].target != c[i].target) continue;
      if (!before(i, *it)) return;  // its target is there already, with a better variant
      v.erase(it);
      break;
    }
    v.insert(std::upper_bound(v.begin(), v.end(), i, before), i);
    if (v.size() > max_fallbacks) v.pop_back();
  };

  ++s.stamp;
  s.touched.clear();
  s.top.clear();
  s.top_domains.clear();
  for (size_t n = 0; n < c.size(); ++n) {
    const auto i = static_cast<uint32_t>(n);
    if (s.tiers[i] == 2 || in_chain(c, chosen, c[i].target)) continue;
    const uint32_t d = c[i].domain;
    if (d >= s.domain_best.size()) {
      s.domain_best.resize(d + 1);
      s.domain_stamp.resize(d + 1, 0);
    }
    if (s.domain_stamp[d] != s.stamp) {
      s.domain_stamp[d] = s.stamp;
      s.domain_best[d] = i;
      s.touched.push_back(d);
    } else if (before(i, s.domain_best[d])) {
      s.domain_best[d] = i;
    }
    offer(s.top, i);
  }
  for (uint32_t d : s.touched)
    if (!domain_used(c, chosen, d)) offer(s.top_domains, s.domain_best[d]);

  pick_fallbacks(c, include_relaxed, max_fallbacks, s.top, s.top_domains, chosen);
}

void diversify_last_fallback(std::span<const Candidate> c, bool include_relaxed,
                             std::vector<uint32_t>& chosen) {
  if (chosen.size() < 2) return;
  const HardwareClass hw = c[chosen[0]].hw;
  for (uint32_t i : chosen)
    if (c[i].hw != hw) return;
  size_t best = c.size();
  for (size_t n = 0; n < c.size(); ++n) {
    const int t = tier(c[n], include_relaxed);
    if (t == 2 || c[n].hw == hw) continue;
    if (best == c.size()) {
      best = n;
      continue;
    }
    const int tb = tier(c[best], include_relaxed);
    const bool faster = t == 1 && tb == 1 && c[n].p95 != c[best].p95;
    if (t < tb || (t == tb && (faster ? c[n].p95 < c[best].p95 : ranks_before(c[n], c[best])))) best = n;
  }
  if (best != c.size()) chosen.back() = static_cast<uint32_t>(best);
}

void FallbackCollector::reset(bool include_relaxed, size_t max_fallbacks, size_t candidates) {
  include_relaxed_ = include_relaxed;
  max_fallbacks_ = max_fallbacks;
  top_.clear();
  top_domains_.clear();
  hw_best_.fill(UINT32_MAX);
  if (tiers_.size() < candidates) tiers_.resize(candidates);
  dom_tier_ = 3;
  dom_key_ = 0;
  dom_last_ = UINT32_MAX;
  hw_tier_.fill(3);
  hw_key_.fill(0);
}

template <class Key>
void FallbackCollector::keep(std::span<const Candidate> c, std::vector<uint32_t>& v, uint32_t i,
                             Key key) {
  // Keeps v sorted by `before`, at most max_fallbacks + 1 long, one entry per key (add_fallbacks'
  // `offer`: drop an entry with i's key that i beats, insert i at its upper bound, trim to the
  // cap), with the entries shifted by hand — the lists hold a handful.
  const size_t cap = max_fallbacks_ + 1;
  size_t n = v.size();
  if (n == cap && !before(c, i, v[n - 1])) return;
  const auto ki = key(c[i]);
  size_t same = n;
  for (size_t k = 0; k < n; ++k)
    if (key(c[v[k]]) == ki) {
      same = k;
      break;
    }
  if (same < n && !before(c, i, v[same])) return;  // its key is there already, and better
  // i ranks before v[same] (when there is one), so its place is at or before `same`.
  const size_t end = same < n ? same : n;
  size_t at = 0;
  while (at < end && !before(c, i, v[at])) ++at;
  size_t last;  // the slot that the shift fills: the replaced entry, a new one, or the dropped last
  if (same < n) {
    last = same;
  } else if (n < cap) {
    v.push_back(0);
    last = n++;
  } else {
    last = n - 1;
  }
  uint32_t* const e = v.data();
  for (size_t k = last; k > at; --k) e[k] = e[k - 1];
  e[at] = i;
}

void FallbackCollector::offer_slow(std::span<const Candidate> c, uint32_t i) {
  // offer() has set tiers_[i] (0 or 1).
  keep(c, top_, i, [](const Candidate& x) { return x.target; });
  keep(c, top_domains_, i, [](const Candidate& x) { return x.domain; });
  // offer()'s cached threshold, after the list changed.
  if (top_domains_.size() == max_fallbacks_ + 1) {
    dom_last_ = top_domains_.back();
    dom_tier_ = tiers_[dom_last_];
    dom_key_ = lead_key(c[dom_last_], dom_tier_);
  }
  const auto h = static_cast<size_t>(c[i].hw);
  uint32_t& best = hw_best_[h];
  if (best == UINT32_MAX || before(c, i, best)) {
    best = i;
    hw_tier_[h] = tiers_[i];
    hw_key_[h] = lead_key(c[i], tiers_[i]);
  }
}

void FallbackCollector::finish(std::span<const Candidate> c, std::vector<uint32_t>& chosen) {
  if (max_fallbacks_ == 0 || chosen.empty()) return;
  const Candidate& primary = c[chosen[0]];
  auto drop = [&](std::vector<uint32_t>& v, auto same) {
    for (auto it = v.begin(); it != v.end(); ++it)
      if (same(c[*it])) {
        v.erase(it);
        break;
      }
    if (v.size() > max_fallbacks_) v.resize(max_fallbacks_);
  };
  drop(top_, [&](const Candidate& x) { return x.target == primary.target; });
  drop(top_domains_, [&](const Candidate& x) { return x.domain == primary.domain; });
  pick_fallbacks(c, include_relaxed_, max_fallbacks_, top_, top_domains_, chosen);

  // diversify_last_fallback, from the best per hardware class.
  if (chosen.size() < 2) return;
  const HardwareClass hw = primary.hw;
  for (uint32_t i : chosen)
    if (c[i].hw != hw) return;
  uint32_t best = UINT32_MAX;
  for (size_t h = 0; h < hw_best_.size(); ++h) {
    const uint32_t i = hw_best_[h];
    if (i == UINT32_MAX || static_cast<HardwareClass>(h) == hw) continue;
    if (best == UINT32_MAX || before(c, i, best)) best = i;
  }
  if (best != UINT32_MAX) chosen.back() = best;
}

std::optional<Duration> hedge_delay(const std::vector<PlanStep>& steps, Priority p, Duration budget,
                                    double share) {
  if (p != Priority::kCritical || steps.size() < 2) return std::nullopt;
  const Duration primary = steps[0].predicted_p95;
  if (to_ms(primary) <= share * to_ms(budget)) return std::nullopt;
  const Duration latest_useful = budget - steps[1].predicted_p95;
  return std::clamp(latest_useful, Duration::zero(), primary);
}

std::string explain_plan(const Registry& reg, std::span<const Candidate> c,
                         const std::vector<uint32_t>& chosen, Choice how, size_t p2c_members,
                         const CutCounts& cuts, const Constraints& k,
                         std::optional<Duration> hedge) {
  std::string s = "primary ";
  append_step(s, reg, c[chosen[0]]);
  switch (how) {
    case Choice::kCheapest:
      s += ": cheapest feasible";
      break;
    case Choice::kPowerOfTwo:
      appendf(s, ": cheapest feasible, picked by power-of-two-choices among %zu equivalent edge "
                 "devices (utilization %.2f)",
              p2c_members, c[chosen[0]].load);
      break;
    case Choice::kBestEffort:
      s += ": best effort for a critical request (nothing met every constraint; lowest p95)";
      break;
    case Choice::kProbe:
      s += ": half-open, its breaker's probe (it ranks before a step this plan would fall back "
           "to; the plan's first choice is the first fallback)";
      break;
  }
  appendf(s, " of %zu candidates; budget %g ms", c.size(), to_ms(k.budget));
  if (k.min_accuracy) appendf(s, ", min_accuracy %.3f", *k.min_accuracy);
  if (k.max_cost) appendf(s, ", max_cost $%.9f", k.max_cost->usd());
  if (!k.cloud_allowed) s += ", cloud closed by the spend cap";
  s += "; cut: ";
  append_cuts(s, cuts, k);
  s += "; fallbacks: ";
  if (chosen.size() == 1) s += "none";
  for (size_t i = 1; i < chosen.size(); ++i) {
    if (i > 1) s += ", ";
    append_step(s, reg, c[chosen[i]]);
  }
  if (hedge) appendf(s, "; hedge to the first fallback after %.2f ms", to_ms(*hedge));
  return s;
}

Cut last_cut(const CutCounts& cuts) {
  for (size_t i = kCutCount - 1; i > 0; --i)
    if (cuts[i] > 0 && static_cast<Cut>(i) != Cut::kSkipped) return static_cast<Cut>(i);
  return Cut::kNone;
}

std::string infeasible_reason(const Registry& reg, ModelIndex m, const CutCounts& cuts,
                              const Constraints& k) {
  std::string s;
  const Cut last = last_cut(cuts);
  appendf(s, "no target can serve model '%s': ", reg.model(m).name.c_str());
  if (last == Cut::kNone) {
    s += "it has no deployments";
    return s;
  }
  appendf(s, "the last candidates were cut by %.*s (", static_cast<int>(cut_name(last).size()),
          cut_name(last).data());
  append_cuts(s, cuts, k);
  s += ")";
  return s;
}

}  // namespace hir::routing
