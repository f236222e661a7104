#include "actors/detectors/resource_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "checks/resources.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

struct resource_state {
  duration interval{0};
  std::unique_ptr<checks::resource_sampler> sampler;
  std::unique_ptr<checks::resource_monitor> monitor;
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<spdlog::logger> log = log::get("resources");
  static inline const char* name = "resources";
};

caf::behavior resource_actor(caf::stateful_actor<resource_state>* self,
                             std::shared_ptr<node_context> ctx) {
  auto& cfg = ctx->cfg;
  auto& st = self->state;
  auto& rc = cfg.fault_detection.resources;
  st.ctx = ctx;
  st.interval = rc.interval;
  if (!rc.enabled)
    return {[](tick_atom) {}};
  auto paths = rc.disk_paths.empty() ? std::vector<std::string>{cfg.node.data_dir} : rc.disk_paths;
  st.sampler = std::make_unique<checks::resource_sampler>(checks::proc_source{}, paths);
  st.monitor = std::make_unique<checks::resource_monitor>(rc, cfg.node.id, system_clock_source());
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto& s = self->state;
      auto sample = s.sampler->sample();
      for (auto& err : sample.errors)
        s.log->warn("resource-sample-failed error={}", err);
      for (auto& ev : s.monitor->observe(sample)) {
        s.log->info("resource-{} component={} severity={}", ev.clears ? "recovered" : "exhausted",
                    ev.component, to_string(ev.severity));
        s.ctx->send_to("analyzer", event_atom::value, std::move(ev));
      }
      self->delayed_send(self, s.interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_resource_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn<caf::detached>(resource_actor, std::move(ctx));
}

} // namespace faultd
