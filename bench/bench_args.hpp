#pragma once

// What the simulation benchmarks share: their `--name N` options and the
// median over trials.

#include <algorithm>
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
