#include "actions/unavailable.hpp"

#include "faultd/log.hpp"

namespace faultd::actions {

unavailable_executor::unavailable_executor(action_type type, std::string reason)
  : type_(type), reason_(std::move(reason)) {
}

action_result unavailable_executor::execute(const recovery_action&, const action_context& ctx) {
  action_result r;
  auto msg = std::string{to_string(type_)} + " is not available: " + reason_;
  log::get("actions")->warn("action-unavailable incident={} type={} reason=\"{}\"",
                            ctx.incident_id, to_string(type_), reason_);
  r.st = status{errc::unavailable, msg};
  r.note = msg;
  return r;
}

status unavailable_executor::rollback(const recovery_action&, const action_context&,
                                      const std::string&) {
  return status::ok_status();
}

} // namespace faultd::actions
