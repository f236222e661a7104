#pragma once

// The control protocol (proto/faultd/v1/control.proto) behind a protobuf-free
// interface: the control actor and faultctl include this header only, so no
// CAF-heavy translation unit pulls in protobuf.
//
// A request is a serialized ControlRequest; a reply a serialized
// ControlResponse. faultctl renders a reply as JSON (`--json`, the public
// contract) or as a readable table.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/status.hpp"
#include "control/server.hpp"

namespace faultd::control {

enum class command : uint8_t {
  status,
  faults,
  incidents,
  incident,
  inject,
  strategies,
  services,
  chaos_list_actors,
  chaos_crash_actor,
  checks,          ///< service: "" = all
  incident_ack,    ///< id
  incident_close,  ///< id, reason
  circuit,         ///< service, op: open | close | reset
  degradation,     ///< service, level
  logs,            ///< service, lines, offset
  alerts,          ///< limit
  service_command, ///< service, op: start | stop | restart
  maintenance,     ///< service, on
  reload,          ///< re-read the config file
  members,         ///< the cluster's members
  state,           ///< op (get|put|del|list|report|snapshot|snapshots|restore|sync), key, value, prefix, id
  failback,        ///< service: back to its home node
  devices,         ///< on (silent only), service (the gateway; "" = all)
};

/// A decoded control request. Only the fields of `cmd` are meaningful.
struct request {
  command cmd = command::status;
  int64_t since_ns = 0;   ///< faults: lower bound (0 = none)
  uint32_t limit = 0;     ///< faults, incidents: 0 = default
  bool open_only = false; ///< incidents
  std::string id;         ///< incident; chaos_crash_actor: the actor name
  fault_event event;      ///< inject
  bool dry_run = false;   ///< inject: show, act on nothing
  std::string service;    ///< checks, circuit, degradation, logs, service_command, maintenance
  std::string op;         ///< circuit, service_command
  std::string level;      ///< degradation
  std::string reason;     ///< incident_close
  std::string key;        ///< state get, put, del
  std::string value;      ///< state put
  std::string prefix;     ///< state list, restore
  bool on = false;        ///< maintenance
  uint32_t lines = 0;     ///< logs
  int64_t offset = -1;    ///< logs: -1 = the last `lines`
  uint64_t request_id = 0; ///< echoed in the reply
  std::string token;      ///< for a TCP control endpoint
};

/// Serializes a request (faultctl side).
std::string encode_request(const request& r);

/// Parses request bytes; errc::malformed_payload for bytes that do not
/// decode or carry no command, errc::bad_request for bad field values.
status decode_request(std::string_view bytes, request& out);

/// What the node says about itself in `status`.
struct node_info {
  std::string id;
  std::string address;
  uint32_t uptime_s = 0;
  /// The control endpoint and its counters (server_stats), when known.
  std::string control_address;
  std::optional<server_stats> control;
};

// Reply encoders (node side). Each returns a serialized ControlResponse.
std::string encode_error(errc code, const std::string& message);
std::string encode_status(const node_info& node, const std::vector<member_status>& members,
                          const std::vector<service_status>& services);
std::string encode_faults(const std::vector<fault_event>& events);
std::string encode_incidents(const std::vector<incident>& incidents);
std::string encode_incident(const incident& x);
std::string encode_inject(const std::string& event_id, const std::string& incident_id);
std::string encode_strategies(const std::map<std::string, recovery_strategy>& strategies);
std::string encode_services(const std::vector<service_status>& services);
/// Every check of `services` (each service_status carries its checks).
std::string encode_checks(const std::vector<service_status>& services);

/// One device in `faultctl devices`.
struct device_row {
  std::string id;
  std::string gateway;
  std::string state;
  timestamp last_seen;
  uint64_t interval_ms = 0;
  double phi = 0;
};
std::string encode_devices(const std::vector<device_row>& devices);
/// What a command that acts did (see CommandReply).
std::string encode_command(const std::string& command, const std::string& target,
                           const std::string& outcome, const std::string& detail = "");
std::string encode_logs(const std::string& service, const std::string& path,
                        const std::string& text, int64_t next_offset);
std::string encode_alerts(const std::vector<alert>& alerts);
/// `faultctl members`: this node first, then the others; `local_health` is
/// Lifeguard's multiplier (0 = this node keeps time).
std::string encode_members(const std::vector<member_status>& members, uint32_t local_health);

/// What `inject --dry-run` shows.
struct dry_run {
  fault_event event;
  std::string incident;      ///< what would happen to incidents, one line
  std::string incident_id;   ///< the existing incident it touches, or ""
  const recovery_strategy* strategy = nullptr; ///< the one that would run
  bool alert = false;
  std::string note;
};
std::string encode_dry_run(const dry_run& d);

/// What a reload did.
struct reload_summary {
  std::string source;
  std::vector<std::string> added, removed, changed, unchanged;
};
std::string encode_reload(const reload_summary& r);

/// Whether request bytes ask for a reload (the control front hands those
/// to whoever can reload the node).
bool is_reload_request(std::string_view bytes);

/// One supervised actor as `faultctl chaos list-actors` shows it.
struct actor_info {
  std::string name;
  std::string supervisor;
  uint32_t restarts = 0;
};
std::string encode_actors(const std::vector<actor_info>& actors);
std::string encode_crash(const std::string& name, const std::string& supervisor);

/// The envelope of request bytes, read before the request is handed on:
/// its request id and token. errc::malformed_payload if the bytes are not a
/// ControlRequest or name no command.
status peek_request(std::string_view bytes, uint64_t& request_id, std::string& token);

/// `response` (a serialized ControlResponse) with its request_id set. A
/// response that does not decode becomes an internal error reply.
std::string tag_response(std::string_view response, uint64_t request_id);

/// A decoded reply, rendered for printing (faultctl side).
struct reply {
  uint64_t request_id = 0;
  bool ok = false;
  errc code = errc::ok;
  std::string error; ///< one line, when !ok
  std::string json;  ///< the reply body as one JSON document
  std::string text;  ///< the reply body as readable tables
  int64_t next_offset = -1; ///< logs: where to ask from next (-1: not a logs reply)
};

/// Parses reply bytes; errc::malformed_payload if they do not decode.
status decode_reply(std::string_view bytes, reply& out);

} // namespace faultd::control
