#pragma once

// The control actor: a node's front door for faultctl and other clients,
// reached through the node's control endpoint (src/control/server.hpp).
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
// The endpoint talks to a tiny front actor (spawn_control_front), not this
// one: the front forwards every request to the current incarnation of
// "control", so the endpoint keeps working when the control actor is crashed
// and restarted by its supervisor.

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

namespace control {
class server;
}

/// Spawns the control actor.
caf::actor spawn_control_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

/// Spawns the front actor behind the control endpoint (`endpoint`, which
/// hands it (ctl_atom, uint64_t conn, uint64_t request_id, bytes) and takes
/// the replies): it forwards every request to the current "control". It
/// also answers (ctl_atom, bytes) -> bytes directly (for embedding
/// applications and tests), and answers anything else with an error
/// (dropped and counted).
///
/// A reload request goes to `reloader` as (reload_atom) -> reply bytes (it
/// restarts the actor tree, "control" included); without one it is refused.
caf::actor spawn_control_front(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                               std::weak_ptr<control::server> endpoint = {},
                               caf::actor reloader = {});

} // namespace faultd
