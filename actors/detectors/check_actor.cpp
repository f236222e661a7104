#include "actors/detectors/check_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "checks/health_tracker.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

struct check_state {
  std::string node_id;
  std::string service;
  check_config check;
  caf::actor services;
  caf::actor analyzer;
  std::unique_ptr<checks::health_tracker> tracker;
  std::shared_ptr<spdlog::logger> log = log::get("checks");
  static inline const char* name = "check";
};

using self_ptr = caf::stateful_actor<check_state>*;

void run_once(self_ptr self) {
  auto& st = self->state;
  auto res = checks::run_check(st.check);
  auto transition = st.tracker->record(res.outcome);
  check_status cs;
  cs.name = st.check.name;
  cs.kind = std::string{to_string(st.check.kind)};
  cs.health = std::string{checks::to_string(st.tracker->state())};
  cs.consecutive_failures = st.tracker->consecutive_failures();
  cs.last_error = res.ok() ? std::string{} : res.message;
  self->send(st.services, health_atom::value, st.service, std::move(cs));
  if (!transition)
    return;
  st.log->info("check-transition service={} check={} from={} to={} message=\"{}\"", st.service,
               st.check.name, checks::to_string(transition->from),
               checks::to_string(transition->to), res.message);
  if (auto ev = checks::make_check_event(st.service, st.check, *transition, res, st.node_id,
                                         system_clock_source()))
    self->send(st.analyzer, event_atom::value, std::move(*ev));
}

caf::behavior check_actor(self_ptr self, std::string node_id, std::string service,
                          check_config check, caf::actor services, caf::actor analyzer) {
  auto& st = self->state;
  st.node_id = std::move(node_id);
  st.service = std::move(service);
  st.check = std::move(check);
  st.services = std::move(services);
  st.analyzer = std::move(analyzer);
  st.tracker = std::make_unique<checks::health_tracker>(st.check);
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
  };
}

} // namespace

caf::actor spawn_check_actor(caf::actor_system& sys, const std::string& node_id,
                             const std::string& service, const check_config& check,
                             caf::actor services, caf::actor analyzer) {
  return sys.spawn<caf::detached>(check_actor, node_id, service, check, std::move(services),
                                  std::move(analyzer));
}

} // namespace faultd
