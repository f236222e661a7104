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
#include "membership/board.hpp"
#include "recovery/budget.hpp"
#include "recovery/selector.hpp"
#include "replica/report.hpp"
#include "state/maintenance.hpp"
#include "state/registry.hpp"

namespace faultd {

namespace {

struct running_execution {
  std::string execution_id;
  caf::actor supervisor;
};

/// A strategy waiting for a slot of the cluster restart budget.
struct queued_start {
  incident inc;
  recovery_strategy strategy;
  std::optional<timestamp> fault_time;
};

/// How long a claim takes to reach the other nodes, at most, as the
/// budget assumes (recovery/budget.hpp): a gossip push on a LAN takes
/// milliseconds.
constexpr auto budget_settle = std::chrono::milliseconds(100);
/// How often a node with waiting claims looks at the cluster's claims.
constexpr auto budget_poll = std::chrono::milliseconds(50);

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
  /// The cluster restart budget (recovery.max_concurrent_cluster > 0).
  std::unique_ptr<recovery::cluster_budget> budget;
  std::map<std::string, queued_start> queued;  ///< by incident id
  std::string published;       ///< the claims last written to the replicated map
  bool budget_armed = false;   ///< a budget_atom is on its way
  bool budget_asking = false;  ///< the cluster's claims are being read
  bool budget_local = false;   ///< counting local claims only (logged once)
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
  if (st.budget)
    st.budget->hold(inc.id, system_clock_source().now());
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
  a.node = self->state.ctx->cfg.node.id;
  if (auto i = self->state.open.find(incident_id); i != self->state.open.end()) {
    a.type = i->second.type;
    if (!i->second.node.empty())
      a.node = i->second.node;
  }
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

void run_strategy(self_ptr self, const incident& inc, const recovery_strategy& strategy,
                  std::optional<timestamp> fault_time) {
  launch(self, inc,
         recovery::execution_machine{resolved(strategy, inc), inc.id, make_uuid(),
                                     system_clock_source(), recovery::default_random_source()},
         fault_time);
}

// -- the cluster restart budget ----------------------------------------------

/// Whether another member is alive now (a claim then settles first).
bool peers_alive(self_ptr self) {
  auto& ctx = *self->state.ctx;
  if (!ctx.members)
    return false;
  for (const auto& m : ctx.members->snapshot())
    if (m.id != ctx.cfg.node.id && m.state == membership::member_state::alive)
      return true;
  return false;
}

/// Writes this node's claims to the replicated map when they changed.
void publish_budget(self_ptr self) {
  auto& st = self->state;
  auto now = st.budget->encode();
  if (now == st.published)
    return;
  if (st.ctx->send_if_running("state_sync", sput_atom::value,
                              recovery::budget_key(st.ctx->cfg.node.id), now)) {
    st.published = now;
  } else if (!st.budget_armed) {
    // State sync is not up yet (or restarts): a stale copy of this node's
    // claims would hold slots in the others' eyes, so try again soon.
    st.budget_armed = true;
    self->delayed_send(self, std::chrono::milliseconds(200), budget_atom::value);
  }
}

void arm_budget(self_ptr self, duration delay) {
  auto& st = self->state;
  if (st.budget_armed || !st.budget || st.budget->waiting_count() == 0)
    return;
  st.budget_armed = true;
  self->delayed_send(self, std::max(delay, duration{0}), budget_atom::value);
}

/// A recovery of `incident_id` ended (or will not run): its slot is free.
void release_budget(self_ptr self, const std::string& incident_id) {
  auto& st = self->state;
  if (!st.budget)
    return;
  st.budget->release(incident_id);
  publish_budget(self);
  arm_budget(self, duration{0});
}

/// Starts what the budget lets through, given the other nodes' claims.
void grant_budget(self_ptr self, const std::vector<recovery::budget_claim>& others) {
  auto& st = self->state;
  auto now = system_clock_source().now();
  const bool peers = peers_alive(self);
  for (auto& g : st.budget->grant(others, peers, now)) {
    auto q = st.queued.find(g.incident);
    if (q == st.queued.end()) {
      st.budget->release(g.incident);
      continue;
    }
    auto start = std::move(q->second);
    st.queued.erase(q);
    st.log->info("recovery-budget-granted incident={} strategy={} waited={} why=\"{}\"",
                 g.incident, start.strategy.id, human_duration(g.waited), g.why);
    st.ctx->send_to("analyzer", waited_atom::value, g.incident, g.why);
    // The budget held it past strategy_selection_timeout: a person should
    // know that recoveries queue (the budget may be too small).
    if (g.waited > st.ctx->cfg.recovery.strategy_selection_timeout)
      send_alert(self, g.incident, std::max(start.inc.severity, fault_severity::high),
                 start.inc.component,
                 "recovery of " + start.inc.component + " " + g.why
                   + ", past strategy_selection_timeout "
                   + human_duration(st.ctx->cfg.recovery.strategy_selection_timeout));
    auto& l = st.ladder[g.incident];
    if (!l.empty() && l.back().first == start.strategy.id)
      l.back().second = "running";
    record_ladder(self, g.incident);
    run_strategy(self, start.inc, start.strategy, start.fault_time);
  }
  publish_budget(self);
  if (auto next = st.budget->next_ready(peers))
    arm_budget(self, std::min<duration>(budget_poll, *next - now));
}

/// Reads the claims of the members alive or suspect, then grants.
void check_budget(self_ptr self) {
  auto& st = self->state;
  st.budget_armed = false;
  if (!st.budget)
    return;
  publish_budget(self);
  if (st.budget->waiting_count() == 0 || st.budget_asking)
    return;
  auto local_only = [self](const std::string& why) {
    auto& s = self->state;
    if (!s.budget_local)
      s.log->warn("recovery-budget-local reason=\"{}\"; counting this node's recoveries only",
                  why);
    s.budget_local = true;
    grant_budget(self, {});
  };
  auto sync = st.ctx->lookup("state_sync");
  if (!sync) {
    local_only("state sync is not running");
    return;
  }
  st.budget_asking = true;
  const std::string prefix{recovery::budget_prefix};
  self->request(sync, std::chrono::seconds(1), slist_atom::value, prefix)
    .then(
      [self, prefix, local_only](const replica::state_result& r) {
        auto& s = self->state;
        s.budget_asking = false;
        if (!r.st.ok()) {
          local_only(r.st.to_string());
          return;
        }
        s.budget_local = false;
        std::map<std::string, membership::member_state> seen;
        if (s.ctx->members)
          for (const auto& m : s.ctx->members->snapshot())
            seen[m.id] = m.state;
        std::vector<recovery::budget_claim> others;
        for (const auto& e : r.entries) {
          auto node = e.key.substr(prefix.size());
          auto m = seen.find(node);
          if (node == s.ctx->cfg.node.id || m == seen.end()
              || (m->second != membership::member_state::alive
                  && m->second != membership::member_state::suspect))
            continue;
          size_t bad = 0;
          auto claims = recovery::decode_claims(node, e.value, &bad);
          if (bad > 0)
            s.log->warn("recovery-budget-malformed node={} lines={}", node, bad);
          others.insert(others.end(), claims.begin(), claims.end());
        }
        grant_budget(self, others);
      },
      [self, local_only](const caf::error& err) {
        self->state.budget_asking = false;
        local_only(self->system().render(err));
      });
}

/// Runs `strategy` for `inc` now, or, under the cluster restart budget,
/// once it has a slot (the ladder shows it "waiting" until then).
void start_strategy(self_ptr self, const incident& inc, const recovery_strategy& strategy,
                    std::optional<timestamp> fault_time) {
  auto& st = self->state;
  st.ladder[inc.id].emplace_back(strategy.id, st.budget ? "waiting" : "running");
  record_ladder(self, inc.id);
  if (!st.budget) {
    run_strategy(self, inc, strategy, fault_time);
    return;
  }
  st.budget->claim(inc.id, system_clock_source().now());
  st.queued[inc.id] = queued_start{inc, strategy, fault_time};
  st.log->info("recovery-budget-claimed incident={} strategy={} waiting={} running={}", inc.id,
               strategy.id, st.budget->waiting_count(), st.budget->running_count());
  publish_budget(self);
  arm_budget(self, duration{0});
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
  if (st.running.count(inc.id) > 0 || st.queued.count(inc.id) > 0)
    return; // already recovering (a reopen while its execution runs or waits)
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
    // A device, gateway or alert sink is recovered only when a strategy
    // names it: without one there is nothing to say beyond its own alert.
    if (inc.severity >= st.ctx->cfg.alerting.min_severity
        && !recovery::explicit_only(inc.component))
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
  self->state.ctx->send_to("analyzer", recovery_atom::value, closed);
  release_budget(self, x.incident_id);
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
          if (st.budget)  // it keeps the slot it had
            st.budget->hold(incident_id, system_clock_source().now());
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

/// Strategies that waited for the budget when the manager (or the node)
/// stopped: their incidents are open with a "waiting" last rung and no
/// journal. They ask again (or run, if the budget is off now).
void requeue_waiting(self_ptr self) {
  auto storage = self->state.ctx->lookup("storage");
  if (!storage)
    return;
  self->request(storage, std::chrono::seconds(10), incidents_atom::value, uint32_t{10000}, true)
    .then(
      [self](const std::vector<incident>& open) {
        auto& st = self->state;
        for (const auto& inc : open) {
          if (inc.ladder.empty() || st.running.count(inc.id) > 0 || st.queued.count(inc.id) > 0)
            continue;
          const auto& last = inc.ladder.back();
          auto eq = last.rfind('=');
          if (eq == std::string::npos || last.substr(eq + 1) != "waiting")
            continue;
          auto* strategy = st.selector->find(last.substr(0, eq));
          if (strategy == nullptr)
            continue;
          remember(self, inc);
          auto& l = st.ladder[inc.id];
          if (!l.empty())
            l.pop_back();  // start_strategy adds the rung again
          st.log->info("recovery-budget-requeued incident={} strategy={}", inc.id, strategy->id);
          start_strategy(self, inc, *strategy, std::nullopt);
        }
      },
      [self](const caf::error& err) {
        self->state.log->error("recovery-budget-requeue-failed error={}",
                               self->system().render(err));
      });
}

/// Once the journal is read: this node's claims in the replicated map are
/// replaced (a previous run's are stale), and strategies that waited ask
/// again.
void start_budget(self_ptr self) {
  auto& st = self->state;
  const auto key = recovery::budget_key(st.ctx->cfg.node.id);
  if (st.budget) {
    st.published = "-";  // not what encode() gives: written once at least
    publish_budget(self);
  } else {
    st.ctx->send_if_running("state_sync", sdel_atom::value, key);
  }
  requeue_waiting(self);
}

caf::behavior recovery_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.selector = std::make_unique<recovery::strategy_selector>(st.ctx->cfg.strategies);
  if (auto limit = st.ctx->cfg.recovery.max_concurrent_cluster; limit > 0)
    st.budget = std::make_unique<recovery::cluster_budget>(
      st.ctx->cfg.node.id, limit, budget_settle, st.ctx->cfg.recovery.cluster_jitter,
      recovery::default_random_source());
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
      // It keeps its budget slot while its journal is resumed.
      if (auto storage = s.ctx->lookup("storage"))
        self->request(storage, std::chrono::seconds(10), unfinished_atom::value)
          .then(
            [self, incident_id](const std::vector<recovery_execution>& xs) {
              std::vector<recovery_execution> mine;
              for (auto& x : xs)
                if (x.incident_id == incident_id)
                  mine.push_back(x);
              if (mine.empty())
                release_budget(self, incident_id);
              resume_journal(self, mine);
            },
            [self, incident_id](const caf::error&) { release_budget(self, incident_id); });
      else
        release_budget(self, incident_id);
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
              start_budget(self);
            },
            [self](const caf::error& err) {
              self->state.log->error("journal-read-failed error={}", self->system().render(err));
              self->become(running(self));
              start_budget(self);
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
    [=](budget_atom) { check_budget(self); },
    [=](closed_atom, const incident& inc) {
      auto& s = self->state;
      s.open.erase(inc.id);
      if (auto q = s.queued.find(inc.id); q != s.queued.end()) {
        // Its fault is gone before its recovery had a slot: it never runs.
        auto& l = s.ladder[inc.id];
        if (!l.empty() && l.back().first == q->second.strategy.id)
          l.back().second = "not_run";
        record_ladder(self, inc.id);
        s.log->info("recovery-budget-dropped incident={} strategy={} reason=\"closed while "
                    "waiting\"",
                    inc.id, q->second.strategy.id);
        s.ctx->send_to("analyzer", waited_atom::value, inc.id,
                       std::string{"closed while waiting for the cluster restart budget "
                                   "(max_concurrent_cluster "}
                         + std::to_string(s.budget->limit()) + "): its recovery did not run");
        s.queued.erase(q);
        release_budget(self, inc.id);
      }
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
        release_budget(self, x.incident_id);
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
