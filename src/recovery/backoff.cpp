#include "recovery/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>

namespace faultd::recovery {

random_source default_random_source() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
}

duration exponential_delay(duration base, uint32_t failed_attempts) {
  if (base <= duration::zero())
    return duration::zero();
  uint32_t doublings = failed_attempts == 0 ? 0 : failed_attempts - 1;
  auto count = base.count();
  constexpr auto max = std::numeric_limits<duration::rep>::max();
  for (uint32_t i = 0; i < doublings; ++i) {
    if (count > max / 2)
      return duration::max();
    count *= 2;
  }
  return duration{count};
}

duration apply_jitter(duration d, double jitter, double r) {
  if (d <= duration::zero())
    return duration::zero();
  jitter = std::clamp(jitter, 0.0, 1.0);
  r = std::clamp(r, 0.0, 1.0);
  double factor = 1.0 + jitter * (2.0 * r - 1.0);
  double scaled = static_cast<double>(d.count()) * factor;
  // Anything at or beyond the largest representable duration saturates.
  if (scaled >= static_cast<double>(std::numeric_limits<duration::rep>::max()))
    return duration::max();
  return duration{static_cast<duration::rep>(std::llround(std::max(scaled, 0.0)))};
}

} // namespace faultd::recovery
