#include "faultd/domain.hpp"

#include <array>
#include <tuple>

namespace faultd {

namespace {

template <class E, size_t N>
std::optional<E> parse_enum(std::string_view s, const std::array<std::string_view, N>& names) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s)
      return static_cast<E>(i);
  return std::nullopt;
}

template <class E, size_t N>
std::string_view enum_name(E x, const std::array<std::string_view, N>& names) {
  auto i = static_cast<size_t>(x);
  return i < N ? names[i] : std::string_view{"unknown"};
}

constexpr std::array<std::string_view, 7> fault_type_names{
  "network_timeout",     "service_unavailable", "data_inconsistency", "resource_exhaustion",
  "security_violation", "hardware_failure",    "software_error"};
constexpr std::array<std::string_view, 4> severity_names{"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 8> action_type_names{
  "restart_service", "failover",        "load_balancing", "data_restore",
  "service_degradation", "circuit_breaker", "state_sync", "custom"};
constexpr std::array<std::string_view, 5> execution_status_names{
  "pending", "running", "completed", "failed", "rolled_back"};
constexpr std::array<std::string_view, 6> action_status_names{
  "pending", "running", "completed", "failed", "skipped", "rolled_back"};
constexpr std::array<std::string_view, 2> incident_status_names{"open", "closed"};

template <class E, size_t N>
std::vector<E> all_of(const std::array<std::string_view, N>&) {
  std::vector<E> out;
  for (size_t i = 0; i < N; ++i)
    out.push_back(static_cast<E>(i));
  return out;
}

} // namespace

std::string_view to_string(fault_type x) { return enum_name(x, fault_type_names); }
std::string_view to_string(fault_severity x) { return enum_name(x, severity_names); }
std::string_view to_string(action_type x) { return enum_name(x, action_type_names); }
std::string_view to_string(execution_status x) { return enum_name(x, execution_status_names); }
std::string_view to_string(action_status x) { return enum_name(x, action_status_names); }
std::string_view to_string(incident_status x) { return enum_name(x, incident_status_names); }

std::optional<fault_type> parse_fault_type(std::string_view s) {
  return parse_enum<fault_type>(s, fault_type_names);
}
std::optional<fault_severity> parse_fault_severity(std::string_view s) {
  return parse_enum<fault_severity>(s, severity_names);
}
std::optional<action_type> parse_action_type(std::string_view s) {
  auto t = parse_enum<action_type>(s, action_type_names);
  return t == action_type::custom ? std::nullopt : t;  // a custom type has its own name
}
std::optional<execution_status> parse_execution_status(std::string_view s) {
  return parse_enum<execution_status>(s, execution_status_names);
}
std::optional<action_status> parse_action_status(std::string_view s) {
  return parse_enum<action_status>(s, action_status_names);
}
std::optional<incident_status> parse_incident_status(std::string_view s) {
  return parse_enum<incident_status>(s, incident_status_names);
}

const std::vector<fault_type>& all_fault_types() {
  static const auto xs = all_of<fault_type>(fault_type_names);
  return xs;
}
const std::vector<fault_severity>& all_fault_severities() {
  static const auto xs = all_of<fault_severity>(severity_names);
  return xs;
}
const std::vector<action_type>& all_action_types() {
  static const auto xs = [] {
    auto all = all_of<action_type>(action_type_names);
    all.pop_back();  // custom
    return all;
  }();
  return xs;
}

std::string_view action_name(const recovery_action& a) {
  return a.type == action_type::custom ? std::string_view{a.custom_type} : to_string(a.type);
}

bool operator==(const fault_event& a, const fault_event& b) {
  return std::tie(a.id, a.time, a.type, a.severity, a.component, a.node, a.details, a.metrics,
                  a.request_id, a.source, a.clears)
         == std::tie(b.id, b.time, b.type, b.severity, b.component, b.node, b.details, b.metrics,
                     b.request_id, b.source, b.clears);
}

bool operator==(const recovery_action& a, const recovery_action& b) {
  return std::tie(a.type, a.custom_type, a.target, a.parameters, a.timeout, a.retry_count,
                  a.retry_delay)
         == std::tie(b.type, b.custom_type, b.target, b.parameters, b.timeout, b.retry_count,
                     b.retry_delay);
}

bool operator==(const recovery_strategy& a, const recovery_strategy& b) {
  return std::tie(a.id, a.name, a.description, a.fault_types, a.severity_levels,
                  a.component_pattern, a.priority, a.timeout, a.rollback_enabled, a.actions)
         == std::tie(b.id, b.name, b.description, b.fault_types, b.severity_levels,
                     b.component_pattern, b.priority, b.timeout, b.rollback_enabled, b.actions);
}

bool operator==(const action_execution& a, const action_execution& b) {
  return std::tie(a.action, a.status, a.attempts, a.error, a.started_at, a.ended_at,
                  a.rollback_data)
         == std::tie(b.action, b.status, b.attempts, b.error, b.started_at, b.ended_at,
                     b.rollback_data);
}

bool operator==(const recovery_execution& a, const recovery_execution& b) {
  return std::tie(a.id, a.incident_id, a.strategy_id, a.status, a.started_at, a.ended_at,
                  a.error, a.actions)
         == std::tie(b.id, b.incident_id, b.strategy_id, b.status, b.started_at, b.ended_at,
                     b.error, b.actions);
}

bool operator==(const incident& a, const incident& b) {
  return std::tie(a.id, a.component, a.type, a.severity, a.status, a.node, a.opened_at,
                  a.last_seen_at, a.closed_at, a.event_count, a.first_event_id, a.root_cause,
                  a.impacted, a.flapping, a.close_reason, a.strategy, a.actions,
                  a.recovery_status, a.recovery_error)
         == std::tie(b.id, b.component, b.type, b.severity, b.status, b.node, b.opened_at,
                     b.last_seen_at, b.closed_at, b.event_count, b.first_event_id, b.root_cause,
                     b.impacted, b.flapping, b.close_reason, b.strategy, b.actions,
                     b.recovery_status, b.recovery_error);
}

bool operator==(const alert& a, const alert& b) {
  return std::tie(a.id, a.incident_id, a.time, a.severity, a.component, a.summary)
         == std::tie(b.id, b.incident_id, b.time, b.severity, b.component, b.summary);
}

bool operator==(const state_entry& a, const state_entry& b) {
  return std::tie(a.key, a.value, a.version, a.origin_node, a.checksum, a.tombstone,
                  a.updated_at)
         == std::tie(b.key, b.value, b.version, b.origin_node, b.checksum, b.tombstone,
                     b.updated_at);
}

} // namespace faultd
