#pragma once

// What the simulation benchmarks share: their `--name N` options, the
// median over trials, and when a share of the nodes was reached.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace faultd::bench {

/// The median of `v` (0 for none).
inline double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// The time (ms) by which `share` of `n` nodes was reached, from the times
/// (µs) of those that were; -1 if too few were.
inline double at_share(std::vector<int64_t> times_us, size_t n, double share) {
  std::sort(times_us.begin(), times_us.end());
  auto need = static_cast<size_t>(std::ceil(share * static_cast<double>(n)));
  return need >= 1 && need <= times_us.size() ? static_cast<double>(times_us[need - 1]) / 1000.0
                                              : -1.0;
}

/// Reads `--name N` options (N a positive integer) into `flags`; false for
/// anything else (the caller prints its usage and exits 2).
inline bool parse_counts(int argc, char** argv, const std::map<std::string, size_t*>& flags) {
  for (int i = 1; i < argc; ++i) {
    auto it = flags.find(argv[i]);
    if (it == flags.end() || i + 1 >= argc)
      return false;
    char* end = nullptr;
    auto v = std::strtoull(argv[++i], &end, 10);
    if (end == argv[i] || *end != '\0' || v == 0)
      return false;
    *it->second = static_cast<size_t>(v);
  }
  return true;
}

} // namespace faultd::bench
