#include "actions/restart_service.hpp"

#include <future>

#include "checks/health_check.hpp"
#include "faultd/log.hpp"

namespace faultd::actions {

namespace {

constexpr const char* no_rollback = "restart has no rollback";

action_result failure(errc code, std::string message) {
  action_result r;
  r.st = status{code, message};
  r.note = std::move(message);
  return r;
}

} // namespace

restart_service_executor::restart_service_executor(const config& cfg,
                                                   process::supervisor& supervisor,
                                                   state::health_board& health)
  : cfg_(cfg), supervisor_(supervisor), health_(health) {
}

action_result restart_service_executor::execute(const recovery_action& a,
                                                const action_context& ctx) {
  auto target = resolve_target(a, ctx);
  if (target.empty())
    return failure(errc::bad_request, "restart_service has no target");
  const auto* svc = cfg_.find_service(target);
  if (svc != nullptr && !svc->command.empty()) {
    // The restart policy is law for every strategy, built-in or not.
    if (svc->restart.policy == restart_policy::never)
      return failure(errc::bad_request, target + " has restart policy never: recovery does not "
                                                 "restart it (an operator's start does)");
    auto now = supervisor_.snapshot(target);
    if (svc->restart.policy == restart_policy::on_failure && now
        && now->state == process::service_state::exited && now->exit_code == 0)
      return failure(errc::bad_request, target + " completed (exit 0) and its restart policy "
                                                 "on-failure keeps it down");
    return restart_managed(target, ctx);
  }
  auto command = parameter(a, "command");
  if (!command.empty())
    return run_command(target, command, ctx);
  return failure(errc::bad_request,
                 target + " is not a managed service and the action has no command parameter");
}

action_result restart_service_executor::restart_managed(const std::string& target,
                                                        const action_context& ctx) {
  auto budget = human_duration(time_left(ctx));
  auto before = supervisor_.snapshot(target);
  int old_pid = before ? before->pid : 0;

  // Its restart policy already brought it back after the fault: restarting
  // it again would only cost another outage. Wait for its checks instead.
  // Only on the first attempt: a later one follows a restart that did not
  // help (maybe this action's own), so it really restarts.
  if (ctx.attempt <= 1 && before && ctx.fault_since
      && before->state == process::service_state::running && before->started_at
      && *before->started_at > *ctx.fault_since) {
    if (!health_.wait_healthy(target, ctx.deadline))
      return failure(errc::timeout, target + " was restarted by its restart policy (pid "
                                      + std::to_string(old_pid)
                                      + ") but its checks did not pass within " + budget);
    action_result r;
    r.note = target + " was already restarted by its restart policy (pid "
             + std::to_string(old_pid) + "), healthy; " + no_rollback;
    return r;
  }

  auto fut = supervisor_.restart(target);
  if (fut.wait_until(ctx.deadline) != std::future_status::ready)
    return failure(errc::timeout, "restart of " + target + " did not complete within " + budget);
  auto st = fut.get();
  if (!st) {
    action_result r;
    r.note = "restart of " + target + " failed: " + st.to_string();
    r.st = std::move(st);
    return r;
  }
  // Reset once the new process runs: "healthy" must come from a check of
  // the new process. A check that began against the old one finishes with
  // the old generation and is ignored.
  health_.reset(target);
  auto after = supervisor_.snapshot(target);
  int new_pid = after ? after->pid : 0;

  if (!health_.wait_healthy(target, ctx.deadline)) {
    std::string why;
    for (const auto& c : health_.checks(target)) {
      if (c.health == "healthy")
        continue;
      if (!why.empty())
        why += "; ";
      why += c.name + " " + c.health;
      if (!c.last_error.empty())
        why += ": " + c.last_error;
    }
    if (why.empty())
      why = "no check result";
    return failure(errc::timeout, target + " restarted (pid " + std::to_string(new_pid)
                                      + ") but its checks did not pass within " + budget + ": "
                                      + why);
  }
  log::get("actions")->info("service-restarted-by-action incident={} name={} old_pid={} pid={}",
                            ctx.incident_id, target, old_pid, new_pid);
  action_result r;
  r.note = "restarted " + target + " (pid " + std::to_string(old_pid) + " -> "
           + std::to_string(new_pid) + "), healthy; " + no_rollback;
  return r;
}

action_result restart_service_executor::run_command(const std::string& target,
                                                    const std::string& command,
                                                    const action_context& ctx) {
  auto left = time_left(ctx);
  if (left.count() <= 0)
    return failure(errc::timeout, "restart command for " + target + " not run: deadline passed");
  auto res = checks::run_exec_check({"/bin/sh", "-c", command}, left);
  if (res.code == 0) {
    log::get("actions")->info("restart-command-ran incident={} target={} command={}",
                              ctx.incident_id, target, command);
    action_result r;
    r.note = "ran restart command for " + target + ": " + command + "; " + no_rollback;
    return r;
  }
  bool timed_out = res.code == -1 && std::chrono::steady_clock::now() >= ctx.deadline;
  std::string why = timed_out ? res.message : "exit " + std::to_string(res.code);
  if (!timed_out && !res.message.empty())
    why += ": " + res.message;
  return failure(timed_out ? errc::timeout : errc::io,
                 "restart command for " + target + " failed (" + why + "): " + command);
}

status restart_service_executor::rollback(const recovery_action&, const action_context&,
                                          const std::string&) {
  return status::ok_status();
}

} // namespace faultd::actions
