#pragma once

// One incident supervisor: runs one recovery execution to its end (see
// recovery_actor.hpp), then reports (done_atom, recovery_execution) to the
// current "recovery" and quits.
//
// It runs every action step on a worker thread (actions/workers.hpp) and
// waits for the outcome as a message with a timer, so it always answers: an
// executor that outlives its timeout by more than 500 ms is abandoned and the
// attempt counts as timed out. A step whose worker is still running from a
// previous supervisor of the same execution (crashed, or stopped with the
// manager) is attached to, never started a second time.
//
// Interface:
//   (caf::get_atom) -> (std::string incident_id, std::string execution_id)

#include <memory>
#include <optional>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "recovery/execution.hpp"

namespace faultd {

/// Spawns the supervisor for `machine`.
/// `fault_since`: when the fault that (re)opened the incident was seen (see
/// actions::action_context::fault_since); unset when resuming a journal.
caf::actor spawn_incident_supervisor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                                     incident inc,
                                     recovery::execution_machine machine,
                                     std::optional<timestamp> fault_since);

} // namespace faultd
