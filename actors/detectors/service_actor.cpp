#include "actors/detectors/service_actor.hpp"

#include <map>

#include <caf/all.hpp>

#include "actions/circuit_board.hpp"
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

caf::behavior service_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  self->state.ctx = std::move(ctx);
  return {
    [=](proc_atom, const process::event& e) { on_process_event(self, e); },
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
    auto level = ctx.registry->get("degradation/" + svc.name);
    s.degradation = level ? *level
                          : (svc.degradation_levels.empty() ? std::string{"full"}
                                                            : svc.degradation_levels.front());
    if (auto i = circuits.find(svc.name); i != circuits.end())
      s.circuit = i->second;
    if (auto i = snaps.find(svc.name); i != snaps.end()) {
      s.state = std::string{to_string(i->second.state)};
      s.pid = i->second.pid;
      s.restarts = i->second.restarts;
      s.last_exit = i->second.last_exit;
      s.adopted = i->second.adopted;
    }
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
    else if (s.state == "stopped" || s.state == "standby")
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
