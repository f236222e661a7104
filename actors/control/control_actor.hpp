#pragma once

// The control actor: a node's front door for faultctl and other clients. It
// is published on the node's --listen address.
//
// Interface (remote):
//   (ctl_atom, std::string ControlRequest bytes) -> std::string ControlResponse bytes
// Anything else that arrives (a message of another shape, bytes that do not
// decode) is dropped, counted in malformed_dropped and logged; the node goes on.
//
// It answers from the actors that own the data: services (service_actor),
// faults/incidents (storage_actor), inject (analyzer_actor), strategies
// (the config).

#include <map>
#include <string>

#include <caf/fwd.hpp>

#include "faultd/config.hpp"

namespace faultd {


/// Spawns the control actor. `cfg` is copied (node id, address, strategies).
caf::actor spawn_control_actor(caf::actor_system& sys, const config& cfg, caf::actor services,
                               caf::actor storage, caf::actor analyzer);

} // namespace faultd
