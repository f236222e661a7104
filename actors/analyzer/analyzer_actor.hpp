#pragma once

// The analyzer actor (the seed's Fault Analyzer). It owns one
// analysis::analyzer (src/analyzer/analyzer.hpp: dedup, flapping,
// correlation, impact scope — plain logic) and does the actor's part:
// persisting what changed, raising alerts, ticking, answering inject.
//
// Interface:
//   (event_atom, fault_event) -> void                 a detector's report
//   (inject_atom, fault_event) -> (std::string event_id, std::string incident_id)
//        replied only after the event and its incident are stored
//   (tick_atom) -> void                               internal: every second
//
// On start it restores the open incidents from storage, so a restarted node
// keeps folding events into the incidents it had.

#include <caf/fwd.hpp>

#include "faultd/config.hpp"

namespace faultd {

caf::actor spawn_analyzer_actor(caf::actor_system& sys, const config& cfg, caf::actor storage,
                                caf::actor alerting);

} // namespace faultd
