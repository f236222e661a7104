#include "storage/proto_convert.hpp"

#include <string>

#include "faultd/v1/domain.pb.h"
#include "storage/wire.hpp"

namespace faultd::storage {

namespace {

// -- UTF-8 -------------------------------------------------------------------

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid
// (truncated, overlong, a surrogate, above U+10FFFF, a stray continuation).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2))
      return 0;
    if (c == 0xE0 && b(1) < 0xA0) // overlong
      return 0;
    if (c == 0xED && b(1) >= 0xA0) // UTF-16 surrogate
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3))
      return 0;
    if (c == 0xF0 && b(1) < 0x90) // overlong
      return 0;
    if (c == 0xF4 && b(1) >= 0x90) // above U+10FFFF
      return 0;
    return 4;
  }
  return 0;
}


// -- enums -------------------------------------------------------------------

// Converts a protobuf enum number to the domain enum `E` with `count` values.
template <class E>
status enum_from(int value, int count, const char* field, E& out) {
  if (value < 0 || value >= count)
    return {errc::malformed_payload,
            std::string{"unknown value "} + std::to_string(value) + " in field " + field};
  out = static_cast<E>(value);
  return {};
}

constexpr int n_fault_types = 7;
constexpr int n_severities = 4;
constexpr int n_action_types = 8;
constexpr int n_execution_statuses = 5;
constexpr int n_action_statuses = 6;
constexpr int n_incident_statuses = 2;

#define FAULTD_TRY(expr)                                                                            \
  do {                                                                                             \
    if (auto st_ = (expr); !st_.ok())                                                              \
      return st_;                                                                                  \
  } while (false)

int64_t ns(duration d) { return d.count(); }

template <class Message>
status parse_message(std::string_view bytes, Message& msg, const char* what) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return {errc::malformed_payload, std::string{"cannot decode "} + what + " from " +
                                       std::to_string(bytes.size()) + " bytes"};
  return {};
}

} // namespace

