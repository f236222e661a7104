#pragma once

// The security detector: every fault_detection.security.interval it re-hashes
// the watched files (SHA-256; a change is a critical security_violation) and
// checks the configured TLS certificates' expiry (src/checks/security.hpp),
// on its own thread.
//
// Interface:
//   (tick_atom) -> void   internal timer
// Sends (event_atom, fault_event) to the analyzer.

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_security_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
