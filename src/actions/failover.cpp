#include "actions/failover.hpp"

#include "faultd/log.hpp"
#include "state/placement.hpp"

namespace faultd::actions {

std::string primary_key(const std::string& service) {
  return "primary/" + service;
}

namespace {

status check_quorum(const cluster_view_fn& cluster) {
  if (!cluster)
    return {};
  auto v = cluster();
  auto needed = state::quorum_needed(v.quorum, v.known);
  if (v.alive >= needed)
    return {};
  return {errc::unavailable, "no quorum: " + std::to_string(v.alive) + " of "
                               + std::to_string(v.known) + " members alive, "
                               + std::to_string(needed) + " needed; nothing was promoted"};
}

/// Places `svc` on `node` with the next epoch; `previous` gets the old
/// placement's node ("" if none was recorded).
status place(state::registry& reg, const service_config& svc, const std::string& node,
             const std::string& why, std::string& previous, uint64_t* epoch = nullptr) {
  auto current = state::placement_of(reg, svc.name);
  previous = current ? current->node : "";
  state::placement next;
  next.epoch = (current ? current->epoch : 0) + 1;
  next.node = node;
  if (auto st = reg.put(state::placement_key(svc.name), state::format_placement(next)); !st)
    return {st.code(), "cannot record " + node + " as the node of " + svc.name + ": "
                         + st.message()};
  if (auto st = reg.put(primary_key(svc.name), node); !st)
    return {st.code(), "cannot record " + node + " as primary of " + svc.name + ": "
                         + st.message()};
  log::get("actions")->info("service-placed service={} node={} epoch={} was={} reason=\"{}\"",
                            svc.name, node, next.epoch,
                            previous.empty() ? svc.node + " (home)" : previous, why);
  if (epoch != nullptr)
    *epoch = next.epoch;
  return {};
}

} // namespace

status failback(const config& cfg, state::registry& reg, const node_reachable_fn& reachable,
                const cluster_view_fn& cluster, const std::string& service, std::string& detail) {
  const auto* svc = cfg.find_service(service);
  if (svc == nullptr)
    return {errc::not_found, "no service " + service};
  if (svc->node.empty())
    return {errc::bad_request, service + " has no home node (node:): it runs on every node"};
  auto now = state::owner_of(*svc, reg);
  if (now == svc->node)
    return {errc::bad_request, service + " already runs on its home node " + svc->node};
  if (!reachable || !reachable(svc->node))
    return {errc::unavailable, "home node " + svc->node + " of " + service
                                 + " is not alive: nothing was moved"};
  if (auto st = check_quorum(cluster); !st.ok())
    return st;
  std::string previous;
  uint64_t epoch = 0;
  if (auto st = place(reg, *svc, svc->node, "faultctl failback", previous, &epoch); !st.ok())
    return st;
  detail = "from " + now + ", epoch " + std::to_string(epoch);
  return {};
}

failover_executor::failover_executor(const config& cfg, state::registry& reg,
                                     node_reachable_fn reachable, cluster_view_fn cluster)
  : cfg_(cfg), reg_(reg), reachable_(std::move(reachable)), cluster_(std::move(cluster)) {
}

action_result failover_executor::take_over_from(const std::string& dead,
                                                const action_context& ctx) {
  action_result r;
  // A retry that comes after the node is back has nothing to do (it runs
  // its services again, and moving them now would be a needless failover).
  if (reachable_ && reachable_(dead)) {
    r.note = "node " + dead + " is alive again: nothing to take over";
    return r;
  }
  auto self = cluster_ ? cluster_().self : cfg_.node.id;
  std::string moved, others;
  for (const auto& svc : cfg_.services) {
    if (svc.node.empty() || state::owner_of(svc, reg_) != dead)
      continue;
    if (svc.backup_node != self) {
      others += (others.empty() ? "" : ", ") + svc.name + " (backup " +
                (svc.backup_node.empty() ? std::string{"none"} : svc.backup_node) + ")";
      continue;
    }
    if (moved.empty())
      if (auto st = check_quorum(cluster_); !st.ok()) {
        r.st = st;
        r.note = st.message();
        log::get("actions")->warn("failover-refused incident={} node={} reason=\"{}\"",
                                  ctx.incident_id, dead, st.message());
        return r;
      }
    std::string previous;
    auto why = "node " + dead + " is dead (incident " + ctx.incident_id + ")";
    if (auto st = place(reg_, svc, self, why, previous); !st.ok()) {
      r.st = st;
      r.note = st.message();
      return r;
    }
    moved += (moved.empty() ? "" : ", ") + svc.name;
    r.rollback_data += (r.rollback_data.empty() ? "" : ",") + svc.name + "=" + dead;
  }
  r.note = moved.empty() ? "no service of " + dead + " has this node as its backup"
                         : "took over " + moved + " from " + dead;
  if (!others.empty())
    r.note += "; left to their backups: " + others;
  return r;
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
  if (target.rfind("node:", 0) == 0 && cluster_)
    return take_over_from(target.substr(5), ctx);
  const auto* svc = cfg_.find_service(target);
  auto backup = parameter(a, "backup_node");
  if (backup.empty() && svc != nullptr)
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
  if (auto st = check_quorum(cluster_); !st.ok())
    return fail(st.code(), st.message());
  if (svc != nullptr && !svc->node.empty()) {
    std::string previous;
    if (auto st = place(reg_, *svc, backup, "incident " + ctx.incident_id, previous); !st.ok())
      return fail(st.code(), st.message());
    r.rollback_data = svc->name + "=" + (previous.empty() ? svc->node : previous);
    r.note = "placed " + svc->name + " on " + backup;
    return r;
  }
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
  const auto* svc = cfg_.find_service(target);
  bool placed =
    (target.rfind("node:", 0) == 0 && cluster_) || (svc != nullptr && !svc->node.empty());
  if (placed) {
    // Each moved service goes back with a new epoch (epochs never repeat).
    status result;
    size_t start = 0;
    while (start < rollback_data.size()) {
      auto end = rollback_data.find(',', start);
      auto item = rollback_data.substr(start, end == std::string::npos ? end : end - start);
      start = end == std::string::npos ? rollback_data.size() : end + 1;
      auto eq = item.find('=');
      if (eq == std::string::npos)
        continue;
      const auto* moved = cfg_.find_service(item.substr(0, eq));
      if (moved == nullptr)
        continue;
      std::string previous;
      if (auto st = place(reg_, *moved, item.substr(eq + 1), "rollback", previous); !st.ok())
        result = st;
    }
    return result;
  }
  auto st = reg_.restore(primary_key(target), rollback_data);
  if (st)
    log::get("actions")->info("failover-rolled-back service={} primary={}", target,
                              rollback_data.empty() ? "(none)" : rollback_data);
  return st;
}

} // namespace faultd::actions
