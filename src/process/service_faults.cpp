#include "process/service_faults.hpp"

namespace faultd::process {

std::string exit_text(const event& e) {
  if (e.signal)
    return "signal " + std::to_string(*e.signal);
  if (e.exit_code)
    return "exit " + std::to_string(*e.exit_code);
  return "unknown";
}

std::optional<fault_event> node_fault_of(const event& e, const std::string& node_id) {
  if (e.kind != event_kind::spawn_failed)
    return std::nullopt;
  std::string resource;
  if (e.error.find("Too many open files") != std::string::npos)
    resource = "fds";
  else if (e.error.find("Resource temporarily unavailable") != std::string::npos)
    resource = "processes";
  else if (e.error.find("Cannot allocate memory") != std::string::npos)
    resource = "memory";
  else
    return std::nullopt;
  fault_event f;
  f.time = e.at;
  f.type = fault_type::resource_exhaustion;
  f.severity = fault_severity::critical;
  f.component = "resource:" + resource;
  f.node = node_id;
  f.source = "spawn";  // no clearing signal: it closes after a quiet period
  f.details["resource"] = resource;
  f.details["message"] = "faultd could not start " + e.service + ": " + e.error;
  return f;
}

std::optional<fault_event> fault_of(const event& e, const service_config& cfg,
                                    const std::string& node_id) {
  fault_event f;
  f.time = e.at;
  f.type = fault_type::service_unavailable;
  f.component = e.service;
  f.node = node_id;
  f.source = "process";
  f.details["event"] = std::string{to_string(e.kind)};
  f.details["restarts"] = std::to_string(e.restarts);
  if (e.pid > 0)
    f.details["pid"] = std::to_string(e.pid);
  switch (e.kind) {
    case event_kind::exited:
      if (e.was_expected)
        return std::nullopt;
      f.details["exit"] = exit_text(e);
      f.details["restart_policy"] = std::string{to_string(cfg.restart.policy)};
      if (e.will_restart) {
        f.severity = fault_severity::high;
        return f;
      }
      if (e.exit_code && *e.exit_code == 0) {
        // Done, as its policy allows: whatever fault it had is over.
        f.details["event"] = "completed";
        f.severity = fault_severity::low;
        f.clears = true;
        return f;
      }
      if (cfg.restart.policy == restart_policy::always)
        return std::nullopt;  // not restarted only because faultd shuts down
      f.details["recovery"] = "not restarted: restart policy " + std::string{to_string(cfg.restart.policy)};
      f.severity = fault_severity::medium;
      return f;
    case event_kind::started:
      // Running again clears the process fault, whoever started it (its
      // policy, recovery, an operator); with nothing open it is ignored.
      f.severity = fault_severity::low;
      f.clears = true;
      return f;
    case event_kind::storm:
      f.severity = fault_severity::critical;
      f.details["restarts_in_period"] = std::to_string(e.restarts_in_period);
      f.details["backoff"] = human_duration(e.delay);
      return f;
    case event_kind::spawn_failed:
      f.severity = fault_severity::critical;
      f.details["error"] = e.error;
      return f;
    case event_kind::restart_scheduled:
    case event_kind::stopped:
    case event_kind::adopted:
      return std::nullopt;
  }
  return std::nullopt;
}

} // namespace faultd::process
