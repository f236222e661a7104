#include "actors/alerting/alert_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "state/maintenance.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

struct alert_state {
  std::shared_ptr<node_context> ctx;
  uint64_t raised = 0;
  std::shared_ptr<spdlog::logger> log = log::get("alerting");
  static inline const char* name = "alerting";
};

caf::behavior alert_actor(caf::stateful_actor<alert_state>* self,
                          std::shared_ptr<node_context> ctx) {
  self->state.ctx = std::move(ctx);
  return {
    [=](alert_atom, const alert& a) {
      auto& st = self->state;
      if (st.ctx->maintenance && st.ctx->maintenance->contains(a.component)) {
        st.log->info("alert-suppressed id={} incident={} component={} reason=maintenance", a.id,
                     a.incident_id, a.component);
        return;
      }
      ++st.raised;
      auto level = a.severity == fault_severity::critical ? spdlog::level::err : spdlog::level::warn;
      st.log->log(level, "alert-raised id={} incident={} severity={} component={} summary=\"{}\"",
                  a.id, a.incident_id, to_string(a.severity), a.component, a.summary);
      if (!st.ctx->send_to("storage", persist_atom::value, a))
        st.log->error("alert-not-stored id={} reason=\"storage is not running\"", a.id);
    },
  };
}

} // namespace

caf::actor spawn_alert_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(alert_actor, std::move(ctx));
}

} // namespace faultd
