#pragma once

// The fault-tolerance domain of faultd (docs/ARCHITECTURE.md, "One node:
// the pipeline"): what a fault is, how severe, what a recovery strategy is made of and how its execution
// is reported. Plain value types with no actor or protobuf in them; the
// protobuf mirrors live in proto/faultd/v1/domain.proto and the conversions
// in src/storage/proto_convert.hpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/time.hpp"

namespace faultd {

/// What went wrong. The names are the YAML/JSON spelling.
enum class fault_type : uint8_t {
  network_timeout,
  service_unavailable,
  data_inconsistency,
  resource_exhaustion,
  security_violation,
  hardware_failure,
  software_error,
};

/// How bad it is; ordered, so `a < b` means `b` is worse.
enum class fault_severity : uint8_t { low, medium, high, critical };

/// What a recovery action does.
enum class action_type : uint8_t {
  restart_service,
  failover,
  load_balancing,
  data_restore,
  service_degradation,
  circuit_breaker,
  state_sync,
  /// A type an embedding application registered by name before the node
  /// started (recovery_action::custom_type names it).
  custom,
};

/// Status of a whole recovery execution.
enum class execution_status : uint8_t { pending, running, completed, failed, rolled_back };

/// Status of one action inside an execution. `rolled_back`: the action had
/// completed and was undone because a later action failed.
enum class action_status : uint8_t { pending, running, completed, failed, skipped, rolled_back };

/// Status of an incident.
enum class incident_status : uint8_t { open, closed };

// Every enum has a `to_string` that gives its YAML/JSON spelling and a
// `parse_*` that accepts exactly that spelling (nullopt otherwise).
std::string_view to_string(fault_type x);
std::string_view to_string(fault_severity x);
std::string_view to_string(action_type x);
std::string_view to_string(execution_status x);
std::string_view to_string(action_status x);
std::string_view to_string(incident_status x);
std::optional<fault_type> parse_fault_type(std::string_view s);
std::optional<fault_severity> parse_fault_severity(std::string_view s);
std::optional<action_type> parse_action_type(std::string_view s);
std::optional<execution_status> parse_execution_status(std::string_view s);
std::optional<action_status> parse_action_status(std::string_view s);
std::optional<incident_status> parse_incident_status(std::string_view s);

/// All values of each enum, in declaration order (for help texts and tests).
const std::vector<fault_type>& all_fault_types();
const std::vector<fault_severity>& all_fault_severities();
/// The built-in action types (all but `custom`, which YAML never names).
const std::vector<action_type>& all_action_types();

/// One observation of a fault, as a detector (or `faultctl inject`) reports it.
struct fault_event {
  std::string id;          ///< UUID v4, unique per event
  timestamp time;          ///< when it was observed
  fault_type type = fault_type::software_error;
  fault_severity severity = fault_severity::medium;
  std::string component;   ///< service, peer or resource the fault is about
  std::string node;        ///< node id that observed it
  std::map<std::string, std::string> details;
  std::map<std::string, double> metrics;
  std::optional<std::string> request_id;
  std::string source;      ///< detector that produced it ("process", "check:http", "inject", ...)
  bool clears = false;     ///< true: the fault on (component, type) is gone
};

/// One step of a recovery strategy.
struct recovery_action {
  action_type type = action_type::restart_service;
  /// type == custom: the registered name (what YAML's `type:` said).
  std::string custom_type;
  std::string target;
  std::map<std::string, std::string> parameters;
  duration timeout = seconds_d(60);
  uint32_t retry_count = 0;   ///< retries after the first try (0 = one try)
  duration retry_delay = seconds_d(1);
};

/// The action's type as YAML spells it: the built-in name, or the
/// registered name of a custom type.
std::string_view action_name(const recovery_action& a);

/// A named, prioritised list of actions for some fault types and severities.
struct recovery_strategy {
  std::string id;
  std::string name;
  std::string description;
  std::vector<fault_type> fault_types;
  std::vector<fault_severity> severity_levels;
  std::string component_pattern;  ///< glob; empty matches every component
  uint32_t priority = 0;          ///< higher wins
  duration timeout = seconds_d(120);
  bool rollback_enabled = true;
  std::vector<recovery_action> actions;
};

/// How one action of an execution went.
struct action_execution {
  recovery_action action;
  action_status status = action_status::pending;
  uint32_t attempts = 0;
  std::string error;
  std::optional<timestamp> started_at;
  std::optional<timestamp> ended_at;
  /// What the executor said its rollback needs (e.g. the previous level),
  /// journaled so a resumed execution can still roll the action back.
  std::string rollback_data;
};

/// One run of a strategy for an incident.
struct recovery_execution {
  std::string id;
  std::string incident_id;
  std::string strategy_id;
  execution_status status = execution_status::pending;
  timestamp started_at;
  std::optional<timestamp> ended_at;
  std::string error;
  std::vector<action_execution> actions;
};

/// A deduplicated, correlated fault: what operators look at.
struct incident {
  std::string id;
  std::string component;
  fault_type type = fault_type::software_error;
  fault_severity severity = fault_severity::medium;  ///< worst seen so far
  incident_status status = incident_status::open;
  std::string node;
  timestamp opened_at;
  timestamp last_seen_at;
  std::optional<timestamp> closed_at;
  uint64_t event_count = 0;          ///< events folded into this incident
  std::string first_event_id;
  std::string root_cause;            ///< incident id that explains this one, if any
  std::vector<std::string> impacted; ///< components that depend on `component`
  bool flapping = false;
  std::string close_reason;
  std::string strategy;              ///< selected strategy id ("" = none yet)
  std::vector<action_execution> actions;
  /// Status and error of the latest recovery execution (none: unset).
  std::optional<execution_status> recovery_status;
  std::string recovery_error;
  /// The escalation ladder: every strategy run for it, in order, as
  /// "<strategy id>=<outcome>" (e.g. "service_unavailable=rolled_back").
  std::vector<std::string> ladder;
  /// An operator acknowledged it (faultctl incident ack): no further alerts.
  bool acknowledged = false;
  /// Why its latest recovery waited before it started, under the cluster
  /// restart budget (recovery.max_concurrent_cluster); "" = it did not wait.
  std::string budget_wait;
};

/// An alert raised for a high or critical incident.
struct alert {
  std::string id;
  std::string incident_id;
  timestamp time;
  fault_severity severity = fault_severity::high;
  std::string component;
  std::string summary;
  fault_type type = fault_type::software_error;  ///< the incident's fault type
  std::string node;                              ///< the node the incident is on
};

/// One entry of the replicated registry (used from the state-sync issue on).
struct state_entry {
  std::string key;
  std::string value;
  uint64_t version = 0;
  std::string origin_node;
  std::string checksum;  ///< hex SHA-256 of value
  bool tombstone = false;
  timestamp updated_at;
};

// Field-wise equality (used by round-trip tests and by the state registry).
bool operator==(const fault_event& a, const fault_event& b);
bool operator==(const recovery_action& a, const recovery_action& b);
bool operator==(const recovery_strategy& a, const recovery_strategy& b);
bool operator==(const action_execution& a, const action_execution& b);
bool operator==(const recovery_execution& a, const recovery_execution& b);
bool operator==(const incident& a, const incident& b);
bool operator==(const alert& a, const alert& b);
bool operator==(const state_entry& a, const state_entry& b);

} // namespace faultd
