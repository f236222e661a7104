#pragma once

// OTP-style supervisors for faultd's actors (CAF 0.17 has links and
// monitors, but no supervisors).
//
// A supervisor starts its children in order through their factories and
// monitors them. When a child exits abnormally it applies its strategy
// (supervision/restart_strategy.hpp): siblings that must go are stopped with
// user_shutdown in reverse start order, the supervisor WAITS for their
// down_msg (siblings it stops itself are not counted as crashes), then starts
// the affected children again in start order. More than max_restarts crashes
// within `period` make it ESCALATE: it stops all its children and quits with
// escalation_reason(name), an abnormal reason, so its own supervisor (if any)
// sees a crash and applies its strategy to the whole subtree.
//
// Every (re)started child is put into the node's actor_directory under its
// name with its supervisor's name and its restart count; the entry is removed
// when the child stops for good. The supervisor itself is put there by its
// parent (a child_spec with is_supervisor = true); a root supervisor is not
// listed unless its owner puts it.
//
// Stopping: an exit_msg with a non-normal reason (user_shutdown from the
// parent or the node, or crash_actor) makes the supervisor stop its children
// one by one in reverse start order, each time waiting for the down_msg
// (a child still running after its shutdown_timeout is killed with
// exit_reason::kill), and then quit with that same reason.
// Whoever spawns a root supervisor must keep its handle: CAF destroys an
// actor nothing refers to.
//
// Interface:
//   (children_atom)              -> std::vector<std::string>  child names, in start order
//   (caf::get_atom, std::string) -> caf::actor                current incarnation of a child
//                                   (error sec::runtime_error if unknown or not running)

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/supervision/directory.hpp"
#include "faultd/time.hpp"
#include "supervision/restart_strategy.hpp"

namespace faultd {

/// How a supervisor starts and treats one child.
struct child_spec {
  /// Unique on the node: the child's name in the actor_directory.
  std::string name;
  /// Spawns a new incarnation (called from the supervisor, for the first
  /// start and every restart). An invalid handle or a thrown std::exception
  /// counts as a failed start (retried within the restart intensity).
  std::function<caf::actor(caf::actor_system&)> start;
  /// Whether the child is itself a supervisor (shown in the directory).
  bool is_supervisor = false;
  /// transient (default): restarted only after abnormal exits;
  /// permanent: restarted after any exit.
  supervision::restart_policy restart = supervision::restart_policy::transient;
  /// How long a stop (user_shutdown) may take before the child is killed.
  duration shutdown_timeout = seconds_d(5);
};

/// A supervisor and its children.
struct supervisor_spec {
  /// Shown in logs and as the `supervisor` of its children's entries.
  std::string name;
  supervision::strategy strategy = supervision::strategy::one_for_one;
  /// At most this many restarts within `period`; one more escalates.
  uint32_t max_restarts = 3;
  duration period = seconds_d(5);
  /// In start order.
  std::vector<child_spec> children;
  /// Where the children are registered; may be null (then nothing is).
  std::shared_ptr<actor_directory> directory;
  /// The clock of the restart intensity; null means the system clock.
  /// REQUIRES: outlives the supervisor.
  const clock_source* clock = nullptr;
};

/// Spawns a supervisor that starts `spec.children` in order. If a child
/// cannot be started at all, the supervisor stops the ones it started and
/// quits with an error (seen through a monitor).
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// A child_spec that runs `spec` as a nested supervisor under `spec.name`.
child_spec supervisor_child(supervisor_spec spec);

/// The exit reason of a supervisor that gave up after too many restarts.
caf::error escalation_reason(const std::string& supervisor);

/// Whether `reason` is an escalation_reason.
bool is_escalation(const caf::error& reason);

/// Whether a child that exited with `reason` failed (anything but normal
/// and user_shutdown).
bool is_abnormal_exit(const caf::error& reason);

/// Makes `target` fail as an unhandled error would: sends it an exit message
/// with exit_reason::unhandled_exception. It needs no cooperation from the
/// actor: an actor that does not trap exits (the default) terminates at once
/// with that reason, so its supervisor sees an abnormal down_msg and restarts
/// it. A supervisor traps exits: it stops its children first and then quits
/// with the same abnormal reason. (For chaos tests: `faultctl chaos
/// crash-actor NAME`.) Does nothing for an invalid handle.
void crash_actor(const caf::actor& target);

} // namespace faultd
