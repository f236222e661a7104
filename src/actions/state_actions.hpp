#pragma once

// The recovery actions on the replicated state (replica/, the state-sync
// actor): `state_sync` forces an anti-entropy exchange with every alive
// member; `data_restore` makes keys what a snapshot holds, after taking a
// snapshot of how they are now, which its rollback restores.
//
// Parameters of data_restore: `snapshot` (an id from `faultctl state
// snapshots`; default `latest`, the newest), `prefix` (only keys under it;
// default every key).

#include <chrono>
#include <functional>
#include <string>

#include "actions/executor.hpp"

namespace faultd::actions {

/// How the executors reach the node's state-sync actor (set by the node:
/// each call asks the actor and waits for its answer, at most until the
/// deadline).
struct state_access {
  using deadline = std::chrono::steady_clock::time_point;
  /// Starts an exchange with every alive peer; how many there are.
  std::function<status(deadline, uint64_t& peers)> sync;
  /// Records the live keys as a snapshot; its id.
  std::function<status(deadline, std::string& id)> snapshot;
  /// The newest snapshot's id (not_found if there is none).
  std::function<status(deadline, std::string& id)> latest;
  /// Restores snapshot `id` under `prefix`; one line of what changed.
  std::function<status(const std::string& id, const std::string& prefix, deadline,
                       std::string& note)>
    restore;
};

class state_sync_executor final : public action_executor {
public:
  explicit state_sync_executor(state_access access) : access_(std::move(access)) {}
  action_result execute(const recovery_action& a, const action_context& ctx) override;
  /// Nothing to undo: an exchange only brings nodes to the newest writes.
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  state_access access_;
};

class data_restore_executor final : public action_executor {
public:
  explicit data_restore_executor(state_access access) : access_(std::move(access)) {}
  action_result execute(const recovery_action& a, const action_context& ctx) override;
  /// Restores the snapshot execute() took before it restored.
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  state_access access_;
};

} // namespace faultd::actions
