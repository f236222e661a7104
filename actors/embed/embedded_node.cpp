// faultd/embed.hpp: a node in an application's actor system, the same
// start_node/stop_node the faultd program runs, plus the typed actors the
// application talks to (actors/embed/embed_actors.hpp).

#include "faultd/embed.hpp"

#include <chrono>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "actions/service_degradation.hpp"
#include "actors/embed/embed_actors.hpp"
#include "actors/node/node.hpp"
#include "faultd/log.hpp"

namespace faultd {

parse_options node_extensions::names(parse_options base) const {
  for (const auto& [name, ex] : actions)
    base.action_types.insert(name);
  for (const auto& [name, fn] : checks)
    base.check_types.insert(name);
  return base;
}

struct embedded_node::impl {
  caf::actor_system* sys = nullptr;
  node_runtime rt;
  config cfg;
  std::shared_ptr<incident_listeners> listeners;
  fault_intake_actor intake;
  recovery_state_actor state;
  std::mutex mtx;
  bool stopped = false;
};

embedded_node::embedded_node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

embedded_node::~embedded_node() {
  stop();
}

status embedded_node::start(caf::actor_system& sys, const config& cfg,
                            const node_extensions& ext, std::unique_ptr<embedded_node>& out) {
  auto p = std::make_unique<impl>();
  p->sys = &sys;
  p->cfg = cfg;
  if (auto st = start_node(sys, cfg, p->rt, caf::actor{}, ext); !st.ok())
    return st;
  auto ctx = p->rt.ctx;
  p->listeners = ctx->listeners;
  // Faults sent right after start reach the analyzer either way (they are
  // held for it); an inject needs it running, so start returns once it is.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ctx->lookup("analyzer") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::map<std::string, std::string> levels;
  for (const auto& svc : cfg.services)
    levels[svc.name] = actions::degradation_levels(cfg, svc.name).front();
  p->intake = spawn_fault_intake(sys, ctx);
  p->state = spawn_recovery_state(sys, ctx, std::move(levels));
  log::get("embed")->info("embedded-node-started id={} actions={} checks={}", cfg.node.id,
                          ext.actions.size(), ext.checks.size());
  out.reset(new embedded_node(std::move(p)));
  return {};
}

void embedded_node::stop() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  caf::anon_send_exit(impl_->intake, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(impl_->state, caf::exit_reason::user_shutdown);
  stop_node(*impl_->sys, impl_->rt);
  if (impl_->rt.workers_left > 0)
    log::get("embed")->warn("recovery-actions-still-running count={} (their executors ignore "
                            "their deadline)",
                            impl_->rt.workers_left);
}

fault_intake_actor embedded_node::intake() const {
  return impl_->intake;
}

recovery_state_actor embedded_node::recovery_state() const {
  return impl_->state;
}

void embedded_node::subscribe(const incident_listener_actor& listener) {
  impl_->listeners->add(listener);
}

void embedded_node::unsubscribe(const incident_listener_actor& listener) {
  impl_->listeners->remove(listener);
}

const config& embedded_node::running_config() const {
  return impl_->cfg;
}

} // namespace faultd
