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
  if (has_control_chars(e.component)) {
    why = "the component holds control characters";
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
                                               std::weak_ptr<node_context> weak) {
  auto log = log::get("embed");
  return {
    [=](event_atom, fault_event e) {
      auto ctx = weak.lock();
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
      auto ctx = weak.lock();
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
                                                   std::weak_ptr<node_context> weak,
                                                   std::map<std::string, std::string> levels) {
  return {
    [=](circuit_atom, const std::string& target) -> caf::result<std::string> {
      auto ctx = weak.lock();
      if (!ctx)
        return stopped_error();
      return ctx->circuits->state(target);
    },
    [=](degrade_atom, const std::string& service) -> caf::result<std::string> {
      auto ctx = weak.lock();
      if (!ctx)
        return stopped_error();
      if (auto level = ctx->registry->get(actions::degradation_key(service)))
        return *level;
      auto i = levels.find(service);
      return i != levels.end() ? i->second : std::string{"full"};
    },
  };
}

} // namespace

fault_intake_actor spawn_fault_intake(caf::actor_system& sys, std::weak_ptr<node_context> ctx) {
  return sys.spawn(fault_intake, std::move(ctx));
}

recovery_state_actor spawn_recovery_state(caf::actor_system& sys, std::weak_ptr<node_context> ctx,
                                          std::map<std::string, std::string> default_levels) {
  return sys.spawn(recovery_state, std::move(ctx), std::move(default_levels));
}

} // namespace faultd
