#pragma once

// restart_service: restarts a managed service and waits until it is healthy
// again, or runs the action's own command for a service faultd does not
// manage.

#include "actions/executor.hpp"
#include "faultd/config.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"

namespace faultd::actions {

/// Executes restart_service actions.
///
/// - Target managed (the config has it with a non-empty command):
///   health.reset(target), supervisor.restart(target), wait for the restart
///   to complete, then wait until every check of the target passes (a
///   service without checks is healthy once running) — all by the deadline.
///   Errors: errc::timeout "restart of X did not complete within ..." and
///   "X restarted but its checks did not pass within ...: <check>: <error>";
///   whatever the supervisor reports when the restart fails.
/// - Target not managed but parameters["command"] is set: runs it as
///   `/bin/sh -c COMMAND` (checks::run_exec_check semantics: own process
///   group, killed at the deadline); exit status 0 is success.
/// - Neither: errc::bad_request.
///
/// A restart cannot be undone: rollback() is a no-op that returns ok.
class restart_service_executor final : public action_executor {
public:
  /// All three must outlive the executor.
  restart_service_executor(const config& cfg, process::supervisor& supervisor,
                           state::health_board& health);

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  action_result restart_managed(const std::string& target, const action_context& ctx);
  action_result run_command(const std::string& target, const std::string& command,
                            const action_context& ctx);

  const config& cfg_;
  process::supervisor& supervisor_;
  state::health_board& health_;
};

} // namespace faultd::actions
