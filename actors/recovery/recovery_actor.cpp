#include "actors/recovery/recovery_actor.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include <caf/all.hpp>

#include "actions/executor.hpp"
#include "actions/workers.hpp"
#include "actions/service_degradation.hpp"
#include "actors/recovery/incident_supervisor.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "recovery/selector.hpp"
#include "state/maintenance.hpp"
#include "state/registry.hpp"

namespace faultd {

namespace {

struct running_execution {
  std::string execution_id;
  caf::actor supervisor;
};

struct recovery_state {
  std::shared_ptr<node_context> ctx;
  std::unique_ptr<recovery::strategy_selector> selector;
  std::map<std::string, running_execution> running;          ///< by incident id
  std::map<caf::actor_addr, std::string> incident_of;         ///< supervisor -> incident id
  std::map<std::string, incident> open;                       ///< incidents seen opening
  std::map<std::string, std::string> closed_while_running;    ///< incident id -> component
  /// The escalation ladder of each open incident: strategies run, in order,
  /// with their outcome.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> ladder;
  /// Degradations completed by any rung of an incident's ladder, undone
  /// when it closes (a later rung's actions replace the incident's).
  std::map<std::string, std::vector<action_execution>> degraded;
  uint64_t started = 0;
  /// Unresponsive supervisors being killed, and what runs once they are down.
  std::map<caf::actor_addr, std::function<void()>> awaiting_down;
  std::shared_ptr<spdlog::logger> log = log::get("recovery");
  static inline const char* name = "recovery";
};

using self_ptr = caf::stateful_actor<recovery_state>*;

caf::behavior running(self_ptr self);

/// The strategy as it applies to `inc`: placeholder targets ("", the seed's
/// "service_name", ...) resolved to the incident's component, so the
/// journal and faultctl show what each action acts on.
recovery_strategy resolved(const recovery_strategy& s, const incident& inc) {
  auto out = s;
  actions::action_context c;
  c.component = inc.component;
  for (auto& a : out.actions)
    a.target = actions::resolve_target(a, c);
  return out;
}

/// The directory name of an incident's supervisor ("incident:1a2b3c4d").
std::string supervisor_name(const std::string& incident_id) {
  return "incident:" + incident_id.substr(0, 8);
}

/// Follows a running incident supervisor (a new one, or one adopted from
/// the manager's previous incarnation).
void watch(self_ptr self, const std::string& incident_id, const std::string& execution_id,
           const caf::actor& sup) {
  auto& st = self->state;
  self->monitor(sup);
  st.incident_of[sup.address()] = incident_id;
  st.running[incident_id] = running_execution{execution_id, sup};
}

void launch(self_ptr self, const incident& inc, recovery::execution_machine machine,
            std::optional<timestamp> fault_since = std::nullopt) {
  auto& st = self->state;
  auto& x = machine.state();
  auto exec_id = x.id;
  auto sup = spawn_incident_supervisor(self->system(), st.ctx, inc, std::move(machine),
                                       fault_since);
  // Monitored: a crash is resumed from the journal. Not linked: a crash of
  // the manager leaves them running, and its next incarnation adopts them
  // (a second supervisor for the same execution would act twice). The
  // manager stops them itself when the node stops.
  watch(self, inc.id, exec_id, sup);
  ++st.started;
  // Listed for faultctl chaos; an entry left by a crashed incarnation
  // counts this one as its restart.
  actor_directory::entry e;
  e.name = supervisor_name(inc.id);
  e.supervisor = "recovery";
  if (auto old = st.ctx->dir->find(e.name))
    e.restarts = old->restarts + 1;
  e.actor = sup;
  st.ctx->dir->put(std::move(e));
}

/// Sends an alert about an incident's recovery to the alerting actor.
void send_alert(self_ptr self, const std::string& incident_id, fault_severity severity,
                const std::string& component, std::string summary) {
  alert a;
  a.id = make_uuid();
  a.incident_id = incident_id;
  a.time = system_clock_source().now();
  a.severity = severity;
  a.component = component;
  a.summary = std::move(summary);
  self->state.ctx->send_to("alerting", alert_atom::value, std::move(a));
}

void alert_no_strategy(self_ptr self, const incident& inc) {
  send_alert(self, inc.id, inc.severity, inc.component,
             "no recovery strategy matches " + std::string{to_string(inc.type)} + " ("
               + std::string{to_string(inc.severity)} + ") on " + inc.component);
}

/// A recovery that failed or was rolled back leaves the fault to a person:
/// that is always worth an alert (at least high), whatever the incident's
/// own severity.
void alert_unrecovered(self_ptr self, const recovery_execution& x) {
  auto& st = self->state;
  auto severity = fault_severity::high;
  std::string component = x.incident_id;
  if (auto i = st.open.find(x.incident_id); i != st.open.end()) {
    component = i->second.component;
    severity = std::max(severity, i->second.severity);
  }
  st.log->warn("recovery-unrecovered incident={} strategy={} status={} error=\"{}\"",
               x.incident_id, x.strategy_id, to_string(x.status), x.error);
  send_alert(self, x.incident_id, severity, component,
             "recovery " + std::string{to_string(x.status)} + " on " + component + " (strategy "
               + x.strategy_id + "): " + (x.error.empty() ? std::string{"no error text"} : x.error));
}

/// The ladder as recorded in the incident: "<strategy>=<outcome>".
std::vector<std::string> ladder_text(const std::vector<std::pair<std::string, std::string>>& l) {
  std::vector<std::string> out;
  for (auto& [id, outcome] : l)
    out.push_back(id + "=" + outcome);
  return out;
}

void record_ladder(self_ptr self, const std::string& incident_id) {
  auto& l = self->state.ladder[incident_id];
  self->state.ctx->send_to("analyzer", ladder_atom::value, incident_id, ladder_text(l));
}

void start_strategy(self_ptr self, const incident& inc, const recovery_strategy& strategy,
                    std::optional<timestamp> fault_time) {
  auto& st = self->state;
  st.ladder[inc.id].emplace_back(strategy.id, "running");
  record_ladder(self, inc.id);
  launch(self, inc,
         recovery::execution_machine{resolved(strategy, inc), inc.id, make_uuid(),
                                     system_clock_source(), recovery::default_random_source()},
         fault_time);
}

/// A strategy ended failed or rolled back while its incident is still
/// open: the next matching strategy by priority runs (the escalation
/// ladder), until none is left.
void escalate(self_ptr self, const recovery_execution& x) {
  auto& st = self->state;
  auto inc = st.open.find(x.incident_id);
  if (inc == st.open.end())
    return;  // the fault is gone: nothing to escalate
  std::vector<std::string> tried;
  for (auto& [id, outcome] : st.ladder[x.incident_id])
    tried.push_back(id);
  auto* next = st.selector->next(inc->second, tried);
  if (next == nullptr) {
    st.log->warn("recovery-ladder-exhausted incident={} tried={}", x.incident_id, tried.size());
    return;
  }
  st.log->info("recovery-escalated incident={} from={} to={} priority={}", x.incident_id,
               x.strategy_id, next->id, next->priority);
  start_strategy(self, inc->second, *next, std::nullopt);
}

void on_opened(self_ptr self, const incident& inc, timestamp fault_time) {
  auto& st = self->state;
  st.open[inc.id] = inc;
  if (st.running.count(inc.id) > 0)
    return; // already recovering (a reopen while its execution runs)
  st.ladder[inc.id].clear();  // a (re)opened fault climbs the ladder from its first rung
  // recovery.strategy_selection_timeout: the longest a fault may wait for
  // its recovery to start (here: the manager heard of it late, e.g. after
  // its own restart). Past it, a person is told; the recovery still runs.
  auto waited = system_clock_source().now() - fault_time;
  if (waited > st.ctx->cfg.recovery.strategy_selection_timeout) {
    st.log->warn("recovery-started-late incident={} waited={}", inc.id, human_duration(waited));
    send_alert(self, inc.id, std::max(inc.severity, fault_severity::high), inc.component,
               "recovery of " + inc.component + " starts " + human_duration(waited)
                 + " after the fault, past strategy_selection_timeout "
                 + human_duration(st.ctx->cfg.recovery.strategy_selection_timeout));
  }
  if (st.ctx->maintenance && st.ctx->maintenance->contains(inc.component)) {
    st.log->info("recovery-paused incident={} component={} reason=maintenance", inc.id,
                 inc.component);
    st.ctx->send_to("analyzer", recovery_atom::value, inc.id, std::string{"none (maintenance)"},
                    std::vector<action_execution>{});
    return;
  }
  auto* strategy = st.selector->select(inc);
  if (strategy == nullptr) {
    st.log->warn("recovery-no-strategy incident={} component={} type={} severity={}", inc.id,
                 inc.component, to_string(inc.type), to_string(inc.severity));
    st.ctx->send_to("analyzer", recovery_atom::value, inc.id, std::string{"none"},
                    std::vector<action_execution>{});
    if (inc.severity >= st.ctx->cfg.alerting.min_severity)
      alert_no_strategy(self, inc);
    return;
  }
  st.log->info("recovery-strategy-selected incident={} component={} strategy={} priority={} "
               "actions={}",
               inc.id, inc.component, strategy->id, strategy->priority, strategy->actions.size());
  start_strategy(self, inc, *strategy, fault_time);
}

/// Degradations an incident's recovery set are undone when it closes (or,
/// if it closes while its recovery still runs, when the recovery ends). The
/// registry writes (and their fsync) run on a detached worker, never on a
/// scheduler thread.
void restore_degradations(self_ptr self, const std::string& incident_id,
                          const std::string& component, const std::vector<action_execution>& done) {
  auto& st = self->state;
  std::vector<std::pair<std::string, std::string>> restores;  // service -> first level
  for (auto& a : done) {
    if (a.action.type != action_type::service_degradation || a.status != action_status::completed)
      continue;
    actions::action_context c;
    c.component = component;
    auto target = actions::resolve_target(a.action, c);
    auto* svc = st.ctx->cfg.find_service(target);
    restores.emplace_back(target, svc && !svc->degradation_levels.empty()
                                    ? svc->degradation_levels.front()
                                    : std::string{"full"});
  }
  if (restores.empty())
    return;
  self->system().spawn<caf::detached>(
    [registry = st.ctx->registry, restores, incident_id, log = st.log](caf::event_based_actor* w) {
      for (auto& [target, full] : restores) {
        auto res = actions::restore_degradation(*registry, target, full);
        if (res.ok())
          log->info("degradation-restored service={} level={} incident={}", target, full,
                    incident_id);
        else
          log->error("degradation-restore-failed service={} error={}", target, res.to_string());
      }
      w->quit();
    });
}

/// Closes an execution that cannot be resumed, with the reason.
void abandon(self_ptr self, const recovery_execution& x, const std::string& reason) {
  auto closed = recovery::execution_machine::abandon(x, "closed at restart: " + reason,
                                                     system_clock_source().now());
  self->state.log->warn("recovery-abandoned execution={} incident={} reason=\"{}\"", x.id,
                        x.incident_id, reason);
  self->state.ctx->send_to("storage", execution_atom::value, closed);
  self->state.ctx->dir->erase(supervisor_name(x.incident_id));
  self->state.ctx->send_to("analyzer", recovery_atom::value, x.incident_id, x.strategy_id,
                           closed.actions);
}

/// The ladder and the open state survive the manager's restart through
/// the stored incident, so a resumed or adopted rung can still escalate.
void remember(self_ptr self, const incident& inc) {
  auto& st = self->state;
  if (inc.status == incident_status::open && !inc.component.empty())
    st.open[inc.id] = inc;
  if (st.ladder[inc.id].empty())
    for (const auto& rung : inc.ladder) {
      auto eq = rung.rfind('=');
      st.ladder[inc.id].emplace_back(rung.substr(0, eq),
                                     eq == std::string::npos ? "" : rung.substr(eq + 1));
    }
}

/// Whether the attempt `x` records as running still runs on a worker (its
/// supervisor stopped, the node did not).
bool attempt_in_flight(self_ptr self, const recovery_execution& x) {
  for (size_t i = 0; i < x.actions.size(); ++i)
    if (x.actions[i].status == action_status::running)
      return self->state.ctx->workers->pending(actions::worker_key{x.id, false, i});
  return false;
}

void resume_one(self_ptr self, const recovery_execution& x, const incident& inc) {
  auto& st = self->state;
  if (st.running.count(inc.id) > 0) {
    // Adopted from the previous incarnation, or resumed already.
    st.log->info("recovery-resume-skipped execution={} incident={} reason=\"already running\"",
                 x.id, x.incident_id);
    return;
  }
  remember(self, inc);
  auto* strategy = st.selector->find(x.strategy_id);
  if (strategy == nullptr) {
    abandon(self, x, "strategy " + x.strategy_id + " no longer exists");
    return;
  }
  auto s = resolved(*strategy, inc);
  if (!recovery::execution_machine::compatible(x, s)) {
    abandon(self, x, "strategy " + x.strategy_id + " changed");
    return;
  }
  st.log->info("recovery-resumed execution={} incident={} strategy={}", x.id, x.incident_id,
               x.strategy_id);
  launch(self, inc,
         recovery::execution_machine::resume(x, s, system_clock_source(),
                                             recovery::default_random_source(),
                                             attempt_in_flight(self, x)));
}

/// Resumes journaled executions (the incident is read for its component).
void resume_journal(self_ptr self, const std::vector<recovery_execution>& unfinished) {
  auto storage = self->state.ctx->lookup("storage");
  for (auto& x : unfinished) {
    if (!storage) {
      abandon(self, x, "storage is not running");
      continue;
    }
    self->request(storage, std::chrono::seconds(10), incident_atom::value, x.incident_id)
      .then(
        [self, x](const std::vector<incident>& found) {
          incident inc;
          inc.id = x.incident_id;
          if (!found.empty())
            inc = found.front();
          resume_one(self, x, inc);
        },
        [self, x](const caf::error& err) {
          self->state.log->error("recovery-resume-failed execution={} error={}", x.id,
                                 self->system().render(err));
        });
  }
}

/// Adopts the incident supervisors a previous incarnation of the manager
/// left running (it crashed; they did not), then runs `k`. Their journals
/// are then not resumed: that would run their actions a second time.
template <class F>
void adopt_live(self_ptr self, F k) {
  std::vector<caf::actor> live;
  for (auto& e : self->state.ctx->dir->list())
    if (e.supervisor == "recovery" && e.name.rfind("incident:", 0) == 0 && e.actor)
      live.push_back(e.actor);
  if (live.empty()) {
    k();
    return;
  }
  auto left = std::make_shared<size_t>(live.size());
  auto one_done = [left, k]() mutable {
    if (--*left == 0)
      k();
  };
  for (auto& sup : live)
    self->request(sup, std::chrono::seconds(5), caf::get_atom::value)
      .then(
        [self, sup, one_done](const std::string& incident_id,
                              const std::string& execution_id) mutable {
          auto& st = self->state;
          st.log->info("incident-supervisor-adopted incident={} execution={}", incident_id,
                       execution_id);
          watch(self, incident_id, execution_id, sup);
          if (auto storage = st.ctx->lookup("storage"))
            self->request(storage, std::chrono::seconds(10), incident_atom::value, incident_id)
              .then(
                [self](const std::vector<incident>& found) {
                  if (!found.empty())
                    remember(self, found.front());
                },
                [](const caf::error&) {});
          one_done();
        },
        [self, sup, one_done](const caf::error& err) mutable {
          // It does not answer: it must be gone before its journal is
          // resumed, or two supervisors would run one execution.
          self->state.log->warn("incident-supervisor-unresponsive error={}; stopping it",
                                self->system().render(err));
          self->state.awaiting_down[sup.address()] = one_done;
          self->monitor(sup);
          self->send_exit(sup, caf::exit_reason::kill);
        });
}

caf::behavior recovery_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.selector = std::make_unique<recovery::strategy_selector>(st.ctx->cfg.strategies);
  // A stop (node shutdown, or the subtree's restart) stops the incident
  // supervisors too: their workers run on, and whoever resumes their
  // journals attaches to them. A crash (chaos, an error) leaves them
  // running for the next incarnation to adopt.
  self->set_exit_handler([self](const caf::exit_msg& em) {
    if (!em.reason)
      return;
    if (em.reason == caf::exit_reason::user_shutdown)
      for (auto& [incident_id, r] : self->state.running)
        self->send_exit(r.supervisor, caf::exit_reason::user_shutdown);
    self->quit(em.reason);
  });
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& s = self->state;
    if (auto w = s.awaiting_down.find(dm.source); w != s.awaiting_down.end()) {
      auto then = std::move(w->second);
      s.awaiting_down.erase(w);
      then();
      return;
    }
    auto i = s.incident_of.find(dm.source);
    if (i == s.incident_of.end())
      return;
    auto incident_id = i->second;
    s.incident_of.erase(i);
    auto r = s.running.find(incident_id);
    if (r != s.running.end() && r->second.supervisor.address() == dm.source) {
      // It died without reporting: its journal says how far it got.
      s.log->error("incident-supervisor-down incident={} execution={} reason={}", incident_id,
                   r->second.execution_id, caf::to_string(dm.reason));
      s.running.erase(r);
      if (auto storage = s.ctx->lookup("storage"))
        self->request(storage, std::chrono::seconds(10), unfinished_atom::value)
          .then(
            [self, incident_id](const std::vector<recovery_execution>& xs) {
              std::vector<recovery_execution> mine;
              for (auto& x : xs)
                if (x.incident_id == incident_id)
                  mine.push_back(x);
              resume_journal(self, mine);
            },
            [](const caf::error&) {});
    }
  });
  // Journal first: unfinished executions from before a restart. Until it
  // is read, other messages wait in the mailbox.
  self->set_default_handler(caf::skip);
  self->send(self, restore_atom::value);
  return {
    [=](restore_atom) {
      auto storage = self->state.ctx->storage_or_retry(self, restore_atom::value);
      if (!storage)
        return;
      adopt_live(self, [self, storage] {
        self->request(storage, std::chrono::seconds(30), unfinished_atom::value)
          .then(
            [self](const std::vector<recovery_execution>& xs) {
              resume_journal(self, xs);
              self->become(running(self));
            },
            [self](const caf::error& err) {
              self->state.log->error("journal-read-failed error={}", self->system().render(err));
              self->become(running(self));
            });
      });
    },
  };
}

