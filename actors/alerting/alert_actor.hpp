#pragma once

// The alerting actor (the seed's Alert Service). For now its sinks are the
// log (warn for high, error for critical, event id "alert-raised") and sqlite
// (through the storage actor); Alertmanager, MQTT and webhooks join it later.
//
// Interface:
//   (alert_atom, alert) -> void      raise one alert

#include <caf/fwd.hpp>

namespace faultd {

/// Spawns the alerting actor; alerts are persisted through `storage`.
caf::actor spawn_alert_actor(caf::actor_system& sys, caf::actor storage);

} // namespace faultd
