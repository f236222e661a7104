// faultd/embed.hpp: a node in an application's actor system, the same
// start_node/stop_node the faultd program runs, plus the typed actors the
// application talks to (actors/embed/embed_actors.hpp).

#include "faultd/embed.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

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

namespace {

/// One node per process (embed.hpp).
std::atomic<bool> node_running{false};

} // namespace

struct embedded_node::impl {
  caf::actor_system* sys = nullptr;
  node_runtime rt;
  config cfg;
  std::shared_ptr<incident_listeners> listeners;
  node_link link;
  fault_intake_actor intake;
  recovery_state_actor state;
  std::mutex mtx;
  bool stopped = false;
};

embedded_node::embedded_node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

embedded_node::~embedded_node() {
  stop();
  caf::anon_send_exit(impl_->intake, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(impl_->state, caf::exit_reason::user_shutdown);
}

status embedded_node::start(caf::actor_system& sys, const config& cfg,
                            const node_extensions& ext, std::unique_ptr<embedded_node>& out) {
  if (node_running.exchange(true))
    return {errc::bad_request, "a faultd node already runs in this process (one per process)"};
  auto p = std::make_unique<impl>();
  p->sys = &sys;
  p->cfg = cfg;
  if (auto st = start_node(sys, cfg, p->rt, caf::actor{}, ext); !st.ok()) {
    node_running = false;
    return st;
  }
  auto ctx = p->rt.ctx;
  p->listeners = ctx->listeners;
  // Faults sent right after start reach the analyzer either way (they are
  // held for it); an inject needs it running, so start returns once it is.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ctx->lookup("analyzer") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  p->link.ctx = ctx;
  p->intake = spawn_fault_intake(sys, p->link);
  p->state = spawn_recovery_state(sys, p->link);
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
  *impl_->link.running = false;  // the intake and the state refuse from now
  stop_node(*impl_->sys, impl_->rt);
  node_running = false;
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

status embedded_node::subscribe(const incident_listener_actor& listener) {
  if (!listener)
    return {errc::bad_request, "no listener"};
  if (listener.node() != impl_->sys->node())
    return {errc::bad_request,
            "an incident listener must run in this process (incidents are not serialized)"};
  impl_->listeners->add(listener);
  // A listener that terminates is forgotten.
  std::weak_ptr<incident_listeners> weak = impl_->listeners;
  listener->attach_functor([weak, addr = listener.address()] {
    if (auto l = weak.lock())
      l->remove(addr);
  });
  return {};
}

void embedded_node::unsubscribe(const incident_listener_actor& listener) {
  impl_->listeners->remove(listener.address());
}

const config& embedded_node::running_config() const {
  return impl_->cfg;
}

} // namespace faultd
