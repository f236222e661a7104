#pragma once

// The decisions of an OTP-style supervisor, without any actor in them:
// which children a failure takes down and brings back (the strategy), whether
// an exit deserves a restart at all (the child's restart policy), and when a
// supervisor has restarted too often and must give up and fail itself
// (the restart intensity). actors/supervision/supervisor_actor.* applies them.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "faultd/time.hpp"

namespace faultd::supervision {

/// Which children a supervisor restarts when one of them fails.
enum class strategy : uint8_t {
  /// Only the failed child.
  one_for_one = 0,
  /// Every child: the others are stopped in reverse start order, then all are
  /// started again in start order.
  one_for_all = 1,
  /// The failed child and every child started after it (they depend on it):
  /// the later ones are stopped in reverse start order, then all of them are
  /// started again in start order.
  rest_for_one = 2,
};

/// "one_for_one", "one_for_all", "rest_for_one".
std::string_view to_string(strategy s);

/// Reads to_string's output back; nullopt for anything else.
std::optional<strategy> parse_strategy(std::string_view s);

/// When a child that exited is started again.
enum class restart_policy : uint8_t {
  /// Restarted only after an abnormal exit (a crash, a kill, an error).
  /// A child that finishes normally (or is asked to stop with user_shutdown
  /// by someone else) stays stopped. The default.
  transient = 0,
  /// Restarted after any exit, normal ones included: for actors that must
  /// always run.
  permanent = 1,
};

/// Whether a child with `policy` is restarted after an exit that was
/// `abnormal` (true) or normal (false).
bool should_restart(restart_policy policy, bool abnormal);

/// Restart intensity: at most `max_restarts` restarts within any sliding
/// window of length `period`. One more means the failure is not transient and
/// the supervisor must escalate (fail itself so that its own supervisor acts).
/// Time comes from the injected clock's steady time.
class restart_intensity {
public:
  /// REQUIRES: `clock` outlives this object.
  restart_intensity(uint32_t max_restarts, duration period, const clock_source& clock);

  /// Records one restart now. Returns true when it is within the limit;
  /// false when it makes more than max_restarts within the last period
  /// (the caller escalates instead of restarting). A refused restart is
  /// still recorded.
  bool record_restart();

  /// Restarts recorded within the last period (as of now).
  size_t recent() const;

  uint32_t max_restarts() const { return max_restarts_; }
  duration period() const { return period_; }

private:
  void expire(std::chrono::steady_clock::time_point now) const;

  uint32_t max_restarts_;
  duration period_;
  const clock_source* clock_;
  mutable std::deque<std::chrono::steady_clock::time_point> restarts_;
};

/// What a supervisor does after child `failed` died: stop these (indices
/// into the start-ordered child list, in this order), then start these
/// (in this order).
struct restart_plan {
  /// Running siblings to stop first, in reverse start order. Never holds the
  /// failed child (it is already gone).
  std::vector<size_t> stop;
  /// Children to start again, in start order: the failed child and the
  /// stopped siblings. Children that were not running (finished normally)
  /// stay stopped.
  std::vector<size_t> start;
};

/// Plans the restart for strategy `s`. `running[i]` tells whether child i
/// (in start order) is running; the entry of `failed` is ignored.
/// REQUIRES: failed < running.size().
restart_plan plan_restart(strategy s, const std::vector<bool>& running, size_t failed);

} // namespace faultd::supervision
