#include "actors/embed/embed_actors.hpp"

#include <chrono>

#include <caf/all.hpp>

#include "actions/circuit_board.hpp"
#include "actions/service_degradation.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "state/registry.hpp"

namespace faultd {

namespace {

/// How long an inject waits for the analyzer to store the event.
constexpr auto inject_timeout = std::chrono::seconds(30);

caf::error stopped_error() {
  return caf::make_error(caf::sec::runtime_error, "the faultd node has stopped");
}

/// Fills what a detector of this node would: a fresh id, now, this node,
/// "app". False (and why) for an event the analyzer cannot place.
bool complete(const node_context& ctx, fault_event& e, std::string& why) {
  if (e.component.empty()) {
    why = "a fault event needs a component";
    return false;
  }
  if (static_cast<size_t>(e.type) >= all_fault_types().size()) {
    why = "unknown fault type " + std::to_string(static_cast<int>(e.type));
    return false;
  }
  if (e.severity > fault_severity::critical) {
    why = "unknown severity " + std::to_string(static_cast<int>(e.severity));
    return false;
  }
  for (const auto* field : {&e.component, &e.node, &e.source, &e.id})
    if (has_control_chars(*field)) {
      why = "the component, node, source or id holds control characters";
      return false;
    }
  if (e.id.empty())
    e.id = make_uuid();
  if (e.time.time_since_epoch().count() == 0)
    e.time = system_clock_source().now();
  if (e.node.empty())
    e.node = ctx.cfg.node.id;
  if (e.source.empty())
    e.source = "app";
  return true;
}

fault_intake_actor::behavior_type fault_intake(fault_intake_actor::pointer self,
                                               node_link link) {
  auto log = log::get("embed");
  return {
    [=](event_atom, fault_event e) {
      auto ctx = link.get();
      if (!ctx)
        return;
      std::string why;
      if (!complete(*ctx, e, why)) {
        log->warn("fault-dropped source=app type={} reason=\"{}\"", to_string(e.type), why);
        return;
      }
      ctx->send_to("analyzer", event_atom::value, std::move(e));
    },
    [=](inject_atom, fault_event e) -> caf::result<std::string, std::string> {
      auto ctx = link.get();
      if (!ctx)
        return stopped_error();
      std::string why;
      if (!complete(*ctx, e, why))
        return caf::make_error(caf::sec::runtime_error, why);
      auto analyzer = ctx->lookup("analyzer");
      if (!analyzer)
        return caf::make_error(caf::sec::runtime_error,
                               "the analyzer is restarting: try again");
      auto rp = self->make_response_promise<std::string, std::string>();
      self->request(analyzer, inject_timeout, inject_atom::value, std::move(e))
        .then([=](const std::string& event_id,
                  const std::string& incident_id) mutable { rp.deliver(event_id, incident_id); },
              [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

recovery_state_actor::behavior_type recovery_state(recovery_state_actor::pointer,
                                                   node_link link) {
  return {
    [=](circuit_atom, const std::string& target) -> caf::result<std::string> {
      auto ctx = link.get();
      if (!ctx)
        return stopped_error();
      return ctx->circuits->state(target);
    },
    [=](degrade_atom, const std::string& service) -> caf::result<std::string> {
      auto ctx = link.get();
      if (!ctx)
        return stopped_error();
      // (An embedded node is never reloaded: its config does not change.)
      return actions::current_degradation(ctx->cfg, *ctx->registry, service);
    },
  };
}

} // namespace

fault_intake_actor spawn_fault_intake(caf::actor_system& sys, node_link link) {
  return sys.spawn(fault_intake, std::move(link));
}

recovery_state_actor spawn_recovery_state(caf::actor_system& sys, node_link link) {
  return sys.spawn(recovery_state, std::move(link));
}

} // namespace faultd
