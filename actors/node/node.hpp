#pragma once

// One faultd node: the actors of the pipeline (docs/ARCHITECTURE.md) under a
// supervision tree, spawned in an existing caf::actor_system (faultd's main, or an
// embedding application through faultd/embed.hpp, prepare_actor_system and
// node_extensions included).
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
// again.
//
// Two endpoints, two jobs (README, "Ports and trust"):
// - control (faultctl): src/control/server.hpp serves the framed protocol on
//   node.control (default unix:<data_dir>/control.sock) and hands requests
//   to a front actor that forwards them to the current "control", so
//   crashing control does not close the endpoint;
// - peers: node.listen, CAF's BASP, opened only when configured (BASP trusts
//   its peer and never faces faultctl).

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "faultd/config.hpp"
#include "faultd/embed.hpp"
#include "faultd/error.hpp"
#include "metrics/endpoint.hpp"

namespace faultd {

namespace storage {
class store;
}
namespace control {
class server;
struct reload_summary;
}

class service_starter;
struct membership_runtime;

struct node_runtime {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<storage::store> db;
  caf::actor root;   ///< sup:node
  caf::actor front;  ///< takes the control endpoint's requests
  std::shared_ptr<control::server> control; ///< the control endpoint
  caf::actor peer;   ///< published on the peer port (when there is one)
  uint16_t port = 0; ///< the peer port actually bound (0: none)
  /// Membership's table and connector (when there is a peer port).
  std::shared_ptr<membership_runtime> cluster;
  /// Starts services in depends_on order (a thread, while any waits).
  std::shared_ptr<service_starter> starter;
  /// /metrics and /healthz (metrics.listen), and the actor that beats the
  /// node's heartbeat every second.
  std::unique_ptr<metrics::endpoint> metrics;
  caf::actor heartbeat;
  /// After stop_node: recovery actions still running on their worker
  /// threads (executors that ignore their deadline). Their owner exits the
  /// process without waiting for them (std::_Exit after flushing logs).
  size_t workers_left = 0;
};

/// Builds the node context, starts the supervision tree, opens the control
/// endpoint (and the peer port, if configured, then joins the cluster through
/// its seeds: an id the cluster already has refuses the node), then starts
/// the managed services. On failure nothing keeps running and the status says why
/// (database unusable, endpoint in use, token file unreadable, ...).
/// `reloader`, if given, answers (reload_atom) -> reply bytes for faultctl
/// reload (faultd's main thread, which calls reload_node).
status start_node(caf::actor_system& sys, const config& cfg, node_runtime& out,
                  caf::actor reloader = {}, const node_extensions& ext = {});

/// Applies a re-read config (SIGHUP, faultctl reload): the actor tree is
/// stopped and started again on it; services whose process config is
/// unchanged keep running untouched, changed ones are restarted, added ones
/// started (in depends_on order), removed ones stopped. What cannot change
/// while running (node.*, cluster seeds, the database) is refused naming
/// the key, and so is a reload while a recovery action still runs; then
/// the running config stays. Call it from outside the actor system's
/// threads, never concurrently with itself or stop_node.
status reload_node(caf::actor_system& sys, node_runtime& node, const config& next,
                   control::reload_summary& out);

/// Stops the node: the control endpoint and the peer port first, then the tree in reverse start
/// order (control, detectors, recovery, analysis, alerting, storage), then
/// the managed services (SIGTERM, SIGKILL after their grace), then waits up
/// to 1 s for recovery actions still running on worker threads. Returns when
/// all of it has stopped (see workers_left).
void stop_node(caf::actor_system& sys, node_runtime& node);

} // namespace faultd
