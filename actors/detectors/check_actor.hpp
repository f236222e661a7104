#pragma once

// A check actor runs one health check of one service (src/checks:
// tcp/http/exec) every `interval`, on its own thread (detached: a check
// blocks for up to its timeout). A health_tracker applies the hysteresis;
// only transitions become fault events (unhealthy -> the check's fault type
// and severity; healthy again -> the same fault cleared).
//
// Interface:
//   (tick_atom) -> void   internal timer
// Sends:
//   (health_atom, service, check_status) to the service actor after each run
//   (event_atom, fault_event) to the analyzer on each transition

#include <string>

#include <caf/fwd.hpp>

#include "faultd/config.hpp"

namespace faultd {

caf::actor spawn_check_actor(caf::actor_system& sys, const std::string& node_id,
                             const std::string& service, const check_config& check,
                             caf::actor services, caf::actor analyzer);

} // namespace faultd
