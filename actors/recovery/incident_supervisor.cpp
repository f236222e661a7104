#include "actors/recovery/incident_supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include <caf/all.hpp>

#include "actions/executor.hpp"
#include "actions/workers.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "metrics/hub.hpp"

namespace faultd {

namespace {

/// An execution that ended, and its actions, in the metrics.
void record_metrics(metrics::hub& hub, const recovery_execution& x) {
  auto took = [](const std::optional<timestamp>& from, const std::optional<timestamp>& to) {
    return from && to && *to > *from ? *to - *from : duration{0};
  };
  hub.recovery_done(x.strategy_id, std::string{to_string(x.status)},
                    took(std::optional<timestamp>{x.started_at}, x.ended_at));
  for (const auto& a : x.actions)
    if (a.attempts > 0)
      hub.action_done(std::string{action_name(a.action)}, std::string{to_string(a.status)},
                      took(a.started_at, a.ended_at));
}

using wait_over_atom = caf::atom_constant<caf::atom("waitover")>;
/// (worker_atom, ticket, ok, error, rollback_data, note): a worker ended.
using worker_atom = caf::atom_constant<caf::atom("worker")>;
/// (overdue_atom, ticket): the worker outlived its step's timeout.
using overdue_atom = caf::atom_constant<caf::atom("overdue")>;

/// An executor that ignores its deadline is given this much more before the
/// supervisor stops waiting for it.
constexpr auto overdue_grace = std::chrono::milliseconds(500);

struct incident_sup_state {
  std::shared_ptr<node_context> ctx;
  incident inc;
  std::optional<recovery::execution_machine> machine;
  std::optional<timestamp> fault_since;
  /// The worker of the step in progress (0: none) and that step.
  uint64_t ticket = 0;
  recovery::step waiting;
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
  st.ctx->send_to("analyzer", recovery_atom::value, x);
  auto storage = st.ctx->lookup("storage");
  if (!storage) {
    st.log->error("journal-unavailable execution={} reason=\"storage is not running\"", x.id);
    k();
    return;
  }
  self->request(storage, std::chrono::seconds(10), execution_atom::value, x)
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

/// Where a worker's outcome goes: a message to this supervisor.
actions::action_workers::deliver_fn deliver_to(self_ptr self) {
  return [me = caf::actor_cast<caf::actor>(self)](uint64_t ticket,
                                                  const actions::worker_outcome& out) {
    caf::anon_send(me, worker_atom::value, ticket, out.ok, out.error, out.rollback_data, out.note);
  };
}

/// Runs step `s` (run_action or rollback_action) on a worker, or waits for
/// the worker a previous supervisor of this execution left running for it.
void start_step(self_ptr self, const recovery::step& s) {
  auto& st = self->state;
  auto& action = st.machine->strategy().actions[s.index];
  const bool rollback = s.kind == recovery::step_kind::rollback_action;
  actions::worker_key key{st.machine->state().id, rollback, s.index};
  auto& workers = *st.ctx->workers;
  std::chrono::steady_clock::time_point deadline;
  if (auto a = workers.attach(key, self->id(), deliver_to(self))) {
    st.ticket = a->ticket;
    deadline = a->deadline;
    st.log->info("action-reattached execution={} action={} type={} attempt={}",
                 st.machine->state().id, s.index, action_name(action), s.attempt);
  } else {
    auto c = context_for(self, s.timeout);
    c.attempt = s.attempt;
    deadline = c.deadline;
    if (!rollback)
      st.log->info("action-started execution={} action={} type={} target={} attempt={} timeout={}",
                   st.machine->state().id, s.index, action_name(action),
                   actions::resolve_target(action, c), s.attempt, human_duration(s.timeout));
    // The call keeps the node's objects alive: an executor refers to them.
    auto call = actions::executor_call(st.ctx->executors->get(action), action, c, rollback,
                                       st.machine->state().actions[s.index].rollback_data);
    st.ticket = workers.start(key, deadline, self->id(), deliver_to(self),
                              [call = std::move(call), keep = st.ctx] { return call(); });
  }
  st.waiting = s;
  auto left = std::max(deadline - std::chrono::steady_clock::now(),
                       std::chrono::steady_clock::duration::zero());
  self->delayed_send(self, left + overdue_grace, overdue_atom::value, st.ticket);
}

/// Journals the step's outcome, only then lets its worker go (a successor
/// that resumes an unjournaled outcome attaches to it instead of running
/// the action again), and goes on.
void journal_release_advance(self_ptr self, uint64_t ticket) {
  journal_then(self, [self, ticket] {
    self->state.ctx->workers->release(ticket, self->id());
    advance(self);
  });
}

void on_outcome(self_ptr self, uint64_t ticket, const actions::worker_outcome& out) {
  auto& st = self->state;
  auto s = st.waiting;
  auto& action = st.machine->strategy().actions[s.index];
  auto& id = st.machine->state().id;
  if (s.kind == recovery::step_kind::rollback_action) {
    st.log->info("action-rolled-back execution={} action={} type={} ok={} error=\"{}\"", id,
                 s.index, action_name(action), out.ok, out.error);
    st.machine->on_rollback_result(s.index, out.ok, out.error);
  } else {
    if (out.ok) {
      st.machine->set_rollback_data(s.index, out.rollback_data);
      st.log->info("action-completed execution={} action={} type={} note=\"{}\"", id, s.index,
                   action_name(action), out.note);
    } else {
      st.log->warn("action-failed execution={} action={} type={} attempt={} error=\"{}\"", id,
                   s.index, action_name(action), s.attempt, out.error);
    }
    st.machine->on_action_result(s.index, out.ok, out.error);
  }
  journal_release_advance(self, ticket);
}

/// The worker outlived its timeout: it is abandoned (it runs on, its
/// outcome dropped) and the step counts as timed out.
void on_overdue(self_ptr self, uint64_t ticket) {
  auto& st = self->state;
  auto s = st.waiting;
  auto& action = st.machine->strategy().actions[s.index];
  st.log->warn("action-abandoned execution={} action={} type={} attempt={} timeout={} "
               "reason=\"the executor did not return within its timeout; it runs on, its "
               "outcome ignored\"",
               st.machine->state().id, s.index, action_name(action), s.attempt,
               human_duration(s.timeout));
  if (s.kind == recovery::step_kind::rollback_action)
    st.machine->on_rollback_timeout(s.index);
  else
    st.machine->on_timeout(s.index);
  journal_release_advance(self, ticket);
}

void advance(self_ptr self) {
  auto& st = self->state;
  auto s = st.machine->next();
  switch (s.kind) {
    case recovery::step_kind::run_action:
    case recovery::step_kind::rollback_action:
      // Journal "running" before the action acts.
      journal_then(self, [self, s] { start_step(self, s); });
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
        record_metrics(*self->state.ctx->metrics, x);
        // To the manager's current incarnation (held while it restarts).
        self->state.ctx->send_to("recovery", done_atom::value, x);
        self->quit();
      });
      return;
  }
}

caf::behavior incident_supervisor(self_ptr self, std::shared_ptr<node_context> ctx, incident inc,
                                  recovery::execution_machine machine,
                                  std::optional<timestamp> fault_since) {
  auto& st = self->state;
  st.fault_since = fault_since;
  st.ctx = std::move(ctx);
  st.inc = std::move(inc);
  st.machine.emplace(std::move(machine));
  // However it stops, its worker runs on for the next supervisor.
  self->attach_functor([workers = st.ctx->workers, me = self->id()] { workers->detach(me); });
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) { advance(self); },
    [=](wait_over_atom) {
      self->state.machine->on_wait_over();
      advance(self);
    },
    [=](worker_atom, uint64_t ticket, bool ok, std::string& error, std::string& rollback_data,
        std::string& note) {
      auto& st = self->state;
      if (ticket == 0 || ticket != st.ticket)
        return; // a worker given up on before
      st.ticket = 0;
      on_outcome(self, ticket,
                 actions::worker_outcome{ok, std::move(error), std::move(rollback_data),
                                         std::move(note)});
    },
    [=](overdue_atom, uint64_t ticket) {
      auto& st = self->state;
      if (ticket == 0 || ticket != st.ticket)
        return; // that step ended in time
      st.ticket = 0;
      on_overdue(self, ticket);
    },
    [=](caf::get_atom) {
      return caf::make_message(self->state.inc.id, self->state.machine->state().id);
    },
  };
}

} // namespace

caf::actor spawn_incident_supervisor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                                     incident inc, recovery::execution_machine machine,
                                     std::optional<timestamp> fault_since) {
  return sys.spawn(incident_supervisor, std::move(ctx), std::move(inc), std::move(machine),
                   fault_since);
}

} // namespace faultd
