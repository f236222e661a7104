#pragma once

// The logic of one recovery execution (docs/ARCHITECTURE.md, "One node:
// the pipeline"): run a strategy's actions in order, each with its timeout and retries with
// backoff, within the strategy's overall timeout, and roll back what was done
// when an action fails for good. A plain state machine driven from outside:
// the incident supervisor actor asks next(), performs the step (runs an
// action, arms a timer) and reports the outcome back. state() is the
// recovery_execution the actor journals before and after every step, and
// resume() continues from such a journal after a restart.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/time.hpp"
#include "recovery/backoff.hpp"

namespace faultd::recovery {

/// What the driver has to do next.
enum class step_kind : uint8_t {
  run_action,      ///< run actions[index] (attempt `attempt`), give up after `timeout`
  wait,            ///< arm a timer of `delay`, then call on_wait_over()
  rollback_action, ///< undo actions[index], give up after `timeout`
  done,            ///< the execution is over with `status` and `error`
};

/// "run_action", "wait", "rollback_action", "done".
std::string_view to_string(step_kind k);

/// One step of an execution. Only the fields named for its kind mean
/// something; the others keep their defaults.
struct step {
  step_kind kind = step_kind::done;
  size_t index = 0;       ///< run_action, rollback_action: position in the strategy's actions
  uint32_t attempt = 0;   ///< run_action: 1 for the first try, 2 for the first retry, ...
  duration timeout{0};    ///< run_action, rollback_action: when to call on_timeout / on_rollback_timeout
  duration delay{0};      ///< wait: how long until on_wait_over()
  execution_status status = execution_status::pending; ///< done: completed, failed or rolled_back
  std::string error;      ///< done: the execution's error text ("" when completed)
};

/// The state machine of one recovery_execution of one strategy.
///
/// Time: every time (attempt starts and ends, the deadline) is the injected
/// clock's wall time now(), because the deadline has to survive a restart
/// through the journal. deadline = state().started_at + strategy.timeout.
///
/// Forward phase, for each action in order:
/// - it gets 1 + retry_count attempts (retry_count 0 = exactly one try);
/// - an attempt's timeout is min(action.timeout, time left until the
///   deadline); a timed-out attempt is a failed attempt with the error
///   "timed out after <timeout>";
/// - after the k-th failed attempt (k = 1, 2, ...) the next attempt waits
///   retry_delay * 2^(k-1), scaled by a random factor in [0.8, 1.2)
///   (retry_jitter) drawn from the injected random source. While it waits
///   the action is `pending` with attempts > 0 and the last error;
/// - the deadline is absolute: no attempt starts at or after it, and a retry
///   whose wait would end at or after it is not waited for. In both cases,
///   and when an attempt fails once the deadline has passed, the action fails
///   for good with an error that starts with "strategy timeout". A success
///   reported after the deadline still counts (the action did take effect).
///
/// When an action fails for good, every later action is marked `skipped`,
/// state().error says which action failed and why, and:
/// - with rollback_enabled, every `completed` action is rolled back once, in
///   reverse order (one rollback_action step each, timeout action.timeout,
///   not bounded by the deadline, no retries). A rolled-back action's status
///   becomes action_status::rolled_back. A rollback that fails (or times
///   out) leaves the action `completed` with error "rollback failed: <why>"
///   and rollback goes on with the next one. The execution ends
///   `rolled_back` in every case (also when nothing had completed yet); if a
///   rollback failed, the execution error ends with
///   "; rollback failed for action <i> (<type> <target>): <why>".
/// - without rollback the execution ends `failed`.
/// All actions completed: the execution ends `completed` with no error.
///
/// Not thread-safe: one owner (the incident supervisor) calls it.
class execution_machine {
public:
  /// Starts a new execution of `strategy` for `incident_id` as of now: status
  /// running, started_at = clock.now(), every action pending.
  /// REQUIRES: `clock` outlives the machine; `random` returns values in
  /// [0, 1) (an empty one is replaced by default_random_source()).
  execution_machine(const recovery_strategy& strategy, std::string incident_id,
                    std::string execution_id, const clock_source& clock, random_source random);

