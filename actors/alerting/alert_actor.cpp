#include "actors/alerting/alert_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

struct alert_state {
  caf::actor storage;
  uint64_t raised = 0;
  std::shared_ptr<spdlog::logger> log = log::get("alerting");
  static inline const char* name = "alerting";
};

caf::behavior alert_actor(caf::stateful_actor<alert_state>* self, caf::actor storage) {
  self->state.storage = std::move(storage);
  self->set_error_handler([self](caf::error& err) {
    self->state.log->warn("alerting-unexpected-error error={}", self->system().render(err));
  });
  return {
    [=](alert_atom, const alert& a) {
      auto& st = self->state;
      ++st.raised;
      auto level = a.severity == fault_severity::critical ? spdlog::level::err : spdlog::level::warn;
      st.log->log(level, "alert-raised id={} incident={} severity={} component={} summary=\"{}\"",
                  a.id, a.incident_id, to_string(a.severity), a.component, a.summary);
      self->send(st.storage, persist_atom::value, a);
    },
  };
}

} // namespace

caf::actor spawn_alert_actor(caf::actor_system& sys, caf::actor storage) {
  return sys.spawn(alert_actor, std::move(storage));
}

} // namespace faultd
