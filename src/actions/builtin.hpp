#pragma once

// Registers faultd's own executors for every action type.

#include "actions/circuit_board.hpp"
#include "actions/executor.hpp"
#include "actions/failover.hpp"
#include "actions/state_actions.hpp"
#include "faultd/config.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"
#include "state/registry.hpp"

namespace faultd::actions {

/// What the built-in executors act on. Everything pointed to must outlive
/// the registry the executors go into.
struct builtin_deps {
  const config* cfg = nullptr;
  process::supervisor* supervisor = nullptr;
  state::registry* registry = nullptr;
  state::health_board* health = nullptr;
  circuit_board* circuits = nullptr;
  /// Whether a backup node can take over (failover); empty = single node.
  node_reachable_fn reachable;
  /// The cluster's members now (failover's quorum); empty = no check.
  cluster_view_fn cluster;
  /// The replicated state (state_sync, data_restore); unset = unavailable.
  state_access state;
};

/// Registers (replacing) the built-in executor of each action type:
/// restart_service (needs cfg, supervisor, health), service_degradation
/// (cfg, registry), circuit_breaker (circuits), failover (cfg, registry),
/// load_balancing (registry), state_sync and data_restore (state; without
/// it an unavailable_executor that fails honestly). A type whose dependencies are missing is left unregistered
/// (logged), so the caller sees find() == nullptr rather than a crash.
void register_builtin_executors(executor_registry& reg, const builtin_deps& deps);

} // namespace faultd::actions
