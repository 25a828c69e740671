#include "sim/schedule.h"

#include <algorithm>
#include <limits>

namespace hir::sim {

uint32_t Schedule::add(routing::TargetIndex t, int64_t from, int64_t to, uint64_t owner) {
  auto& b = busy_[t];
  b.push_back({from, to, owner});
  longest_[t] = std::max(longest_[t], to - from);
  return static_cast<uint32_t>(b.size() - 1);
}

void Schedule::cut(routing::TargetIndex t, uint32_t span, int64_t to) {
  auto& s = busy_[t][span];
  s.to = std::max(s.from, std::min(s.to, to));
}

bool Schedule::idle_thread(routing::TargetIndex t, int64_t from, int64_t to, uint32_t concurrency,
                           uint64_t except) const {
  if (concurrency == 0) return false;
  to = std::max(to, from + 1);
  const auto& b = busy_[t];
  // Spans are in start order; one overlapping [from, to) starts before `to` and, being at most
  // longest_ long, at or after from - longest_.
  auto by_start = [](const Busy& s, int64_t v) { return s.from < v; };
  auto lo = std::lower_bound(b.begin(), b.end(), from - longest_[t], by_start);
  auto hi = std::lower_bound(lo, b.end(), to, by_start);
  if (hi - lo < static_cast<std::ptrdiff_t>(concurrency)) return true;  // too few to fill every thread
  sweep_.clear();
  for (auto it = lo; it != hi; ++it) {
    if (it->to <= from || it->owner == except) continue;
    sweep_.emplace_back(std::max(it->from, from), +1);
    sweep_.emplace_back(std::min(it->to, to), -1);
  }
  if (sweep_.size() / 2 < concurrency) return true;
  if (concurrency == 1) return false;  // one span overlapping the window is enough
  // The most spans running at once within the window; at equal times an end comes before a start
  // (half-open spans).
  std::sort(sweep_.begin(), sweep_.end());
  int running = 0;
  for (const auto& [at, d] : sweep_) {
    running += d;
    if (running >= static_cast<int>(concurrency)) return false;
  }
  return true;
}

Unreachable::Unreachable(const Fleet& f, const std::vector<FaultEvent>& timeline)
    : f_(f), device_(f.devices.size()), site_(f.site_names.size()), group_(f.group_devices.size()) {
  using K = FaultEvent::Kind;
  constexpr int64_t kOpen = -1;
  std::vector<int64_t> down_since(f.devices.size(), kOpen), part_since(site_.size(), kOpen),
      out_since(group_.size(), kOpen);
  std::vector<int> parts(site_.size(), 0), outs(group_.size(), 0);
  for (const auto& e : timeline) {
    const int64_t at = e.at.count();
    switch (e.kind) {
      case K::kDeviceDown:
        if (down_since[e.subject] == kOpen) down_since[e.subject] = at;
        break;
      case K::kDeviceUp:
        if (down_since[e.subject] != kOpen) {
          device_[e.subject].push_back({down_since[e.subject], at});
          down_since[e.subject] = kOpen;
        }
        break;
      case K::kPartitionStart:
        if (parts[e.subject]++ == 0) part_since[e.subject] = at;
        break;
      case K::kPartitionEnd:
        if (parts[e.subject] > 0 && --parts[e.subject] == 0) site_[e.subject].push_back({part_since[e.subject], at});
        break;
      case K::kOutageStart:
        if (outs[e.subject]++ == 0) out_since[e.subject] = at;
        break;
      case K::kOutageEnd:
        if (outs[e.subject] > 0 && --outs[e.subject] == 0) group_[e.subject].push_back({out_since[e.subject], at});
        break;
      default: break;  // brownouts slow a group down; they do not take it away
    }
  }
  constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
  for (size_t t = 0; t < device_.size(); ++t)
    if (down_since[t] != kOpen) device_[t].push_back({down_since[t], kForever});
  for (size_t s = 0; s < site_.size(); ++s)
    if (parts[s] > 0) site_[s].push_back({part_since[s], kForever});
  for (size_t g = 0; g < group_.size(); ++g)
    if (outs[g] > 0) group_[g].push_back({out_since[g], kForever});
}

bool Unreachable::overlaps(const std::vector<Span>& spans, int64_t from, int64_t to) {
  // Disjoint and sorted: the first span ending after `from` is the only one that can start first.
  auto it = std::upper_bound(spans.begin(), spans.end(), from, [](int64_t v, const Span& s) { return v < s.to; });
  return it != spans.end() && it->from < to;
}

bool Unreachable::reachable_throughout(routing::TargetIndex t, int64_t from, int64_t to) const {
  to = std::max(to, from + 1);
  const auto& d = f_.devices[t];
  return !overlaps(device_[t], from, to) && !overlaps(site_[d.site], from, to) && !overlaps(group_[d.group], from, to);
}

}  // namespace hir::sim
