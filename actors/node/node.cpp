#include "actors/node/node.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/alerting/alert_actor.hpp"
#include "actors/analyzer/analyzer_actor.hpp"
#include "actors/control/control_actor.hpp"
#include "actors/detectors/resource_actor.hpp"
#include "actors/detectors/security_actor.hpp"
#include "actors/detectors/service_actor.hpp"
#include "actors/storage/storage_actor.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

/// Watches the node's actors and logs any that dies unexpectedly.
caf::behavior node_monitor(caf::event_based_actor* self, std::vector<caf::actor> watched) {
  for (auto& a : watched)
    self->monitor(a);
  self->set_down_handler([](const caf::down_msg& dm) {
    if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
      log::get("node")->error("actor-down source={} reason={}", caf::to_string(dm.source),
                              caf::to_string(dm.reason));
  });
  return {[](tick_atom) {}};
}

std::vector<caf::actor> all_of(const node_runtime& n) {
  std::vector<caf::actor> xs;
  for (auto* a : {&n.control, &n.resources, &n.security, &n.services, &n.analyzer, &n.alerting,
                  &n.storage})
    if (*a)
      xs.push_back(*a);
  return xs;
}

} // namespace

status start_node(caf::actor_system& sys, const config& cfg, node_runtime& out) {
  auto log = log::get("node");
  node_runtime n;
  if (auto st = spawn_storage_actor(sys, cfg, n.storage); !st.ok())
    return st;
  n.alerting = spawn_alert_actor(sys, n.storage);
  n.analyzer = spawn_analyzer_actor(sys, cfg, n.storage, n.alerting);
  n.services = spawn_service_actor(sys, cfg, n.analyzer);
  n.resources = spawn_resource_actor(sys, cfg, n.analyzer);
  n.security = spawn_security_actor(sys, cfg, n.analyzer);
  n.control = spawn_control_actor(sys, cfg, n.services, n.storage, n.analyzer);
  n.monitor = sys.spawn(node_monitor, all_of(n));
  auto& listen = cfg.node.listen;
  auto port = sys.middleman().publish(n.control, listen.port, listen.host.c_str(), true);
  if (!port) {
    stop_node(sys, n);
    return {errc::io, "cannot listen on " + listen.to_string() + ": " + sys.render(port.error())};
  }
  n.port = *port;
  log->info("control-published address={}:{}", listen.host, n.port);
  out = std::move(n);
  return {};
}

void stop_node(caf::actor_system& sys, node_runtime& node) {
  caf::scoped_actor self{sys};
  if (node.monitor)
    self->send_exit(node.monitor, caf::exit_reason::user_shutdown);
  // Stop in dependency order and wait for each group, so that the managed
  // services are gone before storage closes.
  for (auto* group : {&node.control, &node.resources, &node.security, &node.services,
                      &node.analyzer, &node.alerting, &node.storage}) {
    if (!*group)
      continue;
    if (group == &node.control && node.port != 0)
      sys.middleman().unpublish(node.control, node.port);
    self->monitor(*group);
    self->send_exit(*group, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
    *group = nullptr;
  }
  node.monitor = nullptr;
}

} // namespace faultd
