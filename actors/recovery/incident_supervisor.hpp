#pragma once

// One incident supervisor: runs one recovery execution to its end (see
// recovery_actor.hpp), then reports (done_atom, recovery_execution) to the
// actor that spawned it and quits.

#include <memory>
#include <optional>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "recovery/execution.hpp"

namespace faultd {

/// Spawns (detached) the supervisor for `machine`, reporting to `manager`.
/// `fault_since`: when the fault that (re)opened the incident was seen (see
/// actions::action_context::fault_since); unset when resuming a journal.
caf::actor spawn_incident_supervisor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                                     caf::actor manager, incident inc,
                                     recovery::execution_machine machine,
                                     std::optional<timestamp> fault_since);

} // namespace faultd
