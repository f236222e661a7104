#include "actors/detectors/service_actor.hpp"

#include <map>
#include <memory>

#include <caf/all.hpp>

#include "actors/detectors/check_actor.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "process/supervisor.hpp"

namespace faultd {

namespace {

struct service_entry {
  service_config cfg;
  std::map<std::string, check_status> checks; ///< by check name
  std::string degradation;
  std::string circuit = "closed";
};

struct service_actor_state {
  config cfg;
  caf::actor analyzer;
  std::map<std::string, service_entry> services;
  std::vector<caf::actor> check_actors;
  std::unique_ptr<process::supervisor> sup;
  std::shared_ptr<spdlog::logger> log = log::get("services");
  static inline const char* name = "services";

  ~service_actor_state() {
    if (sup)
      sup->shutdown(); // stops every managed service before the actor is gone
  }
};

using self_ptr = caf::stateful_actor<service_actor_state>*;

std::string exit_text(const process::event& e) {
  if (e.signal)
    return "signal " + std::to_string(*e.signal);
  if (e.exit_code)
    return "exit " + std::to_string(*e.exit_code);
  return "unknown";
}

fault_event make_fault(self_ptr self, const process::event& e, fault_severity sev) {
  fault_event f;
  f.id = make_uuid();
  f.time = e.at;
  f.type = fault_type::service_unavailable;
  f.severity = sev;
  f.component = e.service;
  f.node = self->state.cfg.node.id;
  f.source = "process";
  f.details["event"] = std::string{to_string(e.kind)};
  f.details["restarts"] = std::to_string(e.restarts);
  if (e.pid > 0)
    f.details["pid"] = std::to_string(e.pid);
  return f;
}

void on_process_event(self_ptr self, const process::event& e) {
  auto& st = self->state;
  switch (e.kind) {
    case process::event_kind::exited: {
      if (e.was_expected) {
        return; // the supervisor logged it
      }
      auto f = make_fault(self, e, fault_severity::high);
      f.details["exit"] = exit_text(e);
      self->send(st.analyzer, event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::started: {
      if (e.restarts == 0)
        return; // first start: nothing to clear
      auto f = make_fault(self, e, fault_severity::low);
      f.clears = true;
      self->send(st.analyzer, event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::storm: {
      auto f = make_fault(self, e, fault_severity::critical);
      f.details["restarts_in_period"] = std::to_string(e.restarts_in_period);
      f.details["backoff"] = format_duration(e.delay);
      self->send(st.analyzer, event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::spawn_failed: {
      auto f = make_fault(self, e, fault_severity::critical);
      f.details["error"] = e.error;
      self->send(st.analyzer, event_atom::value, std::move(f));
      return;
    }
    case process::event_kind::restart_scheduled:
    case process::event_kind::stopped:
      return;
  }
}

std::vector<service_status> collect(self_ptr self) {
  auto& st = self->state;
  std::map<std::string, process::service_snapshot> snaps;
  for (auto& s : st.sup->snapshot())
    snaps.emplace(s.name, s);
  std::vector<service_status> out;
  for (auto& [name, entry] : st.services) {
    service_status s;
    s.name = name;
    s.command = entry.cfg.command;
    s.depends_on = entry.cfg.depends_on;
    s.degradation = entry.degradation;
    s.circuit = entry.circuit;
    if (auto i = snaps.find(name); i != snaps.end()) {
      s.state = std::string{to_string(i->second.state)};
      s.pid = i->second.pid;
      s.restarts = i->second.restarts;
      s.last_exit = i->second.last_exit;
    }
    bool any_unhealthy = false;
    bool all_healthy = true;
    for (auto& [cname, c] : entry.checks) {
      s.checks.push_back(c);
      any_unhealthy |= c.health == "unhealthy";
      all_healthy &= c.health == "healthy";
    }
    bool process_ok = s.state == "running" || s.state == "unmanaged";
    if (any_unhealthy || (!process_ok && s.state != "unmanaged"))
      s.health = "unhealthy";
    else if (!entry.checks.empty())
      s.health = all_healthy ? "healthy" : "unknown";
    else
      s.health = s.state == "running" ? "healthy" : "unknown";
    out.push_back(std::move(s));
  }
  return out;
}

caf::behavior service_actor(self_ptr self, config cfg, caf::actor analyzer) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.analyzer = std::move(analyzer);
  process::supervisor_options opts;
  opts.log_dir = st.cfg.node.data_dir + "/logs";
  auto me = caf::actor_cast<caf::actor>(self);
  // Runs on the supervisor thread: hand over and return at once.
  opts.listener = [me](const process::event& e) { caf::anon_send(me, proc_atom::value, e); };
  st.sup = std::make_unique<process::supervisor>(std::move(opts));
  if (!st.sup->init_status().ok())
    st.log->error("supervisor-init-failed error={}", st.sup->init_status().to_string());
  for (auto& svc : st.cfg.services) {
    auto& entry = st.services[svc.name];
    entry.cfg = svc;
    entry.degradation = svc.degradation_levels.empty() ? "full" : svc.degradation_levels.front();
    for (auto& chk : svc.checks) {
      check_status cs;
      cs.name = chk.name;
      cs.kind = std::string{to_string(chk.kind)};
      entry.checks[chk.name] = cs;
      st.check_actors.push_back(
        spawn_check_actor(self->system(), st.cfg.node.id, svc.name, chk, me, st.analyzer));
    }
    st.sup->add(svc); // completion and failures arrive as events
  }
  self->attach_functor([checks = st.check_actors](const caf::error&) {
    for (auto& c : checks)
      caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  });
  return {
    [=](services_atom) { return collect(self); },
    [=](health_atom, const std::string& service, const check_status& cs) {
      auto i = self->state.services.find(service);
      if (i != self->state.services.end())
        i->second.checks[cs.name] = cs;
    },
    [=](proc_atom, const process::event& e) { on_process_event(self, e); },
  };
}

} // namespace

caf::actor spawn_service_actor(caf::actor_system& sys, const config& cfg, caf::actor analyzer) {
  return sys.spawn<caf::detached>(service_actor, cfg, std::move(analyzer));
}

} // namespace faultd
