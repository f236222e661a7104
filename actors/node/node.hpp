#pragma once

// One faultd node: the actors of DESIGN.md's pipeline, spawned in an
// existing caf::actor_system (faultd's main, or an embedding application).
//
//   detectors (services+checks, resources, security) --fault_event--> analyzer
//   analyzer --incidents/events--> storage;  analyzer --alert--> alerting --> storage
//   control (published on node.listen) --> services, storage, analyzer
//
// Supervision trees (restart strategies per subtree) come with the recovery
// issue; until then a crashed actor is logged by the node's monitor.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "faultd/config.hpp"
#include "faultd/error.hpp"

namespace faultd {

struct node_runtime {
  caf::actor storage;
  caf::actor alerting;
  caf::actor analyzer;
  caf::actor services;
  caf::actor resources;
  caf::actor security;
  caf::actor control;
  caf::actor monitor;
  uint16_t port = 0; ///< the control port actually bound
};

/// Spawns every actor of a node and publishes the control actor on
/// cfg.node.listen. On failure nothing keeps running and the status says why
/// (database unusable, port in use, ...).
status start_node(caf::actor_system& sys, const config& cfg, node_runtime& out);

/// Stops the node: control first (no new requests), then detectors and
/// managed services (SIGTERM, SIGKILL after their grace), then analysis and
/// storage. Returns when every actor of the node has terminated.
void stop_node(caf::actor_system& sys, node_runtime& node);

} // namespace faultd
