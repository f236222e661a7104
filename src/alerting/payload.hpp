#pragma once

// What the alert sinks send (README, "Alert sinks"):
//
// - Alertmanager (API v2, POST <alertmanager_url>/api/v2/alerts): a JSON
//   array of alerts, each with the labels alertname ("faultd_<fault type>"),
//   severity, component, node, fault_type and incident, the annotation
//   summary, startsAt, and endsAt once the incident closed (Alertmanager
//   then resolves it). While the incident is open the alert is sent again
//   now and then: Alertmanager resolves an alert it has not heard of for
//   its resolve_timeout (5 minutes by default).
// - Webhooks: one JSON object per notice,
//     {"kind":"firing"|"resolved","alert":{"id","incident","severity",
//      "component","node","fault_type","summary","time"},"ends_at"}
//   ("ends_at" "" while firing).

#include <optional>
#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/time.hpp"

namespace faultd::alerting {

/// One alert as a sink sends it: firing, or resolved at `ends_at`.
struct notice {
  alert a;
  std::optional<timestamp> ends_at;  ///< set: the incident closed then
  bool resolved() const { return ends_at.has_value(); }
};

/// A JSON string literal (quotes included); control characters and
/// invalid UTF-8 bytes are escaped as \u00XX.
std::string json_string(const std::string& s);

/// The body of one POST to Alertmanager's /api/v2/alerts.
std::string alertmanager_body(const std::vector<notice>& notices);

/// The body of one webhook POST.
std::string webhook_body(const notice& n);

/// An incident event on MQTT: {"event":"opened"|"reopened"|"closed",
/// "incident":{"id","component","fault_type","severity","status","node",
/// "opened_at","closed_at","close_reason","root_cause","count"}}.
std::string incident_body(const std::string& event, const incident& x);

/// The alert's identity in Alertmanager (its label set, as text): two
/// notices with the same key are the same Alertmanager alert.
std::string alertmanager_key(const alert& a);

/// The repeat group of an alert: its component and fault type.
std::string group_of(const alert& a);

} // namespace faultd::alerting
