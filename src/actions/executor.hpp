#pragma once

// Recovery action executors: the code that carries out one action of a
// recovery strategy (restart a service, degrade it, open its circuit, ...).
//
// The incident supervisor (actors/recovery) calls an executor synchronously
// on its own detached thread, once per attempt, with a deadline; it owns
// retries, backoff, journaling and the order of rollbacks. An executor acts
// for real, returns within (about) the deadline, and reports what it did in
// an action_result, including what its rollback needs to undo it.
//
// Embedding applications register their own executors for an action type in
// the executor_registry, replacing the built-in one.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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

/// The executors by action type. Thread-safe.
class executor_registry {
public:
  /// Registers `ex` for `type`, replacing any executor registered before
  /// (this is how an embedding application plugs in its own). A null `ex`
  /// unregisters the type.
  void add(action_type type, std::shared_ptr<action_executor> ex);

  /// Registers `ex` for the custom action type `name` (what a strategy's
  /// `type:` says; see check_custom_action_name). Register before the node
  /// starts: the journal's unfinished executions resume at start.
  status add_custom(const std::string& name, std::shared_ptr<action_executor> ex);

  /// The executor for `type`, or nullptr. The pointer stays valid for the
  /// registry's lifetime even if the type is later re-registered (replaced
  /// executors are kept alive until the registry is destroyed).
  action_executor* find(action_type type) const;

  /// Like find(), but shares ownership.
  std::shared_ptr<action_executor> get(action_type type) const;
  /// The executor for an action: its built-in type's, or its custom type's.
  std::shared_ptr<action_executor> get(const recovery_action& a) const;

private:
  void add_named(const std::string& name, std::shared_ptr<action_executor> ex);
  std::shared_ptr<action_executor> get(const std::string& name) const;

  mutable std::mutex mtx_;
  std::map<std::string, std::shared_ptr<action_executor>> executors_;
  std::vector<std::shared_ptr<action_executor>> retired_;
};

/// Whether `name` may name a custom action type: 1-64 letters, digits, `_`
/// and `-`, and not a built-in type's (nor "custom"); else why not.
status check_custom_action_name(const std::string& name);

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
