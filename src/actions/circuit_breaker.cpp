#include "actions/circuit_breaker.hpp"

#include "faultd/log.hpp"

namespace faultd::actions {

circuit_breaker_executor::circuit_breaker_executor(circuit_board& board) : board_(board) {
}

action_result circuit_breaker_executor::execute(const recovery_action& a,
                                                const action_context& ctx) {
  action_result r;
  auto target = resolve_target(a, ctx);
  if (target.empty()) {
    r.st = {errc::bad_request, "circuit_breaker has no target"};
    r.note = r.st.message();
    return r;
  }
  status err;
  bool found = false;
  auto cfg = parse_circuit_parameters(a.parameters, recovery::circuit_breaker_config{}, err, &found);
  if (!cfg) {
    r.st = err;
    r.note = err.message();
    return r;
  }
  if (found)
    board_.configure(target, *cfg);
  auto hold_param = parameter(a, "hold");
  if (!hold_param.empty() && hold_param != "true" && hold_param != "false") {
    r.st = {errc::bad_request, "bad circuit_breaker parameter hold=\"" + hold_param
                                   + "\": expected true or false"};
    r.note = r.st.message();
    return r;
  }
  bool hold = hold_param == "true";
  auto previous = board_.state(target);
  board_.force_open(target, hold);
  log::get("actions")->info("circuit-opened-by-action incident={} target={} was={} hold={}",
                            ctx.incident_id, target, previous, hold);
  r.rollback_data = previous;
  r.note = "opened circuit of " + target + " (was " + previous + (hold ? ", held open)" : ")");
  return r;
}

status circuit_breaker_executor::rollback(const recovery_action& a, const action_context& ctx,
                                          const std::string& rollback_data) {
  auto target = resolve_target(a, ctx);
  if (rollback_data == "open") {
    if (board_.state(target) != "open")
      board_.force_open(target);
  } else {
    board_.force_close(target);
  }
  log::get("actions")->info("circuit-rolled-back target={} state={}", target,
                            board_.state(target));
  return status::ok_status();
}

} // namespace faultd::actions