caf::behavior running(self_ptr self) {
  self->set_default_handler(caf::print_and_drop);
  return {
    [=](opened_atom, const incident& inc, timestamp fault_time) {
      on_opened(self, inc, fault_time);
    },
    [=](closed_atom, const incident& inc) {
      auto& s = self->state;
      s.open.erase(inc.id);
      if (s.running.count(inc.id) == 0)
        s.ladder.erase(inc.id);
      if (s.running.count(inc.id) > 0) {
        s.closed_while_running[inc.id] = inc.component;
      } else {
        auto done = s.degraded[inc.id];
        done.insert(done.end(), inc.actions.begin(), inc.actions.end());
        restore_degradations(self, inc.id, inc.component, done);
        s.degraded.erase(inc.id);
      }
    },
    [=](done_atom, const recovery_execution& x) {
      auto& s = self->state;
      if (x.status == execution_status::failed || x.status == execution_status::rolled_back)
        alert_unrecovered(self, x);
      for (const auto& a : x.actions)
        if (a.action.type == action_type::service_degradation
            && a.status == action_status::completed)
          s.degraded[x.incident_id].push_back(a);
      if (auto c = s.closed_while_running.find(x.incident_id); c != s.closed_while_running.end()) {
        restore_degradations(self, x.incident_id, c->second, s.degraded[x.incident_id]);
        s.degraded.erase(x.incident_id);
        s.closed_while_running.erase(c);
      }
      auto r = s.running.find(x.incident_id);
      const bool current = r != s.running.end() && r->second.execution_id == x.id;
      if (current) {
        s.incident_of.erase(r->second.supervisor.address());
        s.running.erase(r);
        s.ctx->dir->erase(supervisor_name(x.incident_id));
      }
      auto& l = s.ladder[x.incident_id];
      if (l.empty() || l.back().first != x.strategy_id)
        l.emplace_back(x.strategy_id, std::string{to_string(x.status)});
      else
        l.back().second = std::string{to_string(x.status)};
      record_ladder(self, x.incident_id);
      // Escalate only from the execution that was current, and only while
      // nothing else runs for the incident.
      if ((x.status == execution_status::failed || x.status == execution_status::rolled_back)
          && current && s.running.count(x.incident_id) == 0)
        escalate(self, x);
      if (s.open.count(x.incident_id) == 0 && s.running.count(x.incident_id) == 0) {
        s.ladder.erase(x.incident_id);
        s.degraded.erase(x.incident_id);
      }
    },
  };
}

} // namespace

caf::actor spawn_recovery_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(recovery_actor, std::move(ctx));
}

} // namespace faultd
