#pragma once

// Embedding a faultd node in a CAF application (CAF 0.17.6).
//
//   caf::actor_system_config caf_cfg;
//   faultd::prepare_actor_system(caf_cfg, cfg);   // loads the modules faultd needs
//   caf::actor_system sys{caf_cfg};
//   faultd::node_extensions ext;
//   ext.checks["queue_depth"] = my_probe;          // a check type of its own
//   ext.actions["drain_queue"] = my_executor;      // an action type of its own
//   auto cfg = faultd::parse_config(yaml, "app.yaml", ext.names());
//   std::unique_ptr<faultd::embedded_node> node;
//   if (auto st = faultd::embedded_node::start(sys, *cfg.value, ext, node); !st.ok()) ...
//   caf::anon_send(node->intake(), faultd::event_atom::value, fault);
//   node->subscribe(sys.spawn(my_listener));        // a typed incident_listener_actor
//
// Modules: the actor system must have loaded caf::io::middleman (always),
// and libcaf_openssl when the config sets cluster.tls. prepare_actor_system
// loads both as needed and sets the TLS files; an application that makes
// its config itself loads them the same way before making the system.
//
// One node per process: a node owns process-wide things (the services it
// starts, the commands its checks run). It makes the process a child
// subreaper (prctl PR_SET_CHILD_SUBREAPER) so that a managed service's
// orphaned descendants stay its own; descendants of the application's own
// children that are orphaned become the application's to reap as well. Its threads are the actor system's
// plus one process supervisor thread; detectors and recovery actions block
// only on their own detached threads, never on the application's scheduler.
// The node's logs go to spdlog loggers named after its parts ("node",
// "analyzer", ...) on stderr; faultd/log.hpp sets their level and adds a
// file.
//
// The example in examples/embed/ builds against the installed package:
// find_package(faultd) and target_link_libraries(app PRIVATE faultd::runtime).

#include <map>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "faultd/action.hpp"
#include "faultd/check.hpp"
#include "faultd/config.hpp"
#include "faultd/error.hpp"
#include "faultd/interfaces.hpp"

namespace faultd {

/// What an application adds to a node before it starts.
struct node_extensions {
  /// Executors of its own action types, by name: a strategy's `type:` may
  /// name them (with names() in the parse options). Each runs on a worker
  /// thread with a deadline, retried and rolled back like the built-in ones
  /// (faultd/action.hpp).
  std::map<std::string, std::shared_ptr<actions::action_executor>> actions;
  /// Its own check types (detectors), by name: a service's check `type:`
  /// may name them; the check's `parameters:` reach the function. Each runs
  /// on the check's own thread every `interval` (faultd/check.hpp), its
  /// results turned into faults by the same thresholds as tcp or http.
  std::map<std::string, checks::check_function> checks;

  /// Parse options that accept these names in a config (on top of `base`).
  parse_options names(parse_options base = {}) const;
};

/// Loads what `cfg` needs into a CAF config before its actor system is
/// made: the middleman, and libcaf_openssl with the node's certificate, key
/// and CA when cluster.tls is set (mutual authentication; never the
/// anonymous ciphers CAF falls back to without certificates).
void prepare_actor_system(caf::actor_system_config& caf_cfg, const config& cfg);

/// A faultd node running in an application's actor system: the whole
/// supervision tree (detectors, analyzer, recovery, alerting, storage,
/// state sync, control endpoint, and the peer port if configured), exactly
/// what the faultd program runs.
class embedded_node {
public:
  /// Starts the node: the tree, the control endpoint (faultctl works against
  /// it, except `reload`: an embedded node runs the config it started with),
  /// the peer port and cluster join if configured, then the managed
  /// services; returns once the analyzer takes faults. A config naming an
  /// action or check type that `ext` does not serve, a bad name in `ext`, an
  /// unusable data dir, an endpoint in use, or a node already running in
  /// this process refuse the start: then nothing keeps running and the
  /// status says why. Blocks (joining a cluster takes up to a few seconds):
  /// call it from a thread of the application, never from inside an actor.
  static status start(caf::actor_system& sys, const config& cfg, const node_extensions& ext,
                      std::unique_ptr<embedded_node>& out);

  /// Stops the node (stop()).
  ~embedded_node();
  embedded_node(const embedded_node&) = delete;
  embedded_node& operator=(const embedded_node&) = delete;

  /// Stops the node: endpoints first, then the tree, then its managed
  /// services (their stop signal, SIGKILL after their grace). Idempotent.
  /// Afterwards intake() and recovery_state() answer requests with an
  /// error ("the faultd node has stopped") until the embedded_node is
  /// destroyed. Like start(), it blocks: call it from a thread of the
  /// application, never from inside an actor.
  void stop();

  /// Where the application's detectors send faults (see fault_intake_actor).
  fault_intake_actor intake() const;

  /// Circuit states and degradation levels (see recovery_state_actor).
  recovery_state_actor recovery_state() const;

  /// `listener` hears every incident change from now on (see
  /// incident_listener_actor), until it terminates, unsubscribe, or the node
  /// stops. It must run in this process (incidents are never serialized).
  status subscribe(const incident_listener_actor& listener);
  void unsubscribe(const incident_listener_actor& listener);

  /// The config the node runs.
  const config& running_config() const;

  struct impl;

private:
  explicit embedded_node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace faultd
