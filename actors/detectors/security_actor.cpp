#include "actors/detectors/security_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "checks/security.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

struct security_state {
  duration interval{0};
  std::unique_ptr<checks::file_watcher> files;
  std::unique_ptr<checks::cert_monitor> certs;
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<spdlog::logger> log = log::get("security");
  static inline const char* name = "security";
};

using self_ptr = caf::stateful_actor<security_state>*;

void report(self_ptr self, std::vector<fault_event> events) {
  for (auto& ev : events) {
    self->state.log->warn("security-{} component={} severity={}",
                          ev.clears ? "recovered" : "violation", ev.component,
                          to_string(ev.severity));
    self->state.ctx->send_to("analyzer", event_atom::value, std::move(ev));
  }
}

caf::behavior security_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  auto& cfg = ctx->cfg;
  auto& st = self->state;
  auto& sc = cfg.fault_detection.security;
  st.ctx = ctx;
  st.interval = sc.interval;
  if (!sc.enabled || (sc.watch_files.empty() && sc.certificates.empty()))
    return {[](tick_atom) {}};
  // The watcher takes its baseline digests now, at start.
  st.files = std::make_unique<checks::file_watcher>(sc, cfg.node.id, system_clock_source());
  st.certs = std::make_unique<checks::cert_monitor>(sc, cfg.node.id, system_clock_source());
  report(self, st.certs->scan());
  self->delayed_send(self, st.interval, tick_atom::value);
  return {
    [=](tick_atom) {
      report(self, self->state.files->scan());
      report(self, self->state.certs->scan());
      self->delayed_send(self, self->state.interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_security_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn<caf::detached>(security_actor, std::move(ctx));
}

} // namespace faultd
