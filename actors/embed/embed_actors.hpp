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
// weakly (node_link): after the node stops they drop events and answer
// requests with an error.

#include <atomic>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "faultd/interfaces.hpp"

namespace faultd {

/// What the actors beside the tree reach the node through: its context
/// while it runs (`running` turns false before the node stops).
struct node_link {
  std::weak_ptr<node_context> ctx;
  std::shared_ptr<std::atomic<bool>> running = std::make_shared<std::atomic<bool>>(true);
  /// The context, or null once the node stops.
  std::shared_ptr<node_context> get() const { return *running ? ctx.lock() : nullptr; }
};

fault_intake_actor spawn_fault_intake(caf::actor_system& sys, node_link link);

recovery_state_actor spawn_recovery_state(caf::actor_system& sys, node_link link);

} // namespace faultd
