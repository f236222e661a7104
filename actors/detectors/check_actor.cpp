#include "actors/detectors/check_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "checks/health_check.hpp"
#include "checks/health_tracker.hpp"
#include "faultd/log.hpp"
#include "metrics/hub.hpp"
#include "faultd/util.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"

namespace faultd {

namespace {

struct check_state {
  std::shared_ptr<node_context> ctx;
  std::string service;
  check_config check;
  std::unique_ptr<checks::health_tracker> tracker;
  /// The application's function, for a custom type.
  std::unique_ptr<checks::guarded_check> custom;
  uint64_t generation = 0;
  /// This check raised a fault that no clear has answered yet. It survives
  /// a new tracker (the service restarted) and a pause, so the fault is
  /// cleared by the next passing check or by the pause itself.
  bool raised = false;
  std::shared_ptr<spdlog::logger> log = log::get("checks");
  static inline const char* name = "check";
};

using self_ptr = caf::stateful_actor<check_state>*;

/// A managed service that is not running (stopped by an operator, ended
/// as its restart policy allows, waiting in backoff) is not checked: its
/// process state says all there is, and a failing check must not turn a
/// one-shot job or a manual stop into an outage to recover from.
bool paused(const check_state& st) {
  const auto* svc = st.ctx->cfg.find_service(st.service);
  if (svc == nullptr || svc->command.empty())
    return false;
  auto snap = st.ctx->processes->snapshot(st.service);
  return !snap || snap->state != process::service_state::running;
}

/// Tells the analyzer this check no longer reports its fault.
void send_clear(self_ptr self, const std::string& why) {
  auto& st = self->state;
  fault_event ev;
  ev.id = make_uuid();
  ev.time = system_clock_source().now();
  ev.type = st.check.fault;
  ev.severity = fault_severity::low;
  ev.component = st.service;
  ev.node = st.ctx->cfg.node.id;
  ev.source = "check:" + check_type_name(st.check);
  ev.details["check"] = st.check.name;
  ev.details["message"] = why;
  ev.clears = true;
  st.raised = false;
  st.ctx->send_to("analyzer", event_atom::value, std::move(ev));
}

/// One run of the check: faultd's own kinds, or the application's function
/// for a custom type, guarded by the check's timeout (start_node refuses a
/// config naming a type it lacks).
checks::check_result measure(const check_state& st) {
  if (st.custom)
    return st.custom->run(st.check);
  return checks::run_check(st.check);
}

void run_once(self_ptr self) {
  auto& st = self->state;
  if (paused(st)) {
    // The process state speaks for a service that is not running; a fault
    // this check raised must not outlive the pause unanswered.
    if (st.raised)
      send_clear(self, "check paused: the service is not running");
    return;
  }
  auto gen = st.ctx->health->generation(st.service);
  if (gen != st.generation) { // the service was restarted: start over
    st.generation = gen;
    st.tracker = std::make_unique<checks::health_tracker>(st.check);
  }
  auto res = measure(st);
  auto transition = st.tracker->record(res.outcome);
  check_status cs;
  cs.name = st.check.name;
  cs.kind = check_type_name(st.check);
  cs.health = std::string{checks::to_string(st.tracker->state())};
  cs.consecutive_failures = st.tracker->consecutive_failures();
  cs.last_error = res.ok() ? std::string{} : res.message;
  st.ctx->health->update(st.service, cs, gen);
  st.ctx->check_result(st.service, res.ok());
  st.ctx->metrics->check_result(st.service, st.check.name, res.ok(),
                                std::chrono::duration_cast<duration>(
                                  std::chrono::duration<double, std::milli>(res.latency_ms)));
  if (!transition) {
    // A new tracker (after a restart) goes healthy from unknown without a
    // transition worth an event; a fault raised before still needs its clear.
    if (st.raised && st.tracker->state() == checks::health_state::healthy)
      send_clear(self, "check passes again");
    return;
  }
  st.log->info("check-transition service={} check={} from={} to={} message=\"{}\"", st.service,
               st.check.name, checks::to_string(transition->from),
               checks::to_string(transition->to), res.message);
  auto ev = checks::make_check_event(st.service, st.check, *transition, res, st.ctx->cfg.node.id,
                                     system_clock_source());
  if (ev) {
    st.raised = !ev->clears;
    st.ctx->send_to("analyzer", event_atom::value, std::move(*ev));
  } else if (st.raised && transition->to == checks::health_state::healthy) {
    send_clear(self, "check passes again");
  }
}

caf::behavior check_actor(self_ptr self, std::shared_ptr<node_context> ctx, std::string service,
                          check_config check) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.service = std::move(service);
  st.check = std::move(check);
  st.tracker = std::make_unique<checks::health_tracker>(st.check);
  if (st.check.kind == check_kind::custom)
    if (auto fn = st.ctx->custom_checks.find(st.check.custom_type);
        fn != st.ctx->custom_checks.end())
      st.custom = std::make_unique<checks::guarded_check>(fn->second);
  st.generation = st.ctx->health->generation(st.service);
  auto me = caf::actor_cast<caf::actor>(self);
  st.ctx->health->on_reset(st.service, [me] { caf::anon_send(me, recheck_atom::value); });
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto started = std::chrono::steady_clock::now();
      run_once(self);
      // Keep the period: the next run is `interval` after this one began.
      auto spent = std::chrono::steady_clock::now() - started;
      auto wait = self->state.check.interval > spent ? self->state.check.interval - spent
                                                     : duration{0};
      self->delayed_send(self, wait, tick_atom::value);
    },
    [=](recheck_atom) { run_once(self); },
  };
}

} // namespace

caf::actor spawn_check_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                             const std::string& service, const check_config& check) {
  return sys.spawn<caf::detached>(check_actor, std::move(ctx), service, check);
}

} // namespace faultd
