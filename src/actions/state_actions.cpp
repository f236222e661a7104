#include "actions/state_actions.hpp"

namespace faultd::actions {

namespace {

std::string param(const recovery_action& a, const std::string& key, const std::string& fallback) {
  auto it = a.parameters.find(key);
  return it == a.parameters.end() || it->second.empty() ? fallback : it->second;
}

} // namespace

action_result state_sync_executor::execute(const recovery_action&, const action_context& ctx) {
  action_result r;
  uint64_t peers = 0;
  r.st = access_.sync(ctx.deadline, peers);
  if (r.st.ok())
    r.note = "anti-entropy started with " + std::to_string(peers) + " peers";
  return r;
}

status state_sync_executor::rollback(const recovery_action&, const action_context&,
                                     const std::string&) {
  return {};
}

action_result data_restore_executor::execute(const recovery_action& a,
                                             const action_context& ctx) {
  action_result r;
  auto prefix = param(a, "prefix", "");
  // Which snapshot is "latest" is settled before this action takes its own.
  auto id = param(a, "snapshot", "latest");
  if (id == "latest" && !(r.st = access_.latest(ctx.deadline, id)).ok())
    return r;
  std::string before;
  r.st = access_.snapshot(ctx.deadline, before);
  if (!r.st.ok())
    return r;
  std::string note;
  r.st = access_.restore(id, prefix, ctx.deadline, note);
  if (r.st.ok()) {
    r.rollback_data = before;
    r.note = note + " (the state before is snapshot " + before + ")";
  }
  return r;
}

status data_restore_executor::rollback(const recovery_action& a, const action_context& ctx,
                                       const std::string& rollback_data) {
  if (rollback_data.empty())
    return {};
  std::string note;
  return access_.restore(rollback_data, param(a, "prefix", ""), ctx.deadline, note);
}

} // namespace faultd::actions
