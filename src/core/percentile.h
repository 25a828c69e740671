// Percentiles of a sample, by the nearest-rank method (the value below which q of the sample
// lies, taken from the sample itself; no interpolation).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace hir {

// q in [0, 1]. Sorts `v` in place. 0 for an empty sample.
inline double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[rank == 0 ? 0 : std::min(rank, v.size()) - 1];
}

}  // namespace hir
