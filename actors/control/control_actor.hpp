#pragma once

// The control actor: a node's front door for faultctl and other clients. It
// is published on the node's --listen address.
//
// Interface (remote):
//   (ctl_atom, std::string ControlRequest bytes) -> std::string ControlResponse bytes
// Anything else that arrives (a message of another shape, bytes that do not
// decode) is dropped, counted in malformed_dropped and logged; the node goes on.
//
// It answers from what owns the data: services from the node context
// (process supervisor, health board, registry, circuit board),
// faults/incidents from "storage", inject through "analyzer", strategies
// from the config, chaos from the actor directory.
//
// The node publishes a tiny front actor (spawn_control_front), not this one:
// the front forwards every request to the current incarnation of
// "control", so the port keeps working when the control actor is crashed
// and restarted by its supervisor.

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

/// Spawns the control actor.
caf::actor spawn_control_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

/// Spawns the front actor that is published on the control port: it
/// forwards (ctl_atom, bytes) to the current "control" and answers
/// anything else with an error (dropped and counted).
caf::actor spawn_control_front(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
