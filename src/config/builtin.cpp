// The built-in recovery strategies (as the seed defines them) and the
// embedded default config that `faultd` runs on without --config.

#include "faultd/config.hpp"

namespace faultd {

namespace {

recovery_action make_action(action_type type, std::string target,
                            std::map<std::string, std::string> params, int64_t timeout_s,
                            uint32_t retry_count, int64_t retry_delay_s) {
  recovery_action a;
  a.type = type;
  a.target = std::move(target);
  a.parameters = std::move(params);
  a.timeout = seconds_d(timeout_s);
  a.retry_count = retry_count;
  a.retry_delay = seconds_d(retry_delay_s);
  return a;
}

} // namespace

std::map<std::string, recovery_strategy> builtin_strategies() {
  std::map<std::string, recovery_strategy> out;

  recovery_strategy net;
  net.id = "network_timeout";
  net.name = "Network Timeout Recovery";
  net.description = "Handle network timeout faults";
  net.fault_types = {fault_type::network_timeout};
  net.severity_levels = {fault_severity::medium, fault_severity::high};
  net.priority = 100;
  net.timeout = seconds_d(120);
  net.rollback_enabled = true;
  net.actions = {
    make_action(action_type::circuit_breaker, "network_service", {}, 30, 3, 5),
    make_action(action_type::failover, "backup_endpoint", {}, 60, 1, 10),
  };
  out[net.id] = net;

  // A dead member (the membership's node:<id> faults, a crash or a
  // silence): each service it ran moves to its backup, by the backup node
  // itself and only with a quorum (actions/failover.hpp). Above
  // network_timeout, so a node's death does not open a circuit first.
  recovery_strategy node;
  node.id = "node_failure";
  node.name = "Node Failure Recovery";
  node.description = "Move a dead node's services to their backup nodes";
  node.fault_types = {fault_type::hardware_failure, fault_type::network_timeout};
  node.severity_levels = {fault_severity::high, fault_severity::critical};
  node.component_pattern = "node:*";
  node.priority = 300;
  node.timeout = seconds_d(120);
  node.rollback_enabled = false;
  // Retried: a quorum lost for a moment (one more member dying at once)
  // may come back.
  node.actions = {make_action(action_type::failover, "${component}", {}, 30, 3, 2)};
  out[node.id] = node;

  // The seed restarts and then degrades in one strategy, so every restart
  // that works still degrades the service. Built in, degradation is the
  // next rung of the escalation ladder: it runs only when restarting did
  // not help and the fault persists.
  recovery_strategy svc;
  svc.id = "service_unavailable";
  svc.name = "Service Unavailable Recovery";
  svc.description = "Restart an unavailable service";
  svc.fault_types = {fault_type::service_unavailable};
  svc.severity_levels = {fault_severity::high, fault_severity::critical};
  svc.priority = 200;
  svc.timeout = seconds_d(180);
  svc.rollback_enabled = true;
  svc.actions = {
    make_action(action_type::restart_service, "service_name", {}, 60, 3, 10),
  };
  out[svc.id] = svc;

  recovery_strategy degrade;
  degrade.id = "service_unavailable_degrade";
  degrade.name = "Service Unavailable Degradation";
  degrade.description = "Degrade a service that restarting did not bring back";
  degrade.fault_types = {fault_type::service_unavailable};
  degrade.severity_levels = {fault_severity::high, fault_severity::critical};
  degrade.priority = 190;
  degrade.timeout = seconds_d(60);
  degrade.rollback_enabled = true;
  degrade.actions = {
    make_action(action_type::service_degradation, "service_name",
                {{"degradation_level", "basic"}}, 30, 1, 5),
  };
  out[degrade.id] = degrade;

  // The seed rebalanced "overloaded_service", which for a node-wide fault
  // wrote weights for "resource:cpu" that mean nothing. Built in, a service
  // over its limits (high, or critical) is restarted, as monit does: the
  // culprit, named by the fault. A node-wide fault names its top consumers
  // and has no service to act on: its recovery fails and is alerted.
  recovery_strategy res;
  res.id = "resource_exhaustion";
  res.name = "Resource Exhaustion Recovery";
  res.description = "Restart the service that exceeds its limits";
  res.fault_types = {fault_type::resource_exhaustion};
  res.severity_levels = {fault_severity::high, fault_severity::critical};
  res.priority = 150;
  res.timeout = seconds_d(120);
  res.rollback_enabled = false;
  res.actions = {
    make_action(action_type::restart_service, "overloaded_service", {}, 60, 1, 15),
  };
  out[res.id] = res;

  return out;
}

const std::string& default_config_yaml() {
  static const std::string text = R"yaml(# faultd embedded default configuration.
#
# This is what `faultd` runs on when started without --config: one node that
# opens no port (faultctl talks to it over ./faultd-data/control.sock, a
# Unix socket only its user can use), keeps its data there and manages a
# single demo service. Copy it to a file, edit it and start
# `faultd --config FILE` to describe your own services; config/example.yaml
# shows every section with comments.
#
# Durations are written as 250ms, 30s, 5m, 2h or a bare number of seconds.
# Every key left out keeps its default; unknown keys are an error.

node:
  # Unique name of this node in the cluster (--node-id overrides it).
  id: node-1
  # faultctl's endpoint (--control overrides it): by default the Unix socket
  # <data_dir>/control.sock, mode 0600. A TCP endpoint (HOST:PORT) needs
  # control_token_file. The peer port for other nodes (listen: HOST:PORT)
  # stays closed on a single node.
  # Events, incidents, the recovery journal and replicated state live in
  # <data_dir>/faultd.db (--data-dir overrides it).
  data_dir: ./faultd-data

cluster:
  # Other nodes to join through, as HOST:PORT (a node with seeds needs
  # node.listen, its peer port; off loopback that port needs tls:
  # {certificate, key, ca}). Empty: a single node.
  seeds: []

services:
  # A managed service: faultd starts the command itself and learns at once
  # when it dies. `/bin/sleep` stands in for a real gateway or mapper: find
  # its pid with `faultctl services`, kill it with `kill -9 <pid>` and watch
  # faultd start it again and record the incident (`faultctl incidents`).
  - name: demo
    command: ["/bin/sleep", "2147483647"]
    # always | on-failure | never, or a map with policy, burst, period,
    # backoff_initial, backoff_max, backoff_jitter and stop_grace. The policy
    # is law: no recovery restarts a service its policy keeps down. Other
    # keys: stop_signal, user, group, log_max_size, log_keep, limits.
    restart: always

# Recovery strategies: the built-in network_timeout, service_unavailable and
# resource_exhaustion strategies apply. A `strategies:` section with the same
# ids overrides them; new ids add strategies.
)yaml";
  return text;
}

} // namespace faultd
