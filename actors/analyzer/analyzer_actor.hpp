#pragma once

// The analyzer actor (the seed's Fault Analyzer). It owns one
// analysis::analyzer (src/analyzer/analyzer.hpp: dedup, flapping,
// correlation, impact scope — plain logic) and does the actor's part:
// persisting what changed, raising alerts, telling the recovery manager
// about root incidents, ticking, answering inject.
//
// Interface:
//   (event_atom, fault_event) -> void                 a detector's report
//   (inject_atom, fault_event) -> (std::string event_id, std::string incident_id)
//        replied only after the event and its incident are stored
//   (recovery_atom, std::string incident_id, std::string strategy,
//    std::vector<action_execution>) -> void            no execution (no strategy)
//   (recovery_atom, recovery_execution) -> void        an execution's progress
//   (caf::get_atom) -> uint64_t                       events taken so far
//   (tick_atom) -> void                               internal: every second
// Sends: (persist_atom, events, incidents) to "storage", (alert_atom, alert)
// to "alerting", (opened_atom | closed_atom, incident) to "recovery".
//
// On start it restores the open incidents from storage, so a restarted node
// (or a restarted analyzer) keeps folding events into the incidents it had.

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_analyzer_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
