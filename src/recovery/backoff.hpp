#pragma once

// Delay math shared by the recovery engine: exponential backoff between the
// attempts of an action, scaled by random jitter so that many incidents that
// failed together do not retry in lock-step.

#include <cstdint>
#include <functional>

#include "faultd/time.hpp"

namespace faultd::recovery {

/// A source of uniformly distributed numbers in [0, 1) (the house
/// convention, as faultd::process::random_source; defined here so that the
/// recovery library does not depend on the process library).
using random_source = std::function<double()>;

/// A random_source backed by a std::mt19937_64 seeded from std::random_device.
random_source default_random_source();

/// Jitter of retry delays: a delay is scaled by a factor in [0.8, 1.2).
constexpr double retry_jitter = 0.2;

/// `base * 2^(failed_attempts - 1)`: the wait after the first failed attempt
/// is `base`, after the second `2 * base`, and so on. `failed_attempts` 0 is
/// treated as 1. Saturates at duration::max() instead of overflowing; a
/// negative base gives 0.
duration exponential_delay(duration base, uint32_t failed_attempts);

/// `d` scaled by `1 + jitter * (2r - 1)`, i.e. a factor in
/// [1 - jitter, 1 + jitter) for `r` in [0, 1). `r` and `jitter` are clamped
/// to [0, 1]; the result is never negative.
duration apply_jitter(duration d, double jitter, double r);

} // namespace faultd::recovery
