// Small sample statistics shared by the reports.
#ifndef ECHOSIM_SIMULATOR_CORE_STATS_H_
#define ECHOSIM_SIMULATOR_CORE_STATS_H_

#include <algorithm>
#include <vector>

namespace echosim {

// The median of `v` (the mean of the two middle values for an even count); 0 when empty.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_STATS_H_
