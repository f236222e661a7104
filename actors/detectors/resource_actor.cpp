#include "actors/detectors/resource_actor.hpp"

#include <map>

#include <caf/all.hpp>
#include <spdlog/fmt/fmt.h>

#include "actors/type_ids.hpp"
#include "checks/resources.hpp"
#include "checks/service_limits.hpp"
#include "faultd/log.hpp"
#include "process/supervisor.hpp"
#include "process/usage.hpp"

namespace faultd {

namespace {

/// The previous CPU reading of a service's tree.
struct cpu_reading {
  int pid = 0;
  uint64_t ticks = 0;
  std::chrono::steady_clock::time_point at;
};

struct resource_state {
  duration interval{0};
  std::unique_ptr<checks::resource_sampler> sampler;
  std::unique_ptr<checks::resource_monitor> monitor;
  std::unique_ptr<checks::service_limit_monitor> limits;
  process::consumer_tracker consumers;
  std::map<std::string, cpu_reading> cpu;  ///< by service
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<spdlog::logger> log = log::get("resources");
  static inline const char* name = "resources";
};

using self_ptr = caf::stateful_actor<resource_state>*;

/// Measures every running service that has `limits:` and judges it.
void check_service_limits(self_ptr self) {
  auto& s = self->state;
  for (const auto& svc : s.ctx->cfg.services) {
    if (!svc.limits.any())
      continue;
    auto snap = s.ctx->processes->snapshot(svc.name);
    if (!snap || snap->state != process::service_state::running || snap->pid <= 0)
      continue;
    auto tree = process::measure_tree(snap->pid, snap->token);
    checks::service_usage u;
    u.memory_bytes = tree.rss_bytes;
    u.fds = tree.fds;
    u.processes = tree.processes;
    auto now = std::chrono::steady_clock::now();
    auto& prev = s.cpu[svc.name];
    if (prev.pid == snap->pid)
      u.cpu_percent = checks::cpu_percent_between(prev.ticks, tree.cpu_ticks, now - prev.at,
                                                  process::clock_ticks_per_second());
    prev = cpu_reading{snap->pid, tree.cpu_ticks, now};
    if (auto ev = s.limits->observe(svc.name, svc.limits, u)) {
      s.log->info("service-limits-{} name={} message=\"{}\"", ev->clears ? "ok" : "exceeded",
                  svc.name, ev->details["message"]);
      s.ctx->send_to("analyzer", event_atom::value, std::move(*ev));
    }
  }
}

/// Names the biggest consumers in a node-wide memory or CPU fault.
void name_consumers(self_ptr self, fault_event& ev) {
  if (ev.clears)
    return;
  bool memory = ev.component == "resource:memory";
  bool cpu = ev.component == "resource:cpu" || ev.component == "resource:load";
  if (!memory && !cpu)
    return;
  auto top = memory ? self->state.consumers.top_memory(3) : self->state.consumers.top_cpu(3);
  std::string text;
  for (auto& c : top)
    text += (text.empty() ? "" : "; ") + c.label() + " "
            + (memory ? checks::format_bytes(c.rss_bytes) : fmt::format("{:.0f}%", c.cpu_percent));
  if (!text.empty())
    ev.details["top_consumers"] = text;
}

caf::behavior resource_actor(caf::stateful_actor<resource_state>* self,
                             std::shared_ptr<node_context> ctx) {
  auto& cfg = ctx->cfg;
  auto& st = self->state;
  auto& rc = cfg.fault_detection.resources;
  st.ctx = ctx;
  st.interval = rc.interval;
  st.limits = std::make_unique<checks::service_limit_monitor>(cfg.node.id, system_clock_source());
  bool any_limits = false;
  for (const auto& svc : cfg.services)
    any_limits = any_limits || svc.limits.any();
  if (!rc.enabled && !any_limits)
    return {[](tick_atom) {}};
  if (rc.enabled) {
    auto paths = rc.disk_paths.empty() ? std::vector<std::string>{cfg.node.data_dir} : rc.disk_paths;
    st.sampler = std::make_unique<checks::resource_sampler>(checks::proc_source{}, paths);
    st.monitor = std::make_unique<checks::resource_monitor>(rc, cfg.node.id, system_clock_source());
  }
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto& s = self->state;
      if (s.sampler) {
        auto sample = s.sampler->sample();
        for (auto& err : sample.errors)
          s.log->warn("resource-sample-failed error={}", err);
        s.consumers.scan();
        for (auto& ev : s.monitor->observe(sample)) {
          name_consumers(self, ev);
          s.log->info("resource-{} component={} severity={}", ev.clears ? "recovered" : "exhausted",
                      ev.component, to_string(ev.severity));
          s.ctx->send_to("analyzer", event_atom::value, std::move(ev));
        }
      }
      check_service_limits(self);
      self->delayed_send(self, s.interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_resource_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn<caf::detached>(resource_actor, std::move(ctx));
}

} // namespace faultd
