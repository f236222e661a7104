#pragma once

// failover: moves a service to its backup node.
//
// For a service with a home node (`node:`), the move is a placement
// (state/placement.hpp): placement/<service> = "epoch=E+1 node=<backup>"
// and primary/<service> = <backup> in the replicated registry; every node
// follows the placement, so the backup starts the service and the home
// stops its copy as soon as each sees it. A promotion needs a quorum of the
// cluster's members alive (cluster.quorum, default a majority), so the
// minority side of a partition promotes nothing ("no quorum").
//
// The target is a service, or a dead node ("node:<id>", the component of a
// membership fault): then every service that node runs and whose backup is
// this node is moved here (each backup node takes over its own share, so
// two survivors never both promote the same service).
//
// For a service without a home node only primary/<service> is written (an
// application reads it to pick its endpoint).

#include <functional>
#include <string>

#include "actions/executor.hpp"
#include "faultd/config.hpp"
#include "state/registry.hpp"

namespace faultd::actions {

/// Whether a node can take over now (cluster membership says it is alive).
using node_reachable_fn = std::function<bool(const std::string& node)>;

/// What the membership says about the cluster right now.
struct cluster_view {
  std::string self;   ///< this node's id
  size_t alive = 0;   ///< members alive, this node included
  size_t known = 0;   ///< members not `left`, this node included
  uint32_t quorum = 0; ///< cluster.quorum (0 = majority of `known`)
};
using cluster_view_fn = std::function<cluster_view()>;

/// The registry key naming a service's primary node.
std::string primary_key(const std::string& service);

/// faultctl failback: places `service` (one with a home node) back on its
/// home with the next epoch. Fails (nothing written) when it has no home
/// node, already runs there, the home is not alive, or there is no quorum.
/// `detail` says what was done.
status failback(const config& cfg, state::registry& reg, const node_reachable_fn& reachable,
                const cluster_view_fn& cluster, const std::string& service, std::string& detail);

/// Executes failover actions.
///
/// The backup node is parameters["backup_node"], else the target service's
/// configured backup_node. None: errc::bad_request "no backup node
/// configured for X". Backup not reachable: errc::unavailable "backup node
/// Y is not reachable: ..." — on a node without cluster membership (an
/// empty `reachable`) every failover fails this way rather than promoting a
/// node nobody has seen. Without quorum: errc::unavailable "no quorum: ...".
class failover_executor final : public action_executor {
public:
  /// `reg` and `cfg` must outlive the executor. An empty `reachable` means
  /// no node is reachable (single-node mode); an empty `cluster` means no
  /// quorum check (and no placement by node target).
  failover_executor(const config& cfg, state::registry& reg, node_reachable_fn reachable = {},
                    cluster_view_fn cluster = {});

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  action_result take_over_from(const std::string& dead, const action_context& ctx);

  const config& cfg_;
  state::registry& reg_;
  node_reachable_fn reachable_;
  cluster_view_fn cluster_;
};

} // namespace faultd::actions
