#pragma once

// What the actors of one node share: the config, the directory that names
// the current incarnation of every supervised actor, and the thread-safe
// objects that outlive any single actor (so a crashed and restarted actor
// loses nothing): the process supervisor, the health board, the registry,
// the circuit board, the executor registry and the action workers.
//
// Actors never keep another actor's handle for long: they look it up by
// name in the directory when they send (send_to), so a message goes to the
// incarnation that is alive now.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>

#include "actors/supervision/directory.hpp"
#include "faultd/check.hpp"
#include "faultd/config.hpp"
#include "faultd/interfaces.hpp"

namespace faultd {

namespace process {
class supervisor;
}
namespace state {
class health_board;
class registry;
class maintenance_set;
} // namespace state
namespace control {
class server;
}
namespace membership {
class member_board;
}
namespace metrics {
class hub;
}

namespace actions {
struct cluster_view;
class circuit_board;
class executor_registry;
class action_workers;
} // namespace actions

/// The actors an embedding application subscribed to incident changes
/// (embedded_node::subscribe). Thread-safe.
class incident_listeners {
public:
  void add(const incident_listener_actor& a) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (std::find(list_.begin(), list_.end(), a) == list_.end())
      list_.push_back(a);
  }
  void remove(const caf::actor_addr& a) {
    std::lock_guard<std::mutex> guard{mtx_};
    list_.erase(std::remove_if(list_.begin(), list_.end(),
                               [&](const incident_listener_actor& x) { return x.address() == a; }),
                list_.end());
  }
  /// Sends `x` to every listener.
  void notify(const incident& x) const {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& a : list_)
      caf::anon_send(a, incident_atom::value, x);
  }

private:
  mutable std::mutex mtx_;
  std::vector<incident_listener_actor> list_;
};

struct node_context {
  config cfg;
  /// When the node started (uptime survives actor restarts and reloads).
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::shared_ptr<actor_directory> dir;
  std::shared_ptr<process::supervisor> processes;
  std::shared_ptr<state::health_board> health;
  std::shared_ptr<state::registry> registry;
  std::shared_ptr<actions::circuit_board> circuits;
  std::shared_ptr<actions::executor_registry> executors;
  /// The threads recovery actions run on (they outlive incident supervisors).
  std::shared_ptr<actions::action_workers> workers;
  /// Services in maintenance: no recovery, no alerts.
  std::shared_ptr<state::maintenance_set> maintenance;
  /// The cluster's members as the membership actor sees them (always set;
  /// a node without a peer port lists only itself).
  std::shared_ptr<membership::member_board> members;
  /// Prometheus metrics and the node's heartbeat (always set; served only
  /// with metrics.listen).
  std::shared_ptr<metrics::hub> metrics;
  /// The control endpoint (for its counters in `status`); set once it runs.
  std::weak_ptr<control::server> endpoint;
  /// An embedding application's check types, by name (set before the tree
  /// starts, never changed after).
  std::map<std::string, checks::check_function> custom_checks;
  /// Who hears about incident changes (always set).
  std::shared_ptr<incident_listeners> listeners = std::make_shared<incident_listeners>();

  /// The current incarnation of a named actor (invalid if none).
  caf::actor lookup(const std::string& name) const { return dir->get(name); }

  /// Sends to the current incarnation of `name`. While it has none (it
  /// crashed and is being restarted), the message is held for the next one
  /// (actor_directory::send_or_hold): a detector's event is not lost to an
  /// analyzer restart. False only if the message had to be dropped.
  template <class... Ts>
  bool send_to(const std::string& name, Ts&&... xs) const {
    return dir->send_or_hold(name, caf::make_message(std::forward<Ts>(xs)...));
  }

  /// Sends only if `name` runs now; false (nothing held) otherwise.
  template <class... Ts>
  bool send_if_running(const std::string& name, Ts&&... xs) const {
    auto a = lookup(name);
    if (!a)
      return false;
    caf::anon_send(a, std::forward<Ts>(xs)...);
    return true;
  }

  /// The storage actor for an actor that loads its state at start: if
  /// storage is not up yet (subtrees start concurrently), `retry` is sent
  /// to `self` again in 2 ms and the result is invalid.
  template <class Self, class Atom>
  caf::actor storage_or_retry(Self* self, Atom retry) const {
    auto storage = lookup("storage");
    if (!storage)
      self->delayed_send(self, std::chrono::milliseconds(2), retry);
    return storage;
  }

  /// Feeds a check result into the service's circuit breaker.
  void check_result(const std::string& service, bool ok) const;

  /// A fault event this node's detector `source` observes now: a fresh id,
  /// the time, this node, and `message` in its details (`clears`: it is
  /// over).
  fault_event make_fault(fault_type type, fault_severity severity, std::string component,
                         std::string source, std::string message, bool clears = false) const;
};

/// What the membership says now, for quorum checks (failover, failback).
actions::cluster_view cluster_view_of(const node_context& ctx);

/// actions::failback against this node's config, registry and membership
/// (faultctl failback, and `failback: auto`).
status failback_service(const std::shared_ptr<node_context>& ctx, const std::string& service,
                        std::string& detail);

} // namespace faultd
