#pragma once

// What a recovery action executor is: the code that carries out one action
// of a recovery strategy. faultd's own (restart_service, failover, ...) and
// an embedding application's (faultd/embed.hpp, node_extensions::actions) are
// called the same way: synchronously, on a worker thread of the node, once
// per attempt, with a deadline. The incident supervisor owns retries,
// backoff, the journal and the order of rollbacks.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

namespace faultd::actions {

/// What an executor knows about the call besides the action itself.
struct action_context {
  std::string incident_id;
  /// The incident's component: what placeholder targets resolve to.
  std::string component;
  /// The call must return by then (the action's timeout, cut to what is
  /// left of the strategy's).
  std::chrono::steady_clock::time_point deadline;
  /// When the fault was first observed (the incident's opened_at); unset if
  /// unknown. restart_service does not restart a service that was already
  /// started again after this (by its restart policy) and is running.
  std::optional<timestamp> fault_since;
  /// Which attempt of the action this is (1 = the first try).
  uint32_t attempt = 1;
};

/// How one execution went.
struct action_result {
  status st;
  /// What rollback() needs to undo the action (e.g. the previous level);
  /// opaque to the caller, which journals it and passes it back. For the
  /// built-in executors that store a previous registry value, "" means the
  /// key did not exist before (rollback erases it).
  std::string rollback_data;
  /// One line of what was done, for logs and faultctl.
  std::string note;
};

/// Carries out actions of one type. Implementations must be thread-safe:
/// several incidents may run actions of the same type at once.
class action_executor {
public:
  virtual ~action_executor();
  /// Performs `a` for the incident in `ctx`, returning by ctx.deadline.
  virtual action_result execute(const recovery_action& a, const action_context& ctx) = 0;
  /// Undoes a successful execute() whose result carried `rollback_data`.
  virtual status rollback(const recovery_action& a, const action_context& ctx,
                          const std::string& rollback_data) = 0;
};

/// The service (or other component) an action acts on.
///
/// A strategy is written once for many incidents, so its targets may be
/// placeholders that stand for the incident's component: "" (no target),
/// "${component}", and the seed config's names "service_name",
/// "overloaded_service", "network_service" and "backup_endpoint". Those
/// resolve to ctx.component; any other target is taken literally.
std::string resolve_target(const recovery_action& a, const action_context& ctx);

/// Time left until ctx.deadline (zero if it has passed).
std::chrono::nanoseconds time_left(const action_context& ctx);

/// parameters[key] if present and non-empty, else "".
std::string parameter(const recovery_action& a, const std::string& key);

} // namespace faultd::actions
