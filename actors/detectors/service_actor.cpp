#include "actors/detectors/service_actor.hpp"

#include <chrono>
#include <map>
#include <optional>

#include <caf/all.hpp>

#include "actions/circuit_board.hpp"
#include "actions/failover.hpp"
#include "actions/service_degradation.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "process/service_faults.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"
#include "state/maintenance.hpp"
#include "state/placement.hpp"
#include "state/registry.hpp"

namespace faultd {

namespace {

struct service_actor_state {
  std::shared_ptr<node_context> ctx;
  /// Since when this node has seen each of its own `failback: auto`
  /// services placed on another node, with a quorum all along.
  std::map<std::string, std::chrono::steady_clock::time_point> away_since;
  std::optional<std::chrono::steady_clock::time_point> last_tick;
  std::map<std::string, std::string> last_refusal;  ///< logged once per reason
  std::shared_ptr<spdlog::logger> log = log::get("services");
  static inline const char* name = "services";
};

using self_ptr = caf::stateful_actor<service_actor_state>*;

void on_process_event(self_ptr self, const process::event& e) {
  auto& ctx = *self->state.ctx;
  if (e.kind == process::event_kind::started && e.restarts > 0)
    ctx.health->reset(e.service);  // health from before says nothing about the new process
  if (auto own = process::node_fault_of(e, ctx.cfg.node.id)) {
    own->id = make_uuid();
    ctx.send_to("analyzer", event_atom::value, std::move(*own));
  }
  const auto* svc = ctx.cfg.find_service(e.service);
  if (svc == nullptr)
    return;
  auto f = process::fault_of(e, *svc, ctx.cfg.node.id);
  if (!f)
    return;
  f->id = make_uuid();
  if (e.kind == process::event_kind::exited && !e.will_restart && f->clears)
    self->state.log->info("service-completed name={} exit={}", e.service, process::exit_text(e));
  ctx.send_to("analyzer", event_atom::value, std::move(*f));
}

constexpr auto failback_tick = std::chrono::seconds(1);

/// `failback: auto`: a home node takes back a service of its own that has
/// run elsewhere for failback_after, counted from when this node first saw
/// the placement, with a quorum all along. A tick that comes late (this
/// node was frozen or starved) starts every count again: what it saw
/// before may be stale.
void check_failback(self_ptr self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto now = std::chrono::steady_clock::now();
  bool late = st.last_tick && now - *st.last_tick > 3 * failback_tick;
  st.last_tick = now;
  auto view = cluster_view_of(ctx);
  bool quorum = view.alive >= state::quorum_needed(view.quorum, view.known);
  if (late || !quorum)
    st.away_since.clear();
  if (!quorum)
    return;
  for (const auto& svc : ctx.cfg.services) {
    if (!svc.failback_auto || svc.node != ctx.cfg.node.id)
      continue;
    if (state::owner_of(svc, *ctx.registry) == svc.node) {
      st.away_since.erase(svc.name);
      continue;
    }
    auto [it, fresh] = st.away_since.emplace(svc.name, now);
    if (fresh || now - it->second < svc.failback_after)
      continue;
    std::string detail;
    auto res = failback_service(st.ctx, svc.name, detail);
    if (res.ok()) {
      st.log->info("failback-automatic service={} home={} {}", svc.name, svc.node, detail);
      st.away_since.erase(svc.name);
      st.last_refusal.erase(svc.name);
    } else if (st.last_refusal[svc.name] != res.message()) {
      st.last_refusal[svc.name] = res.message();
      st.log->warn("failback-automatic-refused service={} error=\"{}\"", svc.name, res.message());
    }
  }
}

caf::behavior service_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  self->state.ctx = std::move(ctx);
  bool any = false;
  for (const auto& svc : self->state.ctx->cfg.services)
    any = any || (svc.failback_auto && svc.node == self->state.ctx->cfg.node.id);
  if (any)
    self->send(self, tick_atom::value);
  return {
    [=](proc_atom, const process::event& e) { on_process_event(self, e); },
    [=](tick_atom) {
      check_failback(self);
      self->delayed_send(self, failback_tick, tick_atom::value);
    },
  };
}

} // namespace

std::vector<service_status> collect_service_status(const node_context& ctx) {
  std::map<std::string, process::service_snapshot> snaps;
  for (auto& s : ctx.processes->snapshot())
    snaps.emplace(s.name, s);
  auto circuits = ctx.circuits->states();
  std::vector<service_status> out;
  for (auto& svc : ctx.cfg.services) {
    service_status s;
    s.name = svc.name;
    s.command = svc.command;
    s.depends_on = svc.depends_on;
    s.degradation = actions::current_degradation(ctx.cfg, *ctx.registry, svc.name);
    if (auto i = circuits.find(svc.name); i != circuits.end())
      s.circuit = i->second;
    if (auto i = snaps.find(svc.name); i != snaps.end()) {
      s.state = std::string{to_string(i->second.state)};
      s.pid = i->second.pid;
      s.restarts = i->second.restarts;
      s.last_exit = i->second.last_exit;
      s.adopted = i->second.adopted;
    }
    else // configured here, not handed to the process supervisor yet
      s.state = svc.command.empty() ? "unmanaged" : "pending";
    if (!svc.node.empty()) {
      s.runs_on = state::owner_of(svc, *ctx.registry);
      if (auto p = state::placement_of(*ctx.registry, svc.name))
        s.epoch = p->epoch;
      if (snaps.count(svc.name) == 0 && s.runs_on != ctx.cfg.node.id)
        s.state = "standby";
    }
    s.maintenance = ctx.maintenance && ctx.maintenance->contains(svc.name);
    s.checks = ctx.health->checks(svc.name);
    auto checks = ctx.health->summary(svc.name);
    bool running = s.state == "running";
    if (s.state == "unmanaged")
      s.health = s.checks.empty() ? "unknown" : checks;
    else if (s.state == "stopped" || s.state == "standby" || s.state == "pending")
      s.health = s.state;
    else if (s.state == "exited" && s.last_exit == "exit 0")
      s.health = "completed";
    else if (!running)
      s.health = "unhealthy";
    else
      s.health = checks;
    out.push_back(std::move(s));
  }
  return out;
}

caf::actor spawn_service_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(service_actor, std::move(ctx));
}

} // namespace faultd