  /// Continues a journaled execution after a restart:
  /// - an execution already completed, failed or rolled_back stays as it is
  ///   (next() returns done with its status and error);
  /// - if !compatible(journaled, strategy), the execution is closed as
  ///   abandon() does, with an error naming the strategy;
  /// - otherwise an action recorded `completed` is never run again; an action
  ///   recorded `running` counts as a failed attempt with the error
  ///   "interrupted by node restart" and is retried at once if it has
  ///   attempts left (otherwise it fails for good); an action `pending` with
  ///   attempts > 0 (it was waiting for a retry) is retried at once; the
  ///   deadline stays journaled started_at + strategy.timeout;
  /// - if an action had failed for good (rollback phase), the actions still
  ///   `completed` are rolled back in reverse order, except those whose error
  ///   starts with "rollback failed: " (already tried). A rollback that was
  ///   in flight when the node died is run again: rollback is at-least-once.
  /// A journal that contradicts itself (skipped or rolled_back actions
  /// without a failed one) is closed as abandon() does.
  ///
  /// `attempt_in_flight`: the attempt of the action recorded `running` has
  /// not ended; its worker still runs (the supervisor stopped, the node did
  /// not). That attempt is not counted as interrupted: the action stays
  /// running and next() returns its run_action step with the same attempt,
  /// for the driver to wait for the worker's outcome, not to run it again.
  static execution_machine resume(const recovery_execution& journaled,
                                  const recovery_strategy& strategy, const clock_source& clock,
                                  random_source random, bool attempt_in_flight = false);

  /// True when `journaled` was made from `strategy` as it is now: same id and
  /// the same actions (type, target, parameters, timeout, retries, delay) in
  /// the same order. A driver closes an incompatible execution with abandon()
  /// (resume() does that by itself).
  static bool compatible(const recovery_execution& journaled, const recovery_strategy& strategy);

  /// `journaled` closed as failed at `now`: a running action becomes failed
  /// with error `reason`, pending actions become skipped, the execution's
  /// status is failed, ended_at = now and error = reason. Completed actions
  /// stay completed (nothing is rolled back). A final execution is returned
  /// unchanged.
  static recovery_execution abandon(recovery_execution journaled, const std::string& reason,
                                    timestamp now);

  /// The next step. Calling it again before reporting the outcome of a
  /// run_action or rollback_action returns the same step (nothing is started
  /// twice); during a wait it returns the time still to wait (and goes on
  /// with the next attempt if that time has passed, even without
  /// on_wait_over()). Starting an attempt marks the action running, counts
  /// the attempt and sets its started_at on the first one.
  step next();

  /// The outcome of the run_action step for `index`. Returns false (and
  /// changes nothing) when no such step is outstanding, e.g. a late result
  /// after a timeout.
  bool on_action_result(size_t index, bool ok, const std::string& error);

  /// The run_action step for `index` ran out of its timeout: a failed attempt
  /// with the error "timed out after <timeout>". False as on_action_result.
  bool on_timeout(size_t index);

  /// The wait step is over. False when no wait is outstanding.
  bool on_wait_over();

  /// The outcome of the rollback_action step for `index`. False when no such
  /// step is outstanding.
  bool on_rollback_result(size_t index, bool ok, const std::string& error);

  /// The rollback_action step for `index` ran out of its timeout (a failed
  /// rollback: "timed out after <timeout>").
  bool on_rollback_timeout(size_t index);

  /// The execution as it stands: what the driver journals.
  const recovery_execution& state() const { return state_; }

  /// Records what actions[index]'s rollback needs (journaled with state()).
  void set_rollback_data(size_t index, std::string data) {
    if (index < state_.actions.size())
      state_.actions[index].rollback_data = std::move(data);
  }

  /// The strategy being executed.
  const recovery_strategy& strategy() const { return strategy_; }

  /// When the strategy's overall timeout expires.
  timestamp deadline() const { return deadline_; }

  /// True once the execution has a final status (next() returns done).
  bool finished() const { return phase_ == phase::finished; }

private:
  enum class phase : uint8_t { forward, rolling_back, finished };

  execution_machine(const recovery_strategy& strategy, const clock_source& clock,
                    random_source random);

  std::string describe(size_t index) const;
  std::string strategy_timeout_text(const std::string& last_error) const;
  void attempt_failed(const std::string& error, bool backoff);
  void fail_for_good(const std::string& error);
  void rollback_done(size_t index, bool ok, const std::string& error);
  void finish(execution_status status);
  step done_step() const;

  recovery_strategy strategy_;
  const clock_source* clock_;
  random_source random_;
  recovery_execution state_;
  timestamp deadline_;
  phase phase_ = phase::forward;
  size_t current_ = 0;                 ///< forward: the action in progress
  bool in_flight_ = false;             ///< a run/rollback step awaits its outcome
  duration in_flight_timeout_{0};      ///< the outstanding step's timeout
  std::optional<timestamp> wait_until_; ///< forward: next attempt not before this
  std::vector<size_t> rollback_queue_; ///< actions to roll back, in order
  size_t rollback_pos_ = 0;            ///< next entry of rollback_queue_
  std::string failure_;                ///< why the forward phase failed
  std::vector<std::string> rollback_errors_; ///< "action <i> (...): <why>"
};

} // namespace faultd::recovery