// `s` with every invalid UTF-8 byte replaced by U+FFFD (see the header).
std::string valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) { // fast path: nothing to replace
    auto n = utf8_sequence_length(s, i);
    if (n == 0)
      break;
    i += n;
  }
  if (i == s.size())
    return std::string{s};
  std::string out{s.substr(0, i)};
  while (i < s.size()) {
    auto n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// -- to_proto ----------------------------------------------------------------

v1::FaultEvent to_proto(const fault_event& x) {
  v1::FaultEvent out;
  out.set_id(valid_utf8(x.id));
  out.set_time_ns(to_unix_nanos(x.time));
  out.set_type(static_cast<v1::FaultType>(x.type));
  out.set_severity(static_cast<v1::FaultSeverity>(x.severity));
  out.set_component(valid_utf8(x.component));
  out.set_node(valid_utf8(x.node));
  auto& details = *out.mutable_details();
  for (auto& [k, v] : x.details)
    details[valid_utf8(k)] = valid_utf8(v);
  auto& metrics = *out.mutable_metrics();
  for (auto& [k, v] : x.metrics)
    metrics[valid_utf8(k)] = v;
  if (x.request_id)
    out.set_request_id(valid_utf8(*x.request_id));
  out.set_source(valid_utf8(x.source));
  out.set_clears(x.clears);
  return out;
}

v1::RecoveryAction to_proto(const recovery_action& x) {
  v1::RecoveryAction out;
  out.set_type(static_cast<v1::ActionType>(x.type));
  out.set_custom_type(valid_utf8(x.custom_type));
  out.set_target(valid_utf8(x.target));
  auto& params = *out.mutable_parameters();
  for (auto& [k, v] : x.parameters)
    params[valid_utf8(k)] = valid_utf8(v);
  out.set_timeout_ns(ns(x.timeout));
  out.set_retry_count(x.retry_count);
  out.set_retry_delay_ns(ns(x.retry_delay));
  return out;
}

v1::RecoveryStrategy to_proto(const recovery_strategy& x) {
  v1::RecoveryStrategy out;
  out.set_id(valid_utf8(x.id));
  out.set_name(valid_utf8(x.name));
  out.set_description(valid_utf8(x.description));
  for (auto t : x.fault_types)
    out.add_fault_types(static_cast<v1::FaultType>(t));
  for (auto s : x.severity_levels)
    out.add_severity_levels(static_cast<v1::FaultSeverity>(s));
  out.set_component_pattern(valid_utf8(x.component_pattern));
  out.set_priority(x.priority);
  out.set_timeout_ns(ns(x.timeout));
  out.set_rollback_enabled(x.rollback_enabled);
  for (auto& a : x.actions)
    *out.add_actions() = to_proto(a);
  return out;
}

v1::ActionExecution to_proto(const action_execution& x) {
  v1::ActionExecution out;
  *out.mutable_action() = to_proto(x.action);
  out.set_status(static_cast<v1::ActionStatus>(x.status));
  out.set_attempts(x.attempts);
  out.set_error(valid_utf8(x.error));
  if (x.started_at)
    out.set_started_at_ns(to_unix_nanos(*x.started_at));
  if (x.ended_at)
    out.set_ended_at_ns(to_unix_nanos(*x.ended_at));
  out.set_rollback_data(x.rollback_data);
  return out;
}

v1::RecoveryExecution to_proto(const recovery_execution& x) {
  v1::RecoveryExecution out;
  out.set_id(valid_utf8(x.id));
  out.set_incident_id(valid_utf8(x.incident_id));
  out.set_strategy_id(valid_utf8(x.strategy_id));
  out.set_status(static_cast<v1::ExecutionStatus>(x.status));
  out.set_started_at_ns(to_unix_nanos(x.started_at));
  if (x.ended_at)
    out.set_ended_at_ns(to_unix_nanos(*x.ended_at));
  out.set_error(valid_utf8(x.error));
  for (auto& a : x.actions)
    *out.add_actions() = to_proto(a);
  return out;
}

v1::Incident to_proto(const incident& x) {
  v1::Incident out;
  out.set_id(valid_utf8(x.id));
  out.set_component(valid_utf8(x.component));
  out.set_type(static_cast<v1::FaultType>(x.type));
  out.set_severity(static_cast<v1::FaultSeverity>(x.severity));
  out.set_status(static_cast<v1::IncidentStatus>(x.status));
  out.set_node(valid_utf8(x.node));
  out.set_opened_at_ns(to_unix_nanos(x.opened_at));
  out.set_last_seen_at_ns(to_unix_nanos(x.last_seen_at));
  if (x.closed_at)
    out.set_closed_at_ns(to_unix_nanos(*x.closed_at));
  out.set_event_count(x.event_count);
  out.set_first_event_id(valid_utf8(x.first_event_id));
  out.set_root_cause(valid_utf8(x.root_cause));
  for (auto& c : x.impacted)
    out.add_impacted(valid_utf8(c));
  out.set_flapping(x.flapping);
  out.set_close_reason(valid_utf8(x.close_reason));
  out.set_strategy(valid_utf8(x.strategy));
  for (auto& a : x.actions)
    *out.add_actions() = to_proto(a);
  if (x.recovery_status)
    out.set_recovery_status(static_cast<v1::ExecutionStatus>(*x.recovery_status));
  out.set_recovery_error(valid_utf8(x.recovery_error));
  for (const auto& rung : x.ladder)
    out.add_ladder(valid_utf8(rung));
  out.set_budget_wait(valid_utf8(x.budget_wait));
  out.set_acknowledged(x.acknowledged);
  return out;
}

v1::Alert to_proto(const alert& x) {
  v1::Alert out;
  out.set_id(valid_utf8(x.id));
  out.set_incident_id(valid_utf8(x.incident_id));
  out.set_time_ns(to_unix_nanos(x.time));
  out.set_severity(static_cast<v1::FaultSeverity>(x.severity));
  out.set_component(valid_utf8(x.component));
  out.set_summary(valid_utf8(x.summary));
  out.set_fault_type(static_cast<v1::FaultType>(x.type));
  out.set_node(valid_utf8(x.node));
  return out;
}

v1::StateEntry to_proto(const state_entry& x) {
  v1::StateEntry out;
  out.set_key(valid_utf8(x.key));
  out.set_value(x.value); // `bytes`: any content
  out.set_version(x.version);
  out.set_origin_node(valid_utf8(x.origin_node));
  out.set_checksum(valid_utf8(x.checksum));
  out.set_tombstone(x.tombstone);
  out.set_updated_at_ns(to_unix_nanos(x.updated_at));
  return out;
}

// -- from_proto --------------------------------------------------------------

status from_proto(const v1::FaultEvent& in, fault_event& out) {
  out.id = in.id();
  out.time = from_unix_nanos(in.time_ns());
  FAULTD_TRY(enum_from(in.type(), n_fault_types, "FaultEvent.type", out.type));
  FAULTD_TRY(enum_from(in.severity(), n_severities, "FaultEvent.severity", out.severity));
  out.component = in.component();
  out.node = in.node();
  out.details.clear();
  for (auto& [k, v] : in.details())
    out.details.emplace(k, v);
  out.metrics.clear();
  for (auto& [k, v] : in.metrics())
    out.metrics.emplace(k, v);
  if (in.has_request_id())
    out.request_id = in.request_id();
  else
    out.request_id.reset();
  out.source = in.source();
  out.clears = in.clears();
  return {};
}

status from_proto(const v1::RecoveryAction& in, recovery_action& out) {
  FAULTD_TRY(enum_from(in.type(), n_action_types, "RecoveryAction.type", out.type));
  out.custom_type = in.custom_type();
  if ((out.type == action_type::custom) == out.custom_type.empty())
    return {errc::malformed_payload, "RecoveryAction.custom_type: "
                                      + std::string{out.custom_type.empty()
                                                      ? "missing for type CUSTOM"
                                                      : "set for a built-in type"}};
  out.target = in.target();
  out.parameters.clear();
  for (auto& [k, v] : in.parameters())
    out.parameters.emplace(k, v);
  out.timeout = duration{in.timeout_ns()};
  out.retry_count = in.retry_count();
  out.retry_delay = duration{in.retry_delay_ns()};
  return {};
}

status from_proto(const v1::RecoveryStrategy& in, recovery_strategy& out) {
  out.id = in.id();
  out.name = in.name();
  out.description = in.description();
  out.fault_types.clear();
  for (int t : in.fault_types()) {
    fault_type x{};
    FAULTD_TRY(enum_from(t, n_fault_types, "RecoveryStrategy.fault_types", x));
    out.fault_types.push_back(x);
  }
  out.severity_levels.clear();
  for (int s : in.severity_levels()) {
    fault_severity x{};
    FAULTD_TRY(enum_from(s, n_severities, "RecoveryStrategy.severity_levels", x));
    out.severity_levels.push_back(x);
  }
  out.component_pattern = in.component_pattern();
  out.priority = in.priority();
  out.timeout = duration{in.timeout_ns()};
  out.rollback_enabled = in.rollback_enabled();
  out.actions.clear();
  out.actions.reserve(static_cast<size_t>(in.actions_size()));
  for (auto& a : in.actions()) {
    out.actions.emplace_back();
    FAULTD_TRY(from_proto(a, out.actions.back()));
  }
  return {};
}

status from_proto(const v1::ActionExecution& in, action_execution& out) {
  FAULTD_TRY(from_proto(in.action(), out.action));
  FAULTD_TRY(enum_from(in.status(), n_action_statuses, "ActionExecution.status", out.status));
  out.attempts = in.attempts();
  out.error = in.error();
  if (in.has_started_at_ns())
    out.started_at = from_unix_nanos(in.started_at_ns());
  else
    out.started_at.reset();
  if (in.has_ended_at_ns())
    out.ended_at = from_unix_nanos(in.ended_at_ns());
  else
    out.ended_at.reset();
  out.rollback_data = in.rollback_data();
  return {};
}

namespace {

template <class Repeated>
status actions_from(const Repeated& in, std::vector<action_execution>& out) {
  out.clear();
  out.reserve(static_cast<size_t>(in.size()));
  for (auto& a : in) {
    out.emplace_back();
    FAULTD_TRY(from_proto(a, out.back()));
  }
  return {};
}

} // namespace

status from_proto(const v1::RecoveryExecution& in, recovery_execution& out) {
  out.id = in.id();
  out.incident_id = in.incident_id();
  out.strategy_id = in.strategy_id();
  FAULTD_TRY(
    enum_from(in.status(), n_execution_statuses, "RecoveryExecution.status", out.status));
  out.started_at = from_unix_nanos(in.started_at_ns());
  if (in.has_ended_at_ns())
    out.ended_at = from_unix_nanos(in.ended_at_ns());
  else
    out.ended_at.reset();
  out.error = in.error();
  return actions_from(in.actions(), out.actions);
}

status from_proto(const v1::Incident& in, incident& out) {
  out.id = in.id();
  out.component = in.component();
  FAULTD_TRY(enum_from(in.type(), n_fault_types, "Incident.type", out.type));
  FAULTD_TRY(enum_from(in.severity(), n_severities, "Incident.severity", out.severity));
  FAULTD_TRY(enum_from(in.status(), n_incident_statuses, "Incident.status", out.status));
  out.node = in.node();
  out.opened_at = from_unix_nanos(in.opened_at_ns());
  out.last_seen_at = from_unix_nanos(in.last_seen_at_ns());
  if (in.has_closed_at_ns())
    out.closed_at = from_unix_nanos(in.closed_at_ns());
  else
    out.closed_at.reset();
  out.event_count = in.event_count();
  out.first_event_id = in.first_event_id();
  out.root_cause = in.root_cause();
  out.impacted.assign(in.impacted().begin(), in.impacted().end());
  out.flapping = in.flapping();
  out.close_reason = in.close_reason();
  out.strategy = in.strategy();
  out.recovery_error = in.recovery_error();
  out.ladder.assign(in.ladder().begin(), in.ladder().end());
  out.budget_wait = in.budget_wait();
  out.acknowledged = in.acknowledged();
  if (in.has_recovery_status()) {
    execution_status es;
    FAULTD_TRY(enum_from(in.recovery_status(), n_execution_statuses, "Incident.recovery_status", es));
    out.recovery_status = es;
  } else {
    out.recovery_status.reset();
  }
  return actions_from(in.actions(), out.actions);
}

status from_proto(const v1::Alert& in, alert& out) {
  out.id = in.id();
  out.incident_id = in.incident_id();
  out.time = from_unix_nanos(in.time_ns());
  FAULTD_TRY(enum_from(in.severity(), n_severities, "Alert.severity", out.severity));
  out.component = in.component();
  out.summary = in.summary();
  FAULTD_TRY(enum_from(in.fault_type(), n_fault_types, "Alert.fault_type", out.type));
  out.node = in.node();
  return {};
}

status from_proto(const v1::StateEntry& in, state_entry& out) {
  out.key = in.key();
  out.value = in.value();
  out.version = in.version();
  out.origin_node = in.origin_node();
  out.checksum = in.checksum();
  out.tombstone = in.tombstone();
  out.updated_at = from_unix_nanos(in.updated_at_ns());
  return {};
}

// -- wire.hpp ----------------------------------------------------------------

std::string serialize(const fault_event& x) { return to_proto(x).SerializeAsString(); }
std::string serialize(const incident& x) { return to_proto(x).SerializeAsString(); }
std::string serialize(const recovery_execution& x) { return to_proto(x).SerializeAsString(); }
std::string serialize(const state_entry& x) { return to_proto(x).SerializeAsString(); }
std::string serialize(const alert& x) { return to_proto(x).SerializeAsString(); }

status parse(std::string_view bytes, fault_event& out) {
  v1::FaultEvent msg;
  FAULTD_TRY(parse_message(bytes, msg, "FaultEvent"));
  return from_proto(msg, out);
}

status parse(std::string_view bytes, incident& out) {
  v1::Incident msg;
  FAULTD_TRY(parse_message(bytes, msg, "Incident"));
  return from_proto(msg, out);
}

status parse(std::string_view bytes, recovery_execution& out) {
  v1::RecoveryExecution msg;
  FAULTD_TRY(parse_message(bytes, msg, "RecoveryExecution"));
  return from_proto(msg, out);
}

status parse(std::string_view bytes, state_entry& out) {
  v1::StateEntry msg;
  FAULTD_TRY(parse_message(bytes, msg, "StateEntry"));
  return from_proto(msg, out);
}

status parse(std::string_view bytes, alert& out) {
  v1::Alert msg;
  FAULTD_TRY(parse_message(bytes, msg, "Alert"));
  return from_proto(msg, out);
}

} // namespace faultd::storage
