#pragma once

// The actors an embedding application talks to (faultd/embed.hpp), behind
// the typed interfaces of faultd/interfaces.hpp:
//
//   fault intake      (event_atom, fault_event)            -> analyzer
//                     (inject_atom, fault_event) -> (event id, incident id)
//   recovery state    (circuit_atom, target)     -> closed | open | half_open
//                     (degrade_atom, service)    -> its level
//
// They stand outside the supervision tree, so the handles the application
// holds stay valid while the node's actors crash and restart: they look the
// node's actors up by name at each message. They hold the node context
// weakly: after the node stops they drop events and answer requests with an
// error.

#include <map>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "faultd/interfaces.hpp"

namespace faultd {

fault_intake_actor spawn_fault_intake(caf::actor_system& sys, std::weak_ptr<node_context> ctx);

/// `default_levels`: each service's level when no recovery changed it (from
/// the config the node started with).
recovery_state_actor spawn_recovery_state(caf::actor_system& sys, std::weak_ptr<node_context> ctx,
                                          std::map<std::string, std::string> default_levels);

} // namespace faultd
