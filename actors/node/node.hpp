#pragma once

// One faultd node: the actors of DESIGN.md's pipeline under a supervision
// tree, spawned in an existing caf::actor_system (faultd's main, or an
// embedding application).
//
//   sup:node (one_for_one)
//   ├── sup:storage    (one_for_one)  storage
//   ├── sup:alerting   (one_for_one)  alerting
//   ├── sup:analysis   (one_for_one)  analyzer
//   ├── sup:recovery   (one_for_one)  recovery (incident supervisors beneath it)
//   ├── sup:detectors  (one_for_one)  services, resources, security, check:<service>:<check>...
//   └── sup:control    (one_for_one)  control
//
// Objects that must outlive any actor (the sqlite store, the process
// supervisor, the health board, the registry, the circuit board, the
// executors) belong to the node context; a restarted actor picks them up
// again. The control port is served by a front actor that forwards to the
// current "control", so crashing control does not close the port.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "faultd/config.hpp"
#include "faultd/error.hpp"

namespace faultd {

namespace storage {
class store;
}

struct node_runtime {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<storage::store> db;
  caf::actor root;   ///< sup:node
  caf::actor front;  ///< published on the control port
  uint16_t port = 0; ///< the control port actually bound
  /// After stop_node: recovery actions still running on their worker
  /// threads (executors that ignore their deadline). Their owner exits the
  /// process without waiting for them (std::_Exit after flushing logs).
  size_t workers_left = 0;
};

/// Builds the node context, starts the supervision tree and the managed
/// services, and publishes the control front on cfg.node.listen. On failure
/// nothing keeps running and the status says why (database unusable, port
/// in use, ...).
status start_node(caf::actor_system& sys, const config& cfg, node_runtime& out);

/// Stops the node: the control port first, then the tree in reverse start
/// order (control, detectors, recovery, analysis, alerting, storage), then
/// the managed services (SIGTERM, SIGKILL after their grace), then waits up
/// to 1 s for recovery actions still running on worker threads. Returns when
/// all of it has stopped (see workers_left).
void stop_node(caf::actor_system& sys, node_runtime& node);

} // namespace faultd
