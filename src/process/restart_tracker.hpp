#pragma once

// The restart-storm guard of one managed service (like OTP's intensity/period
// and systemd's StartLimitBurst): restarts are immediate while the service
// crashes rarely; a crash loop is slowed down by exponential backoff with
// jitter instead of spinning, and reported so that faultd can escalate.
//
// A plain class with injected time and randomness: it decides, the
// supervisor acts.

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "faultd/config.hpp"
#include "faultd/time.hpp"

namespace faultd::process {

/// A source of uniformly distributed numbers in [0, 1).
using random_source = std::function<double()>;

/// A random_source backed by a std::mt19937_64 seeded from std::random_device.
random_source default_random_source();

/// What to do about one wanted restart.
struct restart_decision {
  /// How long to wait before starting the service again (0 = at once).
  duration delay{0};
  /// True when the storm guard engaged: the restart is delayed by backoff.
  bool storm = false;
  /// Restarts within the last `period`, this one included.
  uint32_t restarts_in_period = 0;
};

/// Counts the restarts of one service and spaces them out once they come too
/// often.
///
/// Rules (all times from the injected clock's steady_now()):
/// - while fewer than `burst` restarts happened within the last `period`, a
///   restart is immediate;
/// - beyond that the guard is engaged: the k-th further restart (k = 0, 1, ...)
///   waits backoff_initial * 2^k, capped at backoff_max, then scaled by a
///   random factor in [1 - backoff_jitter, 1 + backoff_jitter];
/// - the guard stays engaged until the service has stayed up for `period`
///   (from started() on, without stopped() in between), which also forgets
///   the past restarts.
///
/// Not thread-safe: one owner (the supervisor's thread) calls it.
class restart_tracker {
public:
  /// REQUIRES: `clock` outlives the tracker; `random` returns values in [0, 1).
  restart_tracker(const restart_config& cfg, const clock_source& clock, random_source random);

  /// The service is running (again) as of now.
  void started();

  /// The service stopped running as of now (whatever the reason). If it had
  /// been up for at least `period`, the restart history is forgotten.
  void stopped();

  /// A restart is wanted now: records it and says how long to wait.
  restart_decision next_restart();

  /// Forgets all history (an operator started the service by hand).
  void reset();

  /// True while restarts are being delayed by backoff.
  bool engaged();

  /// Restarts recorded within the last `period`.
  uint32_t restarts_in_period();

  /// Replaces the limits (a config reload); keeps the history.
  void set_config(const restart_config& cfg) { cfg_ = cfg; }

private:
  using steady_point = std::chrono::steady_clock::time_point;
  void prune(steady_point now);
  void forget_if_stable(steady_point now);
  duration backoff_for(uint32_t step) const;

  restart_config cfg_;
  const clock_source* clock_;
  random_source random_;
  std::deque<steady_point> restarts_;       ///< times of recent restarts, oldest first
  uint32_t backoff_steps_ = 0;              ///< delayed restarts since the guard engaged
  std::optional<steady_point> up_since_;    ///< set while the service runs
};

} // namespace faultd::process
