#include "actors/detectors/service_actor.hpp"

#include <map>

#include <caf/all.hpp>

#include "actions/circuit_board.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"
#include "state/registry.hpp"

namespace faultd {

namespace {

struct service_actor_state {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<spdlog::logger> log = log::get("services");
  static inline const char* name = "services";
};

using self_ptr = caf::stateful_actor<service_actor_state>*;

std::string exit_text(const process::event& e) {
  if (e.signal)
    return "signal " + std::to_string(*e.signal);
  if (e.exit_code)
    return "exit " + std::to_string(*e.exit_code);
  return "unknown";
}

fault_event make_fault(const node_context& ctx, const process::event& e, fault_severity sev) {
  fault_event f;
  f.id = make_uuid();
  f.time = e.at;
  f.type = fault_type::service_unavailable;
  f.severity = sev;
  f.component = e.service;
  f.node = ctx.cfg.node.id;
  f.source = "process";
  f.details["event"] = std::string{to_string(e.kind)};
  f.details["restarts"] = std::to_string(e.restarts);
  if (e.pid > 0)
    f.details["pid"] = std::to_string(e.pid);
  return f;
}

void on_process_event(self_ptr self, const process::event& e) {
  auto& ctx = *self->state.ctx;
  switch (e.kind) {
    case process::event_kind::exited: {
      if (e.was_expected)
        return; // the supervisor logged it
      auto f = make_fault(ctx, e, fault_severity::high);
      f.details["exit"] = exit_text(e);
      ctx.send_to("analyzer", event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::started: {
      if (e.restarts == 0)
        return; // first start: nothing to clear
      // Health from before the restart says nothing about the new process.
      ctx.health->reset(e.service);
      auto f = make_fault(ctx, e, fault_severity::low);
      f.clears = true;
      ctx.send_to("analyzer", event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::storm: {
      auto f = make_fault(ctx, e, fault_severity::critical);
      f.details["restarts_in_period"] = std::to_string(e.restarts_in_period);
      f.details["backoff"] = format_duration(e.delay);
      ctx.send_to("analyzer", event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::spawn_failed: {
      auto f = make_fault(ctx, e, fault_severity::critical);
      f.details["error"] = e.error;
      ctx.send_to("analyzer", event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::restart_scheduled:
    case process::event_kind::stopped:
      return;
  }
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
    }
    s.checks = ctx.health->checks(svc.name);
    auto checks = ctx.health->summary(svc.name);
    bool running = s.state == "running";
    if (s.state == "unmanaged")
      s.health = s.checks.empty() ? "unknown" : checks;
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
