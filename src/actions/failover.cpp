#include "actions/failover.hpp"

#include "faultd/log.hpp"

namespace faultd::actions {

std::string primary_key(const std::string& service) {
  return "primary/" + service;
}

failover_executor::failover_executor(const config& cfg, state::registry& reg,
                                     node_reachable_fn reachable)
  : cfg_(cfg), reg_(reg), reachable_(std::move(reachable)) {
}

action_result failover_executor::execute(const recovery_action& a, const action_context& ctx) {
  action_result r;
  auto fail = [&r](errc code, std::string msg) {
    r.st = status{code, msg};
    r.note = std::move(msg);
    return r;
  };
  auto target = resolve_target(a, ctx);
  if (target.empty())
    return fail(errc::bad_request, "failover has no target");
  auto backup = parameter(a, "backup_node");
  if (backup.empty())
    if (const auto* svc = cfg_.find_service(target); svc != nullptr)
      backup = svc->backup_node;
  if (backup.empty())
    return fail(errc::bad_request, "no backup node configured for " + target);
  if (!reachable_) {
    log::get("actions")->warn("failover-impossible incident={} service={} backup={} "
                              "reason=single-node-mode",
                              ctx.incident_id, target, backup);
    return fail(errc::unavailable,
                "backup node " + backup
                    + " is not reachable: no cluster membership on this node yet (single-node mode)");
  }
  if (!reachable_(backup))
    return fail(errc::unavailable,
                "backup node " + backup + " is not reachable: membership does not see it alive");
  auto previous = reg_.get(primary_key(target));
  if (auto st = reg_.put(primary_key(target), backup); !st)
    return fail(st.code(), "cannot record " + backup + " as primary of " + target + ": "
                               + st.message());
  log::get("actions")->info("failover-done incident={} service={} from={} to={}", ctx.incident_id,
                            target, previous.value_or("(none)"), backup);
  r.rollback_data = previous.value_or("");
  r.note = "made " + backup + " primary of " + target + " (was "
           + (previous && !previous->empty() ? *previous : std::string{"unset"}) + ")";
  return r;
}

status failover_executor::rollback(const recovery_action& a, const action_context& ctx,
                                   const std::string& rollback_data) {
  auto target = resolve_target(a, ctx);
  auto st = reg_.restore(primary_key(target), rollback_data);
  if (st)
    log::get("actions")->info("failover-rolled-back service={} primary={}", target,
                              rollback_data.empty() ? "(none)" : rollback_data);
  return st;
}

} // namespace faultd::actions
