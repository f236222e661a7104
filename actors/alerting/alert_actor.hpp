#pragma once

// The alerting actor (the seed's Alert Service). Its sinks are the log (warn
// for high, error for critical, event id "alert-raised") and sqlite (through
// "storage"); Alertmanager, MQTT and webhooks join it later.
//
// Interface:
//   (alert_atom, alert) -> void      raise one alert

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_alert_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
