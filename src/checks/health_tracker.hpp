#pragma once

// Hysteresis for health checks and thresholds: a single bad (or good) result
// does not flip a service's state; `failure_threshold` consecutive bad ones
// make it unhealthy and `success_threshold` consecutive good ones healthy
// again. Only the changes are reported, so a detector sends one fault event
// when a service turns unhealthy and one clearing event when it recovers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "checks/health_check.hpp"
#include "faultd/config.hpp"
#include "faultd/domain.hpp"
#include "faultd/time.hpp"

namespace faultd::checks {

/// What the tracker believes about the thing it watches.
enum class health_state : uint8_t { unknown, healthy, unhealthy };

/// "unknown", "healthy", "unhealthy".
std::string_view to_string(health_state s);

/// A change of state (or of the severity of an unhealthy state).
struct health_transition {
  health_state from = health_state::unknown;
  health_state to = health_state::unknown;
  /// For `to == unhealthy`: warning, or critical when the last
  /// failure_threshold results were all critical. For `to == healthy`: ok.
  check_outcome level = check_outcome::ok;
  /// Consecutive non-ok results when the transition happened.
  uint32_t consecutive_failures = 0;
  /// Consecutive ok results when the transition happened.
  uint32_t consecutive_successes = 0;

  /// True for unhealthy -> unhealthy: the level rose from warning to
  /// critical while the state stayed unhealthy.
  bool escalated() const { return from == to; }
};

/// Consecutive-result hysteresis over check outcomes.
///
/// Rules:
/// - unknown or healthy -> unhealthy after `failure_threshold` consecutive
///   non-ok results (warning counts as a failure);
/// - unknown or unhealthy -> healthy after `success_threshold` consecutive ok
///   results;
/// - the level of an unhealthy state is critical when the last
///   `failure_threshold` results were all critical, warning otherwise; a
///   rise from warning to critical while unhealthy is reported as an
///   escalation (unhealthy -> unhealthy); a fall back to warning is not
///   reported (the fault stays at its worst until it clears);
/// - anything else returns nullopt.
/// A threshold of 0 is treated as 1. Not thread-safe: one owner calls it.
class health_tracker {
public:
  health_tracker(uint32_t failure_threshold, uint32_t success_threshold);

  /// Uses the check's failure_threshold and success_threshold.
  explicit health_tracker(const check_config& cfg);

  /// Records one result; returns the transition it caused, if any.
  std::optional<health_transition> record(check_outcome o);

  health_state state() const { return state_; }
  /// The reported level of an unhealthy state (ok otherwise).
  check_outcome level() const { return level_; }
  uint32_t consecutive_failures() const { return failures_; }
  uint32_t consecutive_successes() const { return successes_; }

private:
  uint32_t failure_threshold_;
  uint32_t success_threshold_;
  health_state state_ = health_state::unknown;
  check_outcome level_ = check_outcome::ok;
  uint32_t failures_ = 0;   ///< consecutive non-ok results
  uint32_t criticals_ = 0;  ///< consecutive critical results
  uint32_t successes_ = 0;  ///< consecutive ok results
};

/// The fault severity of an unhealthy check: its configured severity for
/// critical, medium for warning.
fault_severity check_severity(const check_config& check, check_outcome level);

/// Turns a health-check transition into the event the analyzer receives:
/// - to unhealthy (also an escalation): a fault of type `check.fault` with
///   severity check_severity(check, t.level);
/// - unhealthy -> healthy: the same component and type with clears = true
///   and severity low;
/// - unknown -> healthy: nullopt (there is nothing to clear).
/// component = `service`, source = "check:<kind>", details: check, kind,
/// message (and code); metrics: latency_ms, consecutive_failures. The id is a
/// fresh UUID and the time is `clock.now()`.
std::optional<fault_event> make_check_event(const std::string& service, const check_config& check,
                                            const health_transition& t,
                                            const check_result& last, const std::string& node,
                                            const clock_source& clock);

} // namespace faultd::checks
