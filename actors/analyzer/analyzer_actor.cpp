#include "actors/analyzer/analyzer_actor.hpp"

#include <memory>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "analyzer/analyzer.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

constexpr auto tick_interval = std::chrono::seconds(1);

struct analyzer_state {
  std::unique_ptr<analysis::analyzer> an;
  caf::actor storage;
  caf::actor alerting;
  uint64_t events = 0;
  std::shared_ptr<spdlog::logger> log = log::get("analyzer");
  static inline const char* name = "analyzer";
};

using self_ptr = caf::stateful_actor<analyzer_state>*;

void log_changes(self_ptr self, const analysis::result& r) {
  for (auto& x : r.changed) {
    if (x.status == incident_status::closed)
      self->state.log->info("incident-closed id={} component={} type={} reason=\"{}\"", x.id,
                            x.component, to_string(x.type), x.close_reason);
  }
  if (r.opened || r.reopened)
    for (auto& x : r.changed)
      if (x.id == r.incident_id)
        self->state.log->info("incident-{} id={} component={} type={} severity={} root_cause={}",
                              r.opened ? "opened" : "reopened", x.id, x.component,
                              to_string(x.type), to_string(x.severity),
                              x.root_cause.empty() ? "-" : x.root_cause);
}

/// Hands what changed to storage and alerting; returns the persist request's
/// message so a caller may wait for it.
void publish(self_ptr self, std::vector<fault_event> events, const analysis::result& r) {
  log_changes(self, r);
  for (auto& a : r.alerts)
    self->send(self->state.alerting, alert_atom::value, a);
  if (!events.empty() || !r.changed.empty())
    self->send(self->state.storage, persist_atom::value, std::move(events), r.changed);
}

caf::behavior analyzer_actor(self_ptr self, config cfg, caf::actor storage, caf::actor alerting) {
  auto& st = self->state;
  st.an = std::make_unique<analysis::analyzer>(analysis::make_settings(cfg),
                                               analysis::make_dependency_graph(cfg.services),
                                               system_clock_source());
  st.storage = std::move(storage);
  st.alerting = std::move(alerting);
  self->set_error_handler([self](caf::error& err) {
    self->state.log->warn("analyzer-unexpected-error error={}", self->system().render(err));
  });
  // Restore open incidents before handling anything else.
  self->request(st.storage, caf::infinite, incidents_atom::value, uint32_t{100000}, true)
    .await(
      [=](const std::vector<incident>& open) {
        self->state.an->restore(open);
        if (!open.empty())
          self->state.log->info("incidents-restored open={}", open.size());
      },
      [=](const caf::error& err) {
        self->state.log->error("incidents-restore-failed error={}", self->system().render(err));
      });
  self->delayed_send(self, tick_interval, tick_atom::value);
  return {
    [=](event_atom, const fault_event& e) {
      ++self->state.events;
      auto r = self->state.an->on_event(e);
      publish(self, {e}, r);
    },
    [=](inject_atom, const fault_event& e) -> caf::result<std::string, std::string> {
      ++self->state.events;
      auto r = self->state.an->on_event(e);
      log_changes(self, r);
      for (auto& a : r.alerts)
        self->send(self->state.alerting, alert_atom::value, a);
      auto rp = self->make_response_promise<std::string, std::string>();
      auto event_id = e.id;
      auto incident_id = r.incident_id;
      self->request(self->state.storage, caf::infinite, persist_atom::value,
                    std::vector<fault_event>{e}, r.changed)
        .then([=](bool) mutable { rp.deliver(event_id, incident_id); },
              [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](tick_atom) {
      auto r = self->state.an->tick();
      publish(self, {}, r);
      self->delayed_send(self, tick_interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_analyzer_actor(caf::actor_system& sys, const config& cfg, caf::actor storage,
                                caf::actor alerting) {
  return sys.spawn(analyzer_actor, cfg, std::move(storage), std::move(alerting));
}

} // namespace faultd
