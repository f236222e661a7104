#pragma once

// A check actor runs one health check of one service (src/checks:
// tcp/http/exec) every `interval`, on its own thread (detached: a check
// blocks for up to its timeout). A health_tracker applies the hysteresis;
// only transitions become fault events (unhealthy -> the check's fault type
// and severity; healthy again -> the same fault cleared).
//
// Each result goes to the node's health board (state/health.hpp). When the
// board's generation for the service changes (a restart reset it), the
// actor forgets its hysteresis and checks again at once.
//
// Interface:
//   (tick_atom) -> void      internal timer
//   (recheck_atom) -> void   run once now (after a reset)
// Sends (event_atom, fault_event) to the analyzer on each transition.

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "faultd/config.hpp"

namespace faultd {

caf::actor spawn_check_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                             const std::string& service, const check_config& check);

} // namespace faultd
