#pragma once

// The alerting actor (the seed's Alert Service). Every alert goes to the log
// (warn for high, error for critical, event id "alert-raised"; unless
// alerting.log is false) and to sqlite (through "storage"), then to the
// configured sinks: Alertmanager's API v2, webhooks and an MQTT broker
// (src/alerting/, src/mqtt/). The MQTT sink also gets every incident's
// opened, reopened and closed events.
//
// Each sink has its own bounded queue (src/alerting/outbox.hpp) and its own
// detached poster actor that blocks in curl, so a sink that is slow or down
// never holds up detection, recovery or the other sinks: deliveries are
// retried with backoff, dropped (logged, counted) past their retries or
// when the queue is full, and a sink that fails `down_after` times in a row
// raises one network_timeout fault on component "alerting:<sink>", cleared
// when it delivers again.
//
// Repeat: an alert of an incident that is firing is always sent; a new or
// reopened incident of a group (component + fault type) that fired within
// alerting.repeat_interval is not (logged as alert-repeat-suppressed).
// When an incident closes, what was sent for it is resolved. Queues live in
// memory: alerts still queued when faultd stops are lost to the sinks (they
// stay in sqlite and faultctl).
//
// Interface:
//   (alert_atom, alert) -> void      raise one alert
//   (opened_atom, incident, timestamp) -> void  analyzer: an incident (re)opened
//   (closed_atom, incident) -> void  analyzer: an incident closed

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_alert_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
