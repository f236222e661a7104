#pragma once

// The resource detector: samples CPU, memory, disk, load and open fds
// (src/checks/resources.hpp) every fault_detection.resources.interval on its
// own thread, and reports resource_exhaustion faults (and their clearing)
// through the thresholds' hysteresis.
//
// Interface:
//   (tick_atom) -> void   internal timer
// Sends (event_atom, fault_event) to the analyzer.
// When resources are disabled in the config the actor idles.

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_resource_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
