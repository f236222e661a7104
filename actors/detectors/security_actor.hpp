#pragma once

// The security detector: every fault_detection.security.interval it re-hashes
// the watched files (SHA-256; a change is a critical security_violation) and
// checks the configured TLS certificates' expiry (src/checks/security.hpp),
// on its own thread.
//
// Interface:
//   (tick_atom) -> void   internal timer
// Sends (event_atom, fault_event) to the analyzer.

#include <caf/fwd.hpp>

#include "faultd/config.hpp"

namespace faultd {

caf::actor spawn_security_actor(caf::actor_system& sys, const config& cfg, caf::actor analyzer);

} // namespace faultd
