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
// The executor interface is public (include/faultd/action.hpp): embedding
// applications register their own executors, for a built-in type (replacing
// it) or for a type of their own by name.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "faultd/action.hpp"
#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

namespace faultd::actions {

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

} // namespace faultd::actions
