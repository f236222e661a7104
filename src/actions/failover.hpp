#pragma once

// failover: moves a service's active role to its backup node by writing
// registry key "primary/<service>" = <backup node>.

#include <functional>
#include <string>

#include "actions/executor.hpp"
#include "faultd/config.hpp"
#include "state/registry.hpp"

namespace faultd::actions {

/// Whether a node can take over now (cluster membership says it is alive
/// and within quorum).
using node_reachable_fn = std::function<bool(const std::string& node)>;

/// The registry key naming a service's primary node.
std::string primary_key(const std::string& service);

/// Executes failover actions.
///
/// The backup node is parameters["backup_node"], else the target service's
/// configured backup_node. None: errc::bad_request "no backup node
/// configured for X". Backup not reachable: errc::unavailable "backup node
/// Y is not reachable: ..." — on a node without cluster membership (the
/// default `reachable`, always false) every failover fails this way rather
/// than promoting a node nobody has seen. Reachable: "primary/<target>" = Y;
/// rollback_data is the previous primary ("" = none: rollback erases it).
class failover_executor final : public action_executor {
public:
  /// `reg` and `cfg` must outlive the executor. An empty `reachable` means
  /// no node is reachable (single-node mode).
  failover_executor(const config& cfg, state::registry& reg, node_reachable_fn reachable = {});

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  const config& cfg_;
  state::registry& reg_;
  node_reachable_fn reachable_;
};

} // namespace faultd::actions
