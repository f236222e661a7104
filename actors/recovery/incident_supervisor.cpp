#include "actors/recovery/incident_supervisor.hpp"

#include <map>
#include <optional>

#include <caf/all.hpp>

#include "actions/executor.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

using wait_over_atom = caf::atom_constant<caf::atom("waitover")>;

struct incident_sup_state {
  std::shared_ptr<node_context> ctx;
  caf::actor manager;
  incident inc;
  std::optional<recovery::execution_machine> machine;
  std::optional<timestamp> fault_since;
  std::shared_ptr<spdlog::logger> log = log::get("recovery");
  static inline const char* name = "incident-supervisor";
};

using self_ptr = caf::stateful_actor<incident_sup_state>*;

void advance(self_ptr self);

/// Journals the execution, tells the analyzer how far it got, then runs `k`.
template <class F>
void journal_then(self_ptr self, F k) {
  auto& st = self->state;
  auto& x = st.machine->state();
  st.ctx->send_to("analyzer", recovery_atom::value, x.incident_id, x.strategy_id, x.actions);
  auto storage = st.ctx->lookup("storage");
  if (!storage) {
    st.log->error("journal-unavailable execution={} reason=\"storage is not running\"", x.id);
    k();
    return;
  }
  self->request(storage, caf::infinite, execution_atom::value, x)
    .then([k](bool) mutable { k(); },
          [self, k](const caf::error& err) mutable {
            self->state.log->error("journal-write-failed execution={} error={}",
                                   self->state.machine->state().id, self->system().render(err));
            k();
          });
}

actions::action_context context_for(self_ptr self, duration timeout) {
  actions::action_context c;
  c.incident_id = self->state.inc.id;
  c.component = self->state.inc.component;
  c.fault_since = self->state.fault_since;
  c.deadline = std::chrono::steady_clock::now()
               + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  return c;
}

void run_action(self_ptr self, const recovery::step& s) {
  auto& st = self->state;
  auto& action = st.machine->strategy().actions[s.index];
  auto ex = st.ctx->executors->get(action.type);
  auto c = context_for(self, s.timeout);
  c.attempt = s.attempt;
  st.log->info("action-started execution={} action={} type={} target={} attempt={} timeout={}",
               st.machine->state().id, s.index, to_string(action.type),
               actions::resolve_target(action, c), s.attempt, human_duration(s.timeout));
  actions::action_result res;
  if (!ex)
    res.st = {errc::not_found, "no executor registered for " + std::string{to_string(action.type)}};
  else
    res = ex->execute(action, c);
  if (res.st.ok()) {
    st.machine->set_rollback_data(s.index, res.rollback_data);
    st.log->info("action-completed execution={} action={} type={} note=\"{}\"",
                 st.machine->state().id, s.index, to_string(action.type), res.note);
  } else {
    st.log->warn("action-failed execution={} action={} type={} attempt={} error=\"{}\"",
                 st.machine->state().id, s.index, to_string(action.type), s.attempt,
                 res.st.message());
  }
  st.machine->on_action_result(s.index, res.st.ok(), res.st.message());
  journal_then(self, [self] { advance(self); });
}

void run_rollback(self_ptr self, const recovery::step& s) {
  auto& st = self->state;
  auto& action = st.machine->strategy().actions[s.index];
  auto ex = st.ctx->executors->get(action.type);
  auto c = context_for(self, s.timeout);
  status res;
  if (!ex)
    res = {errc::not_found, "no executor registered for " + std::string{to_string(action.type)}};
  else
    res = ex->rollback(action, c, st.machine->state().actions[s.index].rollback_data);
  st.log->info("action-rolled-back execution={} action={} type={} ok={} error=\"{}\"",
               st.machine->state().id, s.index, to_string(action.type), res.ok(), res.message());
  st.machine->on_rollback_result(s.index, res.ok(), res.message());
  journal_then(self, [self] { advance(self); });
}

void advance(self_ptr self) {
  auto& st = self->state;
  auto s = st.machine->next();
  switch (s.kind) {
    case recovery::step_kind::run_action:
      // Journal "running" before the action acts.
      journal_then(self, [self, s] { run_action(self, s); });
      return;
    case recovery::step_kind::rollback_action:
      journal_then(self, [self, s] { run_rollback(self, s); });
      return;
    case recovery::step_kind::wait:
      st.log->info("action-retry-wait execution={} delay={}", st.machine->state().id,
                   human_duration(s.delay));
      self->delayed_send(self, s.delay, wait_over_atom::value);
      return;
    case recovery::step_kind::done:
      journal_then(self, [self] {
        auto& x = self->state.machine->state();
        self->state.log->info("recovery-finished execution={} incident={} strategy={} status={} "
                              "error=\"{}\"",
                              x.id, x.incident_id, x.strategy_id, to_string(x.status), x.error);
        self->send(self->state.manager, done_atom::value, x);
        self->quit();
      });
      return;
  }
}

caf::behavior incident_supervisor(self_ptr self, std::shared_ptr<node_context> ctx,
                                  caf::actor manager, incident inc,
                                  recovery::execution_machine machine,
                                  std::optional<timestamp> fault_since) {
  auto& st = self->state;
  st.fault_since = fault_since;
  st.ctx = std::move(ctx);
  st.manager = std::move(manager);
  st.inc = std::move(inc);
  st.machine.emplace(std::move(machine));
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) { advance(self); },
    [=](wait_over_atom) {
      self->state.machine->on_wait_over();
      advance(self);
    },
  };
}

} // namespace

caf::actor spawn_incident_supervisor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                                     caf::actor manager, incident inc,
                                     recovery::execution_machine machine,
                                     std::optional<timestamp> fault_since) {
  return sys.spawn<caf::detached>(incident_supervisor, std::move(ctx), std::move(manager),
                                  std::move(inc), std::move(machine), fault_since);
}

} // namespace faultd
