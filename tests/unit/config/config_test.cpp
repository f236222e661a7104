#include <doctest/doctest.h>

#include <string>

#include <sys/stat.h>

#include "faultd/config.hpp"
#include "support/support.hpp"
#include "support/tls.hpp"

using namespace faultd;

namespace {

/// Parses `yaml` that must be valid; fails the test with the error otherwise.
config parse_ok(const std::string& yaml) {
  auto r = parse_config(yaml, "test.yaml");
  if (!r) {
    FAIL("unexpected config error: " << r.error->to_string());
  }
  return *r.value;
}

/// Parses `yaml` that must be invalid and returns the error.
config_error parse_bad(const std::string& yaml) {
  auto r = parse_config(yaml, "test.yaml");
  REQUIRE_MESSAGE(!r, "config unexpectedly valid");
  REQUIRE(r.error.has_value());
  CHECK(r.error->file == "test.yaml");
  return *r.error;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

#define CHECK_ERROR(e, line_no, substr)                                                           \
  do {                                                                                            \
    CHECK_MESSAGE((e).line == (line_no), (e).to_string());                                        \
    CHECK_MESSAGE(contains((e).message, substr), (e).to_string());                                \
  } while (false)

} // namespace

// -- the seed's file, the default, the example -------------------------------

TEST_CASE("the seed's fault_recovery.yaml loads unchanged with the seed's values") {
  auto path = test::source_dir() + "/config/fault_recovery.yaml";
  auto r = load_config_file(path);
  REQUIRE_MESSAGE(r, (r.error ? r.error->to_string() : ""));
  const auto& c = *r.value;
  CHECK(c.source == path);
  CHECK(c.fault_detection.detection_interval == seconds_d(30));
  CHECK(c.fault_detection.event_retention_hours == 24);
  CHECK(c.fault_detection.alert_threshold == 5);
  CHECK(c.recovery.max_recovery_time == seconds_d(300));
  CHECK(c.recovery.strategy_selection_timeout == seconds_d(30));
  CHECK(c.recovery.action_execution_timeout == seconds_d(60));
  CHECK(c.recovery.rollback_enabled);
  CHECK(c.state_sync.sync_interval == seconds_d(10));
  CHECK(c.state_sync.max_message_size == 1048576);
  CHECK(c.state_sync.retry_count == 3);
  CHECK(c.state_sync.timeout == seconds_d(30));

  REQUIRE(c.strategies.size() == 5); // two from the file over five built-ins
  const auto& su = c.strategies.at("service_unavailable");
  CHECK(su.id == "service_unavailable");
  CHECK(su.name == "Service Unavailable Recovery");
  CHECK(su.priority == 200);
  CHECK(su.timeout == seconds_d(180));
  CHECK(su.rollback_enabled);
  CHECK(su.fault_types == std::vector<fault_type>{fault_type::service_unavailable});
  CHECK(su.severity_levels ==
        std::vector<fault_severity>{fault_severity::high, fault_severity::critical});
  REQUIRE(su.actions.size() == 2);
  CHECK(su.actions[0].type == action_type::restart_service);
  CHECK(su.actions[0].target == "service_name");
  CHECK(su.actions[0].timeout == seconds_d(60));
  CHECK(su.actions[0].retry_count == 3);
  CHECK(su.actions[0].retry_delay == seconds_d(10));
  CHECK(su.actions[1].type == action_type::service_degradation);
  CHECK(su.actions[1].parameters == std::map<std::string, std::string>{{"degradation_level", "basic"}});
  CHECK(su.actions[1].timeout == seconds_d(30));
  CHECK(su.actions[1].retry_count == 1);
  CHECK(su.actions[1].retry_delay == seconds_d(5));

  const auto& nt = c.strategies.at("network_timeout");
  CHECK(nt.priority == 100);
  CHECK(nt.severity_levels ==
        std::vector<fault_severity>{fault_severity::medium, fault_severity::high});
  REQUIRE(nt.actions.size() == 2);
  CHECK(nt.actions[0].type == action_type::circuit_breaker);
  CHECK(nt.actions[0].target == "network_service");
  CHECK(nt.actions[1].type == action_type::failover);
  CHECK(nt.actions[1].target == "backup_endpoint");
  CHECK(nt.actions[1].retry_delay == seconds_d(10));

  // Not in the file: the built-in stays.
  CHECK(c.strategies.at("resource_exhaustion") == builtin_strategies().at("resource_exhaustion"));
  // The sections the seed lacks keep their defaults.
  CHECK(c.node.id == "node-1");
  CHECK(c.services.empty());
}

TEST_CASE("the seed's strategies load as written - the built-in service_unavailable only restarts") {
  auto r = load_config_file(test::source_dir() + "/config/fault_recovery.yaml");
  REQUIRE(r);
  auto b = builtin_strategies();
  CHECK(r.value->strategies.at("network_timeout") == b.at("network_timeout"));
  // The seed restarts then degrades in one strategy; built in, degrading is
  // the next rung of the escalation ladder.
  CHECK(r.value->strategies.at("service_unavailable").actions.size() == 2);
  REQUIRE(b.at("service_unavailable").actions.size() == 1);
  CHECK(b.at("service_unavailable").actions[0].type == action_type::restart_service);
  const auto& degrade = b.at("service_unavailable_degrade");
  CHECK(degrade.priority < b.at("service_unavailable").priority);
  REQUIRE(degrade.actions.size() == 1);
  CHECK(degrade.actions[0].type == action_type::service_degradation);
}

TEST_CASE("built-in strategies are the seed's three, the degradation rung and node failure") {
  auto b = builtin_strategies();
  REQUIRE(b.size() == 5);
  const auto& node = b.at("node_failure");
  CHECK(node.component_pattern == "node:*");
  REQUIRE(node.actions.size() == 1);
  CHECK(node.actions[0].type == action_type::failover);
  CHECK(node.priority > b.at("network_timeout").priority);
  const auto& re = b.at("resource_exhaustion");
  CHECK(re.name == "Resource Exhaustion Recovery");
  CHECK(re.priority == 150);
  CHECK_FALSE(re.rollback_enabled);
  // The culprit is restarted; no weights are written for a resource.
  REQUIRE(re.actions.size() == 1);
  CHECK(re.actions[0].type == action_type::restart_service);
  CHECK(re.actions[0].target == "overloaded_service");
  CHECK(re.severity_levels
        == std::vector<fault_severity>{fault_severity::high, fault_severity::critical});
  CHECK(b.at("network_timeout").name == "Network Timeout Recovery");
  CHECK(b.at("network_timeout").timeout == seconds_d(120));
  CHECK(b.at("service_unavailable").timeout == seconds_d(180));
}

TEST_CASE("the embedded default config parses and manages the demo service") {
  auto r = parse_config(default_config_yaml(), "<embedded default>");
  REQUIRE_MESSAGE(r, (r.error ? r.error->to_string() : ""));
  const auto& c = *r.value;
  CHECK(c.source == "<embedded default>");
  CHECK(c.node.id == "node-1");
  CHECK_FALSE(c.node.listen); // no peer port on a single node
  CHECK(c.node.control_endpoint().to_string() == "unix:./faultd-data/control.sock");
  CHECK(c.node.data_dir == "./faultd-data");
  CHECK(c.db_path() == "./faultd-data/faultd.db");
  CHECK(c.cluster.seeds.empty());
  REQUIRE(c.services.size() == 1);
  const auto* demo = c.find_service("demo");
  REQUIRE(demo != nullptr);
  CHECK(demo->command == std::vector<std::string>{"/bin/sleep", "2147483647"});
  CHECK(demo->restart.policy == restart_policy::always);
  CHECK(c.find_service("nope") == nullptr);
  CHECK(c.strategies == builtin_strategies());
  CHECK(contains(default_config_yaml(), "#")); // commented for users
}

TEST_CASE("config/example.yaml loads and describes the IoT platform") {
  auto r = load_config_file(test::source_dir() + "/config/example.yaml");
  REQUIRE_MESSAGE(r, (r.error ? r.error->to_string() : ""));
  const auto& c = *r.value;
  CHECK(c.node.id == "edge-1");
  CHECK(c.cluster.seeds.empty());  // one node until clustering lands
  const auto* gw = c.find_service("mqtt-gateway");
  const auto* mapper = c.find_service("semantic-mapper");
  REQUIRE(gw != nullptr);
  REQUIRE(mapper != nullptr);
  REQUIRE(gw->checks.size() == 1);
  CHECK(gw->checks[0].kind == check_kind::mqtt);  // a tcp check cannot see a hung broker
  CHECK(gw->checks[0].port == 1883);
  CHECK(gw->checks[0].probe_topic == "faultd/probe/mqtt-gateway");
  CHECK(mapper->depends_on == std::vector<std::string>{"mqtt-gateway"});
  REQUIRE(mapper->checks.size() == 2);
  CHECK(mapper->checks[0].kind == check_kind::http);
  CHECK(mapper->checks[1].kind == check_kind::exec);
  CHECK(mapper->restart.policy == restart_policy::on_failure);
  CHECK(c.strategies.count("gateway_failover") == 1);
  CHECK(c.strategies.at("gateway_failover").component_pattern == "mqtt-*");
  // An action without a timeout takes recovery.action_execution_timeout.
  CHECK(c.strategies.at("gateway_failover").actions[1].timeout == seconds_d(60));
  CHECK(c.strategies.at("mapper_backlog").actions[0].parameters.at("instances") == "mapper-a, mapper-b");
  CHECK(c.db_path() == "./faultd-data/edge-1/faultd.db");
}

TEST_CASE("an empty document gives every default") {
  auto c = parse_ok("");
  CHECK(c.node.id == "node-1");
  CHECK_FALSE(c.node.listen);
  CHECK_FALSE(c.node.control);
  CHECK(c.services.empty());
  CHECK(c.strategies == builtin_strategies());
  CHECK(c.fault_detection.resources.cpu.warning == 90);
}

// -- values -------------------------------------------------------------------

TEST_CASE("durations accept milliseconds, seconds, minutes and bare seconds") {
  auto c = parse_ok(R"(fault_detection:
  dedup_window: 250ms
  flap_window: 30s
recovery:
  max_recovery_time: 5m
  strategy_selection_timeout: 45
)");
  CHECK(c.fault_detection.dedup_window == millis_d(250));
  CHECK(c.fault_detection.flap_window == seconds_d(30));
  CHECK(c.recovery.max_recovery_time == seconds_d(300));
  CHECK(c.recovery.strategy_selection_timeout == seconds_d(45));
}

TEST_CASE("the cluster restart budget is off by default and takes a limit and a jitter") {
  auto d = parse_ok("{}\n");
  CHECK(d.recovery.max_concurrent_cluster == 0);
  CHECK(d.recovery.cluster_jitter == millis_d(250));
  auto c = parse_ok(R"(recovery:
  max_concurrent_cluster: 4
  cluster_jitter: 2s
)");
  CHECK(c.recovery.max_concurrent_cluster == 4);
  CHECK(c.recovery.cluster_jitter == seconds_d(2));
  CHECK_ERROR(parse_bad("recovery:\n  cluster_jitter: 11m\n"), 2,
              "recovery.cluster_jitter: must be at most 10m, got 11m");
  CHECK_ERROR(parse_bad("recovery:\n  max_concurrent_cluster: -1\n"), 2,
              "recovery.max_concurrent_cluster");
}

TEST_CASE("restart given as a bare policy name") {
  auto c = parse_ok(R"(services:
  - name: a
    restart: on-failure
  - name: b
    restart: never
)");
  CHECK(c.services[0].restart.policy == restart_policy::on_failure);
  CHECK(c.services[0].restart.burst == restart_config{}.burst); // rest at defaults
  CHECK(c.services[1].restart.policy == restart_policy::never);
}

TEST_CASE("restart given as a map") {
  auto c = parse_ok(R"(services:
  - name: a
    command: [/bin/true]
    restart:
      policy: on-failure
      burst: 3
      period: 10s
      backoff_initial: 100ms
      backoff_max: 2s
      backoff_jitter: 0.1
      stop_grace: 1s
)");
  const auto& r = c.services[0].restart;
  CHECK(r.policy == restart_policy::on_failure);
  CHECK(r.burst == 3);
  CHECK(r.period == seconds_d(10));
  CHECK(r.backoff_initial == millis_d(100));
  CHECK(r.backoff_max == seconds_d(2));
  CHECK(r.backoff_jitter == doctest::Approx(0.1));
  CHECK(r.stop_grace == seconds_d(1));
}

TEST_CASE("restart policies and check kinds round-trip through their spelling") {
  for (auto p : {restart_policy::always, restart_policy::on_failure, restart_policy::never})
    CHECK(parse_restart_policy(to_string(p)) == p);
  CHECK(to_string(restart_policy::on_failure) == "on-failure");
  CHECK_FALSE(parse_restart_policy("on_failure"));
  for (auto k : {check_kind::tcp, check_kind::http, check_kind::exec})
    CHECK(parse_check_kind(to_string(k)) == k);
  CHECK_FALSE(parse_check_kind("grpc"));
}

TEST_CASE("checks get their kind's fields and default names") {
  auto c = parse_ok(R"(services:
  - name: gw
    checks:
      - type: tcp
        port: 1883
      - type: http
        url: http://127.0.0.1:8080/health
        expected_status: 204
        interval: 500ms
        failure_threshold: 2
        fault: network_timeout
        severity: critical
      - type: exec
        command: [/usr/lib/nagios/plugins/check_load, -w, "5"]
)");
  const auto& checks = c.services[0].checks;
  REQUIRE(checks.size() == 3);
  CHECK(checks[0].name == "tcp");
  CHECK(checks[0].host == "127.0.0.1");
  CHECK(checks[0].port == 1883);
  CHECK(checks[1].name == "http");
  CHECK(checks[1].expected_status == 204);
  CHECK(checks[1].interval == millis_d(500));
  CHECK(checks[1].failure_threshold == 2);
  CHECK(checks[1].fault == fault_type::network_timeout);
  CHECK(checks[1].severity == fault_severity::critical);
  CHECK(checks[2].command ==
        std::vector<std::string>{"/usr/lib/nagios/plugins/check_load", "-w", "5"});
}

TEST_CASE("a new strategy named after a fault type defaults its fault types, severities and name") {
  auto c = parse_ok(R"(strategies:
  data_inconsistency:
    priority: 50
    actions:
      - type: restart_service
        parameters: {command: "systemctl restart x"}
)");
  const auto& s = c.strategies.at("data_inconsistency");
  CHECK(s.name == "data_inconsistency");
  CHECK(s.fault_types == std::vector<fault_type>{fault_type::data_inconsistency});
  CHECK(s.severity_levels == all_fault_severities());
  CHECK(s.priority == 50);
  CHECK(s.actions[0].parameters
        == std::map<std::string, std::string>{{"command", "systemctl restart x"}});
  CHECK(s.actions[0].timeout == c.recovery.action_execution_timeout);
  CHECK(c.strategies.size() == 6);  // five built-ins and this one
}

TEST_CASE("a file's strategy changes only the keys it names of a built-in") {
  auto c = parse_ok(R"(strategies:
  resource_exhaustion:
    priority: 999
    component: "gw-*"
)");
  const auto& s = c.strategies.at("resource_exhaustion");
  CHECK(s.priority == 999);
  CHECK(s.component_pattern == "gw-*");
  CHECK(s.name == "Resource Exhaustion Recovery");
  CHECK(s.actions == builtin_strategies().at("resource_exhaustion").actions);
}

TEST_CASE("an action's absent timeout takes recovery.action_execution_timeout even if given later") {
  auto c = parse_ok(R"(strategies:
  custom:
    fault_types: [software_error]
    actions:
      - type: restart_service
recovery:
  action_execution_timeout: 7s
)");
  CHECK(c.strategies.at("custom").actions[0].timeout == seconds_d(7));
  CHECK(c.strategies.at("custom").actions[0].retry_count == 0);
}

// -- errors: one case per kind ------------------------------------------------

TEST_CASE("an unknown key is an error at its line, with a suggestion") {
  auto e = parse_bad(R"(fault_detection:
  alert_threshold: 5
  detction_interval: 30
)");
  CHECK_ERROR(e, 3, "fault_detection.detction_interval: unknown key");
  CHECK(contains(e.message, "did you mean detection_interval?"));
  CHECK(e.to_string() == "test.yaml:3: " + e.message);
}

TEST_CASE("an unknown top-level section is an error") {
  auto e = parse_bad("node:\n  id: a\nnodes:\n  id: b\n");
  CHECK_ERROR(e, 3, "nodes: unknown key");
}

TEST_CASE("an unknown key deep inside a service is an error naming the full path") {
  auto e = parse_bad(R"(services:
  - name: a
    checks:
      - type: tcp
        port: 80
        retries: 3
)");
  CHECK_ERROR(e, 6, "services[0].checks[0].retries: unknown key");
}

TEST_CASE("an unknown restart policy is an error listing the valid ones") {
  auto e = parse_bad(R"(services:
  - name: gw
    restart: sometimes
)");
  CHECK_ERROR(e, 3,
              "services[0].restart: unknown restart policy \"sometimes\" (expected always, "
              "on-failure, never)");
}

TEST_CASE("an unknown restart policy inside a restart map is an error") {
  auto e = parse_bad(R"(services:
  - name: gw
    restart:
      burst: 2
      policy: on_failure
)");
  CHECK_ERROR(e, 5, "services[0].restart.policy: unknown restart policy \"on_failure\"");
}

TEST_CASE("an unknown check type is an error") {
  auto e = parse_bad(R"(services:
  - name: gw
    checks:
      - type: grpc
)");
  CHECK_ERROR(e, 4, "services[0].checks[0].type: unknown check type \"grpc\" (expected tcp, http, exec, mqtt)");
}

TEST_CASE("an unknown fault type, severity or action type is an error") {
  auto e = parse_bad(R"(strategies:
  custom:
    fault_types: [network_timeout, disk_on_fire]
)");
  CHECK_ERROR(e, 3, "strategies.custom.fault_types[1]: unknown fault type \"disk_on_fire\"");
  auto e2 = parse_bad("alerting:\n  min_severity: urgent\n");
  CHECK_ERROR(e2, 2, "alerting.min_severity: unknown severity \"urgent\" (expected low, medium, high, critical)");
  auto e3 = parse_bad(R"(strategies:
  network_timeout:
    actions:
      - type: reboot_universe
)");
  CHECK_ERROR(e3, 4, "strategies.network_timeout.actions[0].type: unknown action type \"reboot_universe\"");
}

TEST_CASE("a map where a list is expected is an error") {
  auto e = parse_bad(R"(node:
  id: a
services:
  name: gw
)");
  CHECK_ERROR(e, 4, "services: expected a list, got a map");
}

TEST_CASE("a word where an integer is expected is an error") {
  auto e = parse_bad(R"(state_sync:
  retry_count: abc
)");
  CHECK_ERROR(e, 2, "state_sync.retry_count: expected an integer, got \"abc\"");
}

TEST_CASE("a list where a string is expected is an error") {
  auto e = parse_bad(R"(services:
  - name: [a, b]
)");
  CHECK_ERROR(e, 2, "services[0].name: expected a string, got a list");
}

TEST_CASE("a non-boolean where a boolean is expected is an error") {
  auto e = parse_bad("recovery:\n  rollback_enabled: perhaps\n");
  CHECK_ERROR(e, 2, "recovery.rollback_enabled: expected true or false, got \"perhaps\"");
}

TEST_CASE("a parameter value that is a map is an error") {
  auto e = parse_bad(R"(strategies:
  network_timeout:
    actions:
      - type: failover
        parameters:
          nested: {a: 1}
)");
  CHECK_ERROR(e, 6, "strategies.network_timeout.actions[0].parameters.nested: expected a string, got a map");
}

TEST_CASE("a negative count is an error") {
  auto e = parse_bad(R"(strategies:
  network_timeout:
    actions:
      - type: failover
        retry_count: -1
)");
  CHECK_ERROR(e, 5, "strategies.network_timeout.actions[0].retry_count: must not be negative, got -1");
}

TEST_CASE("a count too large for its field is an error") {
  auto e = parse_bad("fault_detection:\n  alert_threshold: 99999999999\n");
  CHECK_ERROR(e, 2, "fault_detection.alert_threshold: out of range");
}

TEST_CASE("a bad duration is an error naming the value") {
  auto e = parse_bad(R"(recovery:
  max_recovery_time: 5 minutes
)");
  CHECK_ERROR(e, 2, "recovery.max_recovery_time: bad duration \"5 minutes\"");
  auto e2 = parse_bad("cluster:\n  heartbeat_interval: -100ms\n");
  CHECK_ERROR(e2, 2, "cluster.heartbeat_interval: bad duration \"-100ms\"");
  auto e3 = parse_bad("cluster:\n\n  heartbeat_interval: 0ms\n");
  CHECK_ERROR(e3, 3, "cluster.heartbeat_interval: must be greater than 0");
}

TEST_CASE("a bad endpoint is an error naming the value") {
  auto e = parse_bad(R"(node:
  listen: localhost
)");
  CHECK_ERROR(e, 2, "node.listen: bad endpoint \"localhost\" (expected HOST:PORT)");
  auto e2 = parse_bad(R"(cluster:
  seeds:
    - 127.0.0.1:7401
    - 127.0.0.1:99999
)");
  CHECK_ERROR(e2, 4, "cluster.seeds[1]: bad endpoint \"127.0.0.1:99999\"");
}

TEST_CASE("a duplicate service name is an error at the second one") {
  auto e = parse_bad(R"(services:
  - name: gw
  - name: mapper
  - name: gw
)");
  CHECK_ERROR(e, 4, "services[2].name: duplicate service name \"gw\" (first at line 2)");
}

TEST_CASE("depends_on naming an unknown service is an error") {
  auto e = parse_bad(R"(services:
  - name: gw
  - name: mapper
    depends_on:
      - gw
      - broker
)");
  CHECK_ERROR(e, 6, "services[1].depends_on[1]: unknown service \"broker\"");
}

TEST_CASE("a dependency cycle is an error") {
  auto e = parse_bad(R"(services:
  - name: a
    depends_on: [b]
  - name: b
    depends_on: [a]
)");
  CHECK_ERROR(e, 5, "services[1].depends_on[0]: dependency cycle: a -> b -> a");
}

TEST_CASE("invalid YAML syntax is an error at the parser's position") {
  auto e = parse_bad("node:\n  id: a\n  seeds: [1, 2\nstorage:\n  path: x\n");
  CHECK(e.line >= 3);
  CHECK(contains(e.message, "invalid YAML"));
  auto e2 = parse_bad("node:\n  id: a\n listen: 1\n");
  CHECK_ERROR(e2, 3, "invalid YAML");
}

TEST_CASE("a new strategy whose id is not a fault type needs fault_types") {
  auto e = parse_bad(R"(strategies:
  gateway_failover:
    priority: 300
    actions:
      - type: failover
)");
  CHECK_ERROR(e, 3, "strategies.gateway_failover.fault_types: required");
}

TEST_CASE("a new strategy without actions is an error") {
  auto e = parse_bad(R"(strategies:
  software_error:
    priority: 10
)");
  CHECK_ERROR(e, 3, "strategies.software_error.actions: required");
}

TEST_CASE("a tcp check without a port and an http check without a url are errors") {
  auto e = parse_bad(R"(services:
  - name: gw
    checks:
      - type: tcp
        host: 127.0.0.1
)");
  CHECK_ERROR(e, 4, "services[0].checks[0].port: required for tcp checks");
  auto e2 = parse_bad(R"(services:
  - name: gw
    checks:
      - type: tcp
        port: 0
)");
  CHECK_ERROR(e2, 5, "services[0].checks[0].port: must be between 1 and 65535");
  auto e3 = parse_bad(R"(services:
  - name: gw
    checks:
      - name: web
        type: http
)");
  CHECK_ERROR(e3, 4, "services[0].checks[0].url: required for http checks");
  auto e4 = parse_bad(R"(services:
  - name: gw
    checks:
      - type: exec
        command: []
)");
  CHECK_ERROR(e4, 5, "services[0].checks[0].command: must not be empty");
}

TEST_CASE("a field of another kind of check is an error") {
  auto e = parse_bad(R"(services:
  - name: gw
    checks:
      - type: tcp
        port: 1883
        url: http://x/
)");
  CHECK_ERROR(e, 6, "services[0].checks[0].url: not valid for a tcp check");
}

TEST_CASE("two checks of one service with the same name are an error") {
  auto e = parse_bad(R"(services:
  - name: gw
    checks:
      - type: tcp
        port: 1883
      - type: tcp
        port: 8883
)");
  CHECK_ERROR(e, 6, "services[0].checks[1].name: duplicate check name \"tcp\" (first at line 4");
}

TEST_CASE("a service without a name is an error") {
  auto e = parse_bad(R"(services:
  - command: [/bin/true]
)");
  CHECK_ERROR(e, 2, "services[0].name: required");
}

TEST_CASE("a duplicate key in one map is an error") {
  auto e = parse_bad("node:\n  id: a\n  id: b\n");
  CHECK_ERROR(e, 3, "node.id: duplicate key (first at line 2)");
}

TEST_CASE("a key with no value where a string is expected is an error at the key") {
  auto e = parse_bad("node:\n  id:\n  data_dir: x\n");
  CHECK_ERROR(e, 2, "node.id: expected a string, got null");
}

TEST_CASE("inconsistent thresholds are an error") {
  auto e = parse_bad(R"(fault_detection:
  resources:
    cpu:
      warning: 95
      critical: 80
)");
  CHECK_ERROR(e, 5, "fault_detection.resources.cpu.critical: must not be less than warning (95)");
  auto e2 = parse_bad(R"(services:
  - name: a
    restart: {backoff_initial: 10s, backoff_max: 1s}
)");
  CHECK_ERROR(e2, 3, "services[0].restart.backoff_max: must not be less than backoff_initial (10s)");
}

TEST_CASE("a document that is not a map is an error") {
  auto e = parse_bad("- a\n- b\n");
  CHECK_ERROR(e, 1, "top level: expected a map, got a list");
}

TEST_CASE("an unreadable file is an error at line 0") {
  test::temp_dir dir;
  auto r = load_config_file(dir.file("missing.yaml"));
  REQUIRE_FALSE(r);
  CHECK(r.error->file == dir.file("missing.yaml"));
  CHECK(r.error->line == 0);
  CHECK(contains(r.error->message, "No such file"));
}

TEST_CASE("an error in a file names the file") {
  test::temp_dir dir;
  test::write_file(dir.file("bad.yaml"), "storage:\n  busy_timeout: soon\n");
  auto r = load_config_file(dir.file("bad.yaml"));
  REQUIRE_FALSE(r);
  CHECK(r.error->to_string() ==
        dir.file("bad.yaml") + ":2: storage.busy_timeout: bad duration \"soon\" (expected e.g. "
                               "250ms, 30s, 5m or a number of seconds)");
}

// -- endpoints, paths, overrides -----------------------------------------------

TEST_CASE("endpoints parse host:port and bracketed IPv6, and print back") {
  auto e = parse_endpoint("10.0.0.5:7400");
  REQUIRE(e);
  CHECK(e->host == "10.0.0.5");
  CHECK(e->port == 7400);
  CHECK(e->to_string() == "10.0.0.5:7400");
  auto v6 = parse_endpoint("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->to_string() == "[::1]:80");
  CHECK(parse_endpoint("localhost:0"));
  CHECK_FALSE(parse_endpoint("localhost"));
  CHECK_FALSE(parse_endpoint(":80"));
  CHECK_FALSE(parse_endpoint("host:"));
  CHECK_FALSE(parse_endpoint("host:65536"));
  CHECK_FALSE(parse_endpoint("host:8o"));
  CHECK_FALSE(parse_endpoint("::1:80"));
  CHECK_FALSE(parse_endpoint("[::1]80"));
  CHECK_FALSE(parse_endpoint("a b:80"));
}

TEST_CASE("db_path is storage.path or data_dir/faultd.db") {
  config c;
  c.node.data_dir = "/var/lib/faultd/";
  CHECK(c.db_path() == "/var/lib/faultd/faultd.db");
  c.storage.path = "/tmp/x.db";
  CHECK(c.db_path() == "/tmp/x.db");
}

TEST_CASE("overrides replace node id, listen address, seeds and data dir") {
  auto c = parse_ok("");
  config_overrides o;
  o.node_id = "edge-7";
  o.listen = "127.0.0.1:7500";
  o.seeds = "";
  o.data_dir = "/srv/faultd";
  auto err = apply_overrides(c, o);
  REQUIRE_FALSE(err);
  CHECK(c.node.id == "edge-7");
  REQUIRE(c.node.listen);
  CHECK(c.node.listen->to_string() == "127.0.0.1:7500");
  CHECK(c.cluster.seeds.empty());
  CHECK(c.node.data_dir == "/srv/faultd");
  config_overrides seeds;
  seeds.seeds = "10.0.0.1:7400,10.0.0.2:7401";
  REQUIRE_FALSE(apply_overrides(c, seeds));
  CHECK(c.cluster.seeds.size() == 2);
  CHECK(c.db_path() == "/srv/faultd/faultd.db");
  // The peer port's rule holds for flags too.
  config_overrides wide;
  wide.listen = "0.0.0.0:7500";
  auto refused = apply_overrides(c, wide);
  REQUIRE(refused);
  CHECK(refused->file == "--listen");
  CHECK(contains(refused->message, "off loopback"));
  CHECK(c.node.listen->to_string() == "127.0.0.1:7500");
  auto alone = parse_ok("");
  config_overrides seeds_only;
  seeds_only.seeds = "127.0.0.1:7400";
  auto no_port = apply_overrides(alone, seeds_only);
  REQUIRE(no_port);
  CHECK(no_port->file == "--seeds");
  CHECK(contains(no_port->message, "needs node.listen"));

  config_overrides none;
  REQUIRE_FALSE(apply_overrides(c, none));
  CHECK(c.node.id == "edge-7");
}

TEST_CASE("a bad override names its flag and leaves the config unchanged") {
  auto c = parse_ok("");
  config_overrides o;
  o.node_id = "edge-7";
  o.listen = "nowhere";
  auto err = apply_overrides(c, o);
  REQUIRE(err);
  CHECK(err->file == "--listen");
  CHECK(err->line == 0);
  CHECK(contains(err->message, "\"nowhere\""));
  CHECK(err->to_string() == "--listen: " + err->message);
  CHECK(c.node.id == "node-1");

  config_overrides s;
  s.seeds = "10.0.0.1:7400,,10.0.0.2:7401";
  auto err2 = apply_overrides(c, s);
  REQUIRE(err2);
  CHECK(err2->file == "--seeds");
  CHECK(contains(err2->message, "bad endpoint \"\""));

  config_overrides id;
  id.node_id = "";
  auto err3 = apply_overrides(c, id);
  REQUIRE(err3);
  CHECK(err3->file == "--node-id");

  config_overrides dir;
  dir.data_dir = "";
  auto err4 = apply_overrides(c, dir);
  REQUIRE(err4);
  CHECK(err4->file == "--data-dir");
}

// -- service process keys: stop_signal, user, group, log rotation ------------

TEST_CASE("stop_signal, user, group and log rotation keys are read with their defaults") {
  auto plain = parse_ok("services:\n  - name: a\n    command: [x]\n");
  CHECK(plain.services[0].stop_signal == 15);
  CHECK(plain.services[0].user.empty());
  CHECK(plain.services[0].log_max_size == 10u << 20);
  CHECK(plain.services[0].log_keep == 3);
  auto c = parse_ok("services:\n"
                    "  - name: a\n"
                    "    command: [x]\n"
                    "    stop_signal: SIGQUIT\n"
                    "    user: nobody\n"
                    "    group: nogroup\n"
                    "    log_max_size: 512KiB\n"
                    "    log_keep: 0\n");
  auto& s = c.services[0];
  CHECK(s.stop_signal == 3);
  CHECK(s.user == "nobody");
  CHECK(s.group == "nogroup");
  CHECK(s.log_max_size == 512u * 1024);
  CHECK(s.log_keep == 0);
  CHECK(parse_ok("services:\n  - name: a\n    command: [x]\n    stop_signal: int\n")
          .services[0].stop_signal == 2);
}

TEST_CASE("bad stop_signal, user, group and log sizes are errors with their line") {
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    stop_signal: SIGFOO\n"), 4,
              "services[0].stop_signal: unknown or unusable stop signal \"SIGFOO\"");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    stop_signal: SIGSTOP\n"), 4,
              "unusable stop signal");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    user: no-such-user-x\n"), 4,
              "services[0].user: unknown user \"no-such-user-x\"");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    group: no-such-group-x\n"),
              4, "services[0].group: unknown group");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    log_max_size: 10 potatoes\n"),
              4, "services[0].log_max_size: expected a size");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    log_max_size: 100\n"), 4,
              "at least 4KiB");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    log_keep: -1\n"), 4,
              "services[0].log_keep");
}

TEST_CASE("sizes and signals parse in their usual spellings and refuse the rest") {
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("10MiB") == 10u << 20);
  CHECK(parse_size("1GB") == 1000000000u);
  CHECK(parse_size("2KB") == 2000u);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("MiB"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("1.5MiB"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("18446744073709551615GiB"));
  CHECK(parse_signal("SIGTERM") == 15);
  CHECK(parse_signal("quit") == 3);
  CHECK(parse_signal("9") == 9);
  CHECK_FALSE(parse_signal("SIGWHAT"));
  CHECK_FALSE(parse_signal("64"));
  CHECK(signal_name(3) == "SIGQUIT");
}

TEST_CASE("service limits read memory, cpu and fds, and refuse nonsense") {
  auto c = parse_ok("services:\n  - name: a\n    command: [x]\n"
                    "    limits: {memory: 512MiB, cpu: 90%, fds: 4096}\n");
  auto& l = c.services[0].limits;
  CHECK(l.memory == 512ull << 20);
  CHECK(l.cpu == 90.0);
  CHECK(l.fds == 4096u);
  CHECK(l.failure_threshold == 3);
  CHECK(parse_ok("services:\n  - name: a\n    command: [x]\n    limits: {cpu: 250}\n")
          .services[0].limits.cpu == 250.0);
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    limits: {memory: lots}\n"),
              4, "services[0].limits.memory: expected a size");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    limits: {cpu: -5%}\n"), 4,
              "services[0].limits.cpu: expected a percentage");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    limits: {}\n"), 4,
              "names no limit");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [x]\n    limits: {disk: 1GB}\n"), 4,
              "disk");
}

// -- holes: what used to be accepted and then misbehaved ---------------------

TEST_CASE("a directory given as the config file is an error, not an empty config") {
  test::temp_dir dir;
  auto r = load_config_file(dir.path());
  REQUIRE_FALSE(r);
  CHECK(r.error->file == dir.path());
  CHECK(contains(r.error->message, "is a directory"));
}

TEST_CASE("durations too large for a nanosecond count are refused as too large") {
  // 18446744074s wrapped around to ~290ms; 9300000000s came out negative.
  CHECK_FALSE(parse_duration("18446744074s"));
  CHECK_FALSE(parse_duration("9300000000s"));
  CHECK_FALSE(parse_duration("99999999999999999999999"));
  CHECK(parse_duration("106751d"));
  CHECK_FALSE(parse_duration("106752d"));
  CHECK(duration_too_large("9300000000s"));
  CHECK_FALSE(duration_too_large("5x"));
  CHECK_ERROR(parse_bad("fault_detection:\n  detection_interval: 18446744074s\n"), 2,
              "fault_detection.detection_interval: duration \"18446744074s\" is too large");
  CHECK_ERROR(parse_bad("fault_detection:\n  detection_interval: 9300000000s\n"), 2, "too large");
}

TEST_CASE("an empty command is an error, not a silently unmanaged service") {
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: []\n"), 3,
              "services[0].command: must not be empty");
}

TEST_CASE("a second YAML document in the file is an error at its line") {
  auto e = parse_bad("node:\n  id: a\n---\nnode:\n  id: b\n");
  CHECK(e.line == 4);
  CHECK(contains(e.message, "second YAML document"));
}

TEST_CASE("with environment checks, a missing or non-executable program and a missing working_dir are errors") {
  parse_options env;
  env.check_environment = true;
  auto bad = [&](const std::string& yaml) {
    auto r = parse_config(yaml, "test.yaml", env);
    return r ? config_error{"test.yaml", 0, "unexpectedly valid"} : *r.error;
  };
  auto e1 = bad("services:\n  - name: a\n    command: [no-such-program-here, x]\n");
  CHECK_ERROR(e1, 3, "services[0].command[0]: program \"no-such-program-here\" not found in PATH");
  test::temp_dir dir;
  test::write_file(dir.file("plain"), "not a program\n");
  auto e2 = bad("services:\n  - name: a\n    command: [" + dir.file("plain") + "]\n");
  CHECK_ERROR(e2, 3, "program \"" + dir.file("plain") + "\" is not executable");
  auto e3 = bad("services:\n  - name: a\n    command: [/bin/sleep, '1']\n"
                "    working_dir: /no/such/dir\n");
  CHECK_ERROR(e3, 4, "services[0].working_dir: directory \"/no/such/dir\" does not exist");
  auto e4 = bad("services:\n  - name: a\n    env: {PATH: /nonexistent}\n    command: [sleep]\n");
  CHECK_ERROR(e4, 4, "not found in PATH /nonexistent");
  CHECK(parse_config("services:\n  - name: a\n    command: [sleep, '1']\n    working_dir: /tmp\n",
                     "test.yaml", env));
  // Without the checks the text alone is judged.
  CHECK(parse_config("services:\n  - name: a\n    command: [no-such-program-here]\n", "test.yaml"));
}

TEST_CASE("keys of features that have not landed are refused, not accepted and ignored") {
  CHECK(parse_ok("cluster:\n  seeds: []\n").cluster.seeds.empty());
}

TEST_CASE("alert sinks: Alertmanager and webhook URLs, retries, queue and repeat interval") {
  auto d = parse_ok("{}\n");
  CHECK(d.alerting.alertmanager_url.empty());
  CHECK(d.alerting.webhooks.empty());
  CHECK(d.alerting.timeout == seconds_d(5));
  CHECK(d.alerting.retries == 5);
  CHECK(d.alerting.queue_size == 1000);
  CHECK(d.alerting.repeat_interval == seconds_d(3600));
  auto c = parse_ok(R"(alerting:
  alertmanager_url: http://127.0.0.1:9093/
  webhooks: [http://127.0.0.1:8080/hook, "https://ops.example/x"]
  timeout: 2s
  retries: 3
  retry_delay: 250ms
  queue_size: 10
  repeat_interval: 10m
)");
  CHECK(c.alerting.alertmanager_url == "http://127.0.0.1:9093");
  REQUIRE(c.alerting.webhooks.size() == 2);
  CHECK(c.alerting.webhooks[1] == "https://ops.example/x");
  CHECK(c.alerting.timeout == seconds_d(2));
  CHECK(c.alerting.retries == 3);
  CHECK(c.alerting.retry_delay == millis_d(250));
  CHECK(c.alerting.queue_size == 10);
  CHECK(c.alerting.repeat_interval == seconds_d(600));
  CHECK_ERROR(parse_bad("alerting:\n  webhooks: [ftp://x/y]\n"), 2,
              "alerting.webhooks[0]: expected an http:// or https:// URL with a host");
  CHECK_ERROR(parse_bad("alerting:\n  alertmanager_url: http://\n"), 2,
              "expected an http:// or https:// URL with a host");
  CHECK_ERROR(parse_bad("alerting:\n  queue_size: 0\n"), 2, "alerting.queue_size");
}

TEST_CASE("an mqtt check takes a broker, a probe topic, credentials and TLS") {
  auto c = parse_ok(R"(services:
  - name: gw
    checks:
      - {type: mqtt, name: broker}
      - type: mqtt
        name: round-trip
        host: 10.0.0.5
        probe_topic: faultd/probe/gw
        username: probe
        password: secret
        tls: {ca: /etc/ca.pem, certificate: /etc/c.pem, key: /etc/k.pem}
      - {type: tcp, name: redis, port: 6379, send: "PING\r\n", expect: "+PONG"}
)");
  auto& checks = c.services.at(0).checks;
  REQUIRE(checks.size() == 3);
  CHECK(checks[0].kind == check_kind::mqtt);
  CHECK(checks[0].host == "127.0.0.1");
  CHECK(checks[0].port == 1883);
  CHECK(checks[0].probe_topic.empty());
  CHECK(checks[1].port == 8883);  // TLS
  CHECK(checks[1].probe_topic == "faultd/probe/gw");
  CHECK(checks[1].username == "probe");
  CHECK(checks[1].tls_ca == "/etc/ca.pem");
  CHECK(checks[1].tls_key == "/etc/k.pem");
  CHECK(checks[2].send == "PING\r\n");
  CHECK(checks[2].expect == "+PONG");
  auto bad = [](const std::string& check) {
    return parse_bad("services:\n  - name: gw\n    checks:\n      - " + check + "\n");
  };
  CHECK_ERROR(bad("{type: mqtt, probe_topic: a/#}"), 4, "has no wildcards");
  CHECK_ERROR(bad("{type: mqtt, password: x}"), 4, "needs username");
  CHECK_ERROR(bad("{type: mqtt, tls: {certificate: c.pem}}"), 4, "ca: required");
  CHECK_ERROR(bad("{type: mqtt, tls: {ca: a, key: k}}"), 4, "certificate and key go together");
  CHECK_ERROR(bad("{type: http, url: 'http://x/', send: PING}"), 4,
              "send: not valid for a http check (only for tcp checks)");
  CHECK_ERROR(bad("{type: exec, command: [x], host: h}"), 4,
              "host: not valid for a exec check (only for tcp and mqtt checks)");
}

TEST_CASE("devices: a broker, topic patterns with a +device level, and phi settings") {
  CHECK_FALSE(parse_ok("{}\n").devices.broker);
  auto c = parse_ok(R"(devices:
  broker: 127.0.0.1:1883
  topics: ["sites/+gateway/+device/telemetry", "lab/+device/#"]
  phi_threshold: 10
  min_interval: 200ms
  max_silence: 10m
  min_samples: 5
  severity: high
)");
  REQUIRE(c.devices.broker);
  CHECK(c.devices.topics.size() == 2);
  CHECK(c.devices.phi_threshold == 10);
  CHECK(c.devices.min_interval == millis_d(200));
  CHECK(c.devices.max_silence == seconds_d(600));
  CHECK(c.devices.min_samples == 5);
  CHECK(c.devices.severity == fault_severity::high);
  CHECK_ERROR(parse_bad("devices:\n  topics: [a/+device]\n"), 2, "devices.broker: required");
  CHECK_ERROR(parse_bad("devices:\n  broker: 127.0.0.1:1883\n"), 2, "devices.topics: required");
  CHECK_ERROR(parse_bad("devices:\n  broker: 127.0.0.1:1883\n  topics: [a/+gateway]\n"), 3,
              "no +device level");
  CHECK_ERROR(parse_bad("devices:\n  broker: 127.0.0.1:1883\n  topics: [a/+device]\n"
                        "  phi_threshold: 0.5\n"),
              4, "must be from 1 to 30");
  CHECK(c.devices.gateway_silence_ratio == 0.5);
  CHECK(c.devices.gateway_min_devices == 3);
  CHECK(parse_ok("devices:\n  broker: 127.0.0.1:1883\n  topics: [a/+device]\n"
                 "  gateway_silence_ratio: 0.8\n  gateway_min_devices: 10\n")
          .devices.gateway_min_devices == 10);
  CHECK_ERROR(parse_bad("devices:\n  broker: 127.0.0.1:1883\n  topics: [a/+device]\n"
                        "  gateway_silence_ratio: 1.5\n"),
              4, "must be above 0 and at most 1");
}

TEST_CASE("devices: topics may bound their own devices, and devices may sleep") {
  auto c = parse_ok(R"(devices:
  broker: 127.0.0.1:1883
  max_silence: 10m
  topics:
    - "sites/+gateway/+device/telemetry"
    - pattern: "meters/+device/reading"
      min_interval: 1s
      max_silence: 2h
  sleep:
    topics: ["sites/+gateway/+device/sleep"]
    schedule:
      - devices: ["meter-*", "pump-?"]
        from: "22:30"
        to: "05:00"
)");
  REQUIRE(c.devices.topics.size() == 2);
  CHECK(c.devices.topics[0].pattern == "sites/+gateway/+device/telemetry");
  CHECK_FALSE(c.devices.topics[0].max_silence);
  CHECK(c.devices.topics[1].pattern == "meters/+device/reading");
  CHECK(c.devices.topics[1].min_interval == seconds_d(1));
  CHECK(c.devices.topics[1].max_silence == seconds_d(7200));
  CHECK(c.devices.sleep_topics == std::vector<std::string>{"sites/+gateway/+device/sleep"});
  REQUIRE(c.devices.sleep_schedule.size() == 1);
  CHECK(c.devices.sleep_schedule[0].devices.size() == 2);
  CHECK(c.devices.sleep_schedule[0].from_minute == 22 * 60 + 30);
  CHECK(c.devices.sleep_schedule[0].to_minute == 5 * 60);
  const std::string head = "devices:\n  broker: 127.0.0.1:1883\n";
  CHECK_ERROR(parse_bad(head + "  topics:\n    - min_interval: 1s\n"), 4,
              "devices.topics[0].pattern: required");
  CHECK_ERROR(parse_bad(head + "  topics:\n    - pattern: a/+gateway\n"), 4, "no +device level");
  CHECK_ERROR(parse_bad(head + "  topics:\n    - \"a/\\t/+device\"\n"), 4, "control characters");
  CHECK_ERROR(parse_bad(head + "  topics:\n    - pattern: a/+device\n      max_silence: 0s\n"),
              5, "max_silence");
  CHECK_ERROR(parse_bad(head + "  topics:\n    - pattern: a/+device\n      phi: 3\n"), 5,
              "phi");
  const std::string with = head + "  topics: [a/+device]\n  sleep:\n";
  CHECK_ERROR(parse_bad(with + "    topics: [a/+gateway/sleep]\n"), 5, "no +device level");
  CHECK_ERROR(parse_bad(with + "    topics: [\"a/+device\"]\n"), 5, "also takes the telemetry");
  CHECK_ERROR(parse_bad(with + "    topics: [\"+device/#\"]\n"), 5, "also takes the telemetry");
  CHECK(parse_ok(with + "    topics: [\"+device/sleep\"]\n").devices.sleep_topics.size() == 1);
  CHECK_ERROR(parse_bad(with + "    schedule:\n      - devices: [x]\n        from: '25:00'\n"
                        "        to: '01:00'\n"),
              7, "HH:MM");
  CHECK_ERROR(parse_bad(with + "    schedule:\n      - devices: [x]\n        from: '1:00'\n"
                        "        to: '02:00'\n"),
              7, "HH:MM");
  CHECK_ERROR(parse_bad(with + "    schedule:\n      - devices: [x]\n        from: '01:00'\n"
                        "        to: '01:00'\n"),
              8, "must differ");
  CHECK_ERROR(parse_bad(with + "    schedule:\n      - from: '01:00'\n        to: '02:00'\n"), 6,
              "devices: required");
  CHECK_ERROR(parse_bad(with + "    schedule:\n      - devices: [x]\n        from: '01:00'\n"), 6,
              "to: required");
  CHECK_ERROR(parse_bad(with + "    {}\n"), 5, "set topics");
}

TEST_CASE("metrics.listen is off by default and takes HOST:PORT") {
  CHECK_FALSE(parse_ok("{}\n").metrics.listen);
  auto c = parse_ok("metrics:\n  listen: 127.0.0.1:9464\n");
  REQUIRE(c.metrics.listen);
  CHECK(c.metrics.listen->to_string() == "127.0.0.1:9464");
  CHECK_ERROR(parse_bad("metrics:\n  listen: 9464\n"), 2, "metrics.listen");
  CHECK_ERROR(parse_bad("metrics:\n  path: /m\n"), 2, "metrics.path");
}

TEST_CASE("alert sinks: an MQTT broker, topics without wildcards and credentials") {
  auto d = parse_ok("{}\n");
  CHECK_FALSE(d.alerting.mqtt_broker);
  CHECK(d.alerting.mqtt_topic == "faultd/alerts");
  CHECK(d.alerting.mqtt_incident_topic == "faultd/incidents");
  auto c = parse_ok(R"(alerting:
  mqtt_broker: 127.0.0.1:1883
  mqtt_topic: ops/alerts
  mqtt_incident_topic: ops/incidents
  mqtt_username: faultd
  mqtt_password: secret
)");
  REQUIRE(c.alerting.mqtt_broker);
  CHECK(c.alerting.mqtt_broker->port == 1883);
  CHECK(c.alerting.mqtt_topic == "ops/alerts");
  CHECK(c.alerting.mqtt_incident_topic == "ops/incidents");
  CHECK(c.alerting.mqtt_username == "faultd");
  CHECK(c.alerting.mqtt_password == "secret");
  CHECK_ERROR(parse_bad("alerting:\n  mqtt_topic: a/+/b\n"), 2, "has no wildcards");
  CHECK_ERROR(parse_bad("alerting:\n  mqtt_broker: nowhere\n"), 2, "alerting.mqtt_broker");
  CHECK_ERROR(parse_bad("alerting:\n  mqtt_password: x\n"), 2, "needs mqtt_username");
}

TEST_CASE("cluster.quorum and a service's node and backup_node are read and checked") {
  CHECK(parse_ok("cluster:\n  quorum: 2\n").cluster.quorum == 2);
  CHECK(parse_ok("cluster:\n  seeds: []\n").cluster.quorum == 0); // a majority
  CHECK_ERROR(parse_bad("cluster:\n  quorum: 0\n"), 2, "cluster.quorum");
  auto c = parse_ok("services:\n  - name: web\n    command: [x]\n    node: n1\n"
                    "    backup_node: n2\n");
  CHECK(c.services.at(0).node == "n1");
  CHECK(c.services.at(0).backup_node == "n2");
  CHECK_ERROR(parse_bad("services:\n  - name: web\n    command: [x]\n    node: n1\n"
                        "    backup_node: n1\n"),
              5, "must not be the service's own node");
  CHECK_ERROR(parse_bad("services:\n  - name: web\n    node: n1\n"), 3,
              "a service faultd only checks names its node with runs_on");
  auto f = parse_ok("services:\n  - name: web\n    command: [x]\n    node: n1\n"
                    "    failback: auto\n    failback_after: 5s\n");
  CHECK(f.services.at(0).failback_auto);
  CHECK(f.services.at(0).failback_after == seconds_d(5));
  CHECK_FALSE(c.services.at(0).failback_auto); // manual by default
  CHECK_ERROR(parse_bad("services:\n  - name: web\n    command: [x]\n    node: n1\n"
                        "    failback: sometimes\n"),
              5, "expected manual or auto");
  CHECK_ERROR(parse_bad("services:\n  - name: web\n    command: [x]\n    failback: auto\n"), 4,
              "failback is for a service with a home node");
}

TEST_CASE("the seed's recovery and detection keys act as defaults and caps") {
  auto c = parse_ok(R"(fault_detection:
  detection_interval: 7s
recovery:
  max_recovery_time: 90s
  rollback_enabled: false
services:
  - name: a
    command: [x]
    checks:
      - type: tcp
        port: 1
      - type: tcp
        name: own
        port: 2
        interval: 3s
strategies:
  mine:
    fault_types: [software_error]
    timeout: 10m
    actions:
      - type: restart_service
  keeps:
    fault_types: [software_error]
    rollback_enabled: true
    actions:
      - type: restart_service
)");
  // detection_interval: the interval of every detector that sets none.
  CHECK(c.services[0].checks[0].interval == seconds_d(7));
  CHECK(c.services[0].checks[1].interval == seconds_d(3));
  CHECK(c.fault_detection.resources.interval == seconds_d(7));
  CHECK(c.fault_detection.security.interval == seconds_d(7));
  // max_recovery_time caps every strategy, built-in ones too.
  CHECK(c.strategies.at("mine").timeout == seconds_d(90));
  CHECK(c.strategies.at("service_unavailable").timeout == seconds_d(90));
  // rollback_enabled: the default of strategies that set none.
  CHECK_FALSE(c.strategies.at("mine").rollback_enabled);
  CHECK(c.strategies.at("keeps").rollback_enabled);
  // Without detection_interval the detectors keep their own defaults.
  auto d = parse_ok("services:\n  - name: a\n    command: [x]\n    checks:\n      - type: tcp\n        port: 1\n");
  CHECK(d.services[0].checks[0].interval == seconds_d(10));
  CHECK(d.fault_detection.resources.interval == seconds_d(5));
}

TEST_CASE("action parameters that cannot work are refused where they are written") {
  auto e1 = parse_bad("strategies:\n  x:\n    fault_types: [software_error]\n    actions:\n"
                      "      - type: circuit_breaker\n        parameters: {hold: \"true\", colour: red}\n");
  CHECK_ERROR(e1, 6, "parameters.colour: unknown parameter \"colour\" for circuit_breaker");
  auto e2 = parse_bad("strategies:\n  x:\n    fault_types: [software_error]\n    actions:\n"
                      "      - type: load_balancing\n        parameters: {weights: \"a=70,b\"}\n");
  CHECK_ERROR(e2, 6, "malformed weights \"a=70,b\"");
  auto e3 = parse_bad("strategies:\n  x:\n    fault_types: [software_error]\n    actions:\n"
                      "      - type: state_sync\n        parameters: {full: true}\n");
  CHECK_ERROR(e3, 6, "unknown parameter \"full\" for state_sync (it takes none)");
  auto e4 = parse_bad("services:\n  - name: gw\n    command: [x]\n"
                      "strategies:\n  x:\n    fault_types: [software_error]\n    actions:\n"
                      "      - type: service_degradation\n        target: gw\n"
                      "        parameters: {degradation_level: turbo}\n");
  CHECK_ERROR(e4, 10, "parameters.degradation_level: level \"turbo\" is not one of gw's "
                      "degradation_levels (full, reduced, basic, minimal)");
  auto e5 = parse_bad("strategies:\n  x:\n    fault_types: [software_error]\n    actions:\n"
                      "      - type: load_balancing\n        parameters: {load_distribution: magic}\n");
  CHECK_ERROR(e5, 6, "unknown load_distribution \"magic\"");
  // The seed's placeholder target is checked when it acts.
  CHECK(parse_ok("strategies:\n  x:\n    fault_types: [software_error]\n    actions:\n"
                 "      - type: service_degradation\n        target: service_name\n"
                 "        parameters: {degradation_level: basic}\n")
          .strategies.count("x") == 1);
}

TEST_CASE("the control endpoint: unix socket by default, TCP only with a token file") {
  test::temp_dir dir;
  auto c = parse_ok("node:\n  data_dir: /srv/f\n");
  CHECK(c.node.control_endpoint().to_string() == "unix:/srv/f/control.sock");
  auto u = parse_ok("node:\n  control: unix:/run/faultd.sock\n  control_max_frame: 1MiB\n");
  CHECK(u.node.control_endpoint().unix_path == "/run/faultd.sock");
  CHECK(u.node.control_max_frame == (1u << 20));

  auto tcp = parse_bad("node:\n  control: 127.0.0.1:7401\n");
  CHECK(tcp.line == 2);
  CHECK(tcp.message.find("needs control_token_file") != std::string::npos);
  auto bad = parse_bad("node:\n  control: somewhere\n");
  CHECK(bad.message.find("expected unix:PATH") != std::string::npos);
  auto big = parse_bad("node:\n  control_max_frame: 1GiB\n");
  CHECK(big.message.find("between 4KiB and 64MiB") != std::string::npos);

  auto token = dir.file("token");
  test::write_file(token, "0123456789abcdef0123\n");
  ::chmod(token.c_str(), 0600);
  auto ok = parse_ok("node:\n  control_token_file: " + token + "\n  control: \"[::1]:7401\"\n");
  CHECK(ok.node.control_endpoint().tcp.host == "::1");
  CHECK(ok.node.control_endpoint().tcp.port == 7401);
  std::string t;
  CHECK(read_token_file(token, t).ok());
  CHECK(t == "0123456789abcdef0123");
  ::chmod(token.c_str(), 0644);
  CHECK(read_token_file(token, t).message().find("readable or writable by others")
        != std::string::npos);
  ::chmod(token.c_str(), 0600);
  test::write_file(token, "short\n");
  CHECK(read_token_file(token, t).message().find("at least 16") != std::string::npos);

  config_overrides o;
  o.control = "127.0.0.1:7401";
  auto err = apply_overrides(c, o);
  REQUIRE(err);
  CHECK(err->message.find("needs node.control_token_file") != std::string::npos);
  o.control = "unix:/tmp/x.sock";
  CHECK_FALSE(apply_overrides(c, o));
  CHECK(c.node.control_endpoint().unix_path == "/tmp/x.sock");
}

// -- cluster -----------------------------------------------------------------

TEST_CASE("cluster.membership picks the mesh or SWIM, and each mode's keys are refused in the other") {
  auto mesh = parse_ok("cluster:\n  heartbeat_interval: 50ms\n");
  CHECK(mesh.cluster.membership == membership_mode::mesh);
  auto swim = parse_ok(R"(cluster:
  probe_interval: 200ms
  probe_timeout: 80ms
  gossip_interval: 50ms
  push_pull_interval: 10s
  membership: swim
)");
  CHECK(swim.cluster.membership == membership_mode::swim);
  CHECK(swim.cluster.probe_interval == millis_d(200));
  CHECK(swim.cluster.probe_timeout == millis_d(80));
  CHECK(swim.cluster.gossip_interval == millis_d(50));
  CHECK(swim.cluster.push_pull_interval == seconds_d(10));
  // The defaults are memberlist's.
  auto plain = parse_ok("cluster:\n  membership: swim\n");
  CHECK(plain.cluster.probe_interval == seconds_d(1));
  CHECK(plain.cluster.probe_timeout == millis_d(500));
  CHECK(plain.cluster.gossip_interval == millis_d(200));
  CHECK(plain.cluster.push_pull_interval == seconds_d(30));
  CHECK_ERROR(parse_bad("cluster:\n  membership: gossip\n"), 2,
              "cluster.membership: expected mesh or swim, got \"gossip\"");
  // A key of the other mode would be accepted and ignored: refused, with
  // its line, whatever the order of the keys.
  CHECK_ERROR(parse_bad("cluster:\n  heartbeat_interval: 50ms\n  membership: swim\n"), 2,
              "cluster.heartbeat_interval: applies to membership: mesh only");
  CHECK_ERROR(parse_bad("cluster:\n  membership: swim\n  phi_threshold: 9\n"), 3,
              "applies to membership: mesh only");
  CHECK_ERROR(parse_bad("cluster:\n  probe_interval: 2s\n"), 2,
              "cluster.probe_interval: applies to membership: swim only");
  CHECK_ERROR(parse_bad("cluster:\n  membership: mesh\n  push_pull_interval: 2s\n"), 3,
              "applies to membership: swim only");
  // Ranges, and a timeout that leaves the indirect probes no time.
  CHECK_ERROR(parse_bad("cluster:\n  membership: swim\n  probe_interval: 10ms\n"), 3,
              "between 50ms and 60s");
  CHECK_ERROR(parse_bad("cluster:\n  membership: swim\n  probe_timeout: 1s\n"), 3,
              "probe_timeout (1s) must be shorter than probe_interval (1s)");
  CHECK_ERROR(parse_bad("cluster:\n  membership: swim\n  probe_interval: 300ms\n"), 3,
              "probe_timeout (500ms) must be shorter than probe_interval (300ms)");
  CHECK_ERROR(parse_bad("cluster:\n  membership: swim\n  push_pull_interval: 100ms\n"), 3,
              "between 1s and 1h");
}

TEST_CASE("cluster keys tune membership and the peer port's rule is enforced") {
  auto c = parse_ok(R"(node:
  listen: 127.0.0.1:7401
cluster:
  seeds: [127.0.0.1:7402, 127.0.0.1:7403]
  heartbeat_interval: 50ms
  phi_threshold: 10
  suspect_timeout: 1s
  min_std_deviation: 80ms
  acceptable_heartbeat_pause: 200ms
)");
  CHECK(c.cluster.seeds.size() == 2);
  CHECK(c.cluster.heartbeat_interval == millis_d(50));
  CHECK(c.cluster.phi_threshold == 10);
  CHECK(c.cluster.suspect_timeout == seconds_d(1));
  CHECK(c.cluster.min_std_deviation == millis_d(80));
  CHECK(c.cluster.acceptable_heartbeat_pause == millis_d(200));
  CHECK_FALSE(c.cluster.tls);
  // Seeds without a peer port: the seeds could not connect back.
  CHECK_ERROR(parse_bad("cluster:\n  seeds: [127.0.0.1:7401]\n"), 2,
              "cluster.seeds: a node with seeds needs node.listen");
  // Plaintext BASP off loopback only when asked for explicitly.
  auto wide = parse_bad("node:\n  id: a\n  listen: 0.0.0.0:7401\n");
  CHECK_ERROR(wide, 3, "node.listen: peer port 0.0.0.0:7401 is off loopback");
  CHECK(contains(wide.message, "cluster.tls"));
  auto allowed = parse_ok("node:\n  listen: 10.1.2.3:7401\ncluster:\n  insecure_plaintext: true\n");
  CHECK(allowed.cluster.insecure_plaintext);
  CHECK(parse_ok("node:\n  listen: localhost:7401\n").node.listen);
  CHECK_ERROR(parse_bad("cluster:\n  heartbeat_interval: 5ms\n"), 2, "between 10ms and 60s");
  CHECK_ERROR(parse_bad("cluster:\n  tls: {certificate: a.pem, key: a.key}\n"), 2,
              "cluster.tls: tls needs certificate, key and ca; ca is missing");
  // The handshake gate's limits: defaults, set, and out of range.
  auto gate = parse_ok("cluster:\n  tls: {certificate: a.pem, key: a.key, ca: ca.pem}\n");
  CHECK(gate.cluster.tls->handshake_timeout == seconds_d(5));
  CHECK(gate.cluster.tls->max_pending_handshakes == 64);
  auto set = parse_ok("cluster:\n  tls: {certificate: a.pem, key: a.key, ca: ca.pem, "
                      "handshake_timeout: 2s, max_pending_handshakes: 200}\n");
  CHECK(set.cluster.tls->handshake_timeout == seconds_d(2));
  CHECK(set.cluster.tls->max_pending_handshakes == 200);
  CHECK_ERROR(parse_bad("cluster:\n  tls:\n    certificate: a.pem\n    key: a.key\n    ca: c\n"
                        "    handshake_timeout: 50ms\n"),
              6, "between 100ms and 60s");
  CHECK_ERROR(parse_bad("cluster:\n  tls:\n    certificate: a.pem\n    key: a.key\n    ca: c\n"
                        "    max_pending_handshakes: 0\n"),
              6, "cluster.tls.max_pending_handshakes");
}

TEST_CASE("cluster.tls files are checked: readable, matching, signed by the CA") {
  test::temp_dir dir;
  test::make_ca(dir.path(), "cluster");
  test::make_ca(dir.path(), "other");
  auto good = test::make_node_cert(dir.path(), "cluster", "n1");
  auto stranger = test::make_node_cert(dir.path(), "other", "n9");
  parse_options env;
  env.check_environment = true;
  auto yaml = [](const cluster_tls& t) {
    return "node:\n  listen: 0.0.0.0:7401\ncluster:\n  tls:\n    certificate: " + t.certificate
           + "\n    key: " + t.key + "\n    ca: " + t.ca + "\n";
  };
  auto ok = parse_config(yaml(good), "test.yaml", env);
  REQUIRE_MESSAGE(ok, (ok.error ? ok.error->to_string() : ""));
  REQUIRE(ok.value->cluster.tls);
  CHECK(ok.value->cluster.tls->ca == good.ca); // TLS makes a wide peer port fine
  auto bad = [&](cluster_tls t, const std::string& what) {
    auto r = parse_config(yaml(t), "test.yaml", env);
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(r.error->line == 5, r.error->to_string());
    CHECK_MESSAGE(contains(r.error->message, what), r.error->to_string());
  };
  auto missing = good;
  missing.key = dir.path() + "/nope.key";
  bad(missing, "nope.key cannot be read");
  auto mismatched = good;
  mismatched.key = stranger.key;
  bad(mismatched, "does not belong to");
  auto foreign = good;
  foreign.ca = stranger.ca;
  bad(foreign, "is not signed by ca");
  auto not_pem = good;
  not_pem.certificate = not_pem.key;
  bad(not_pem, "holds no PEM certificate");
}

TEST_CASE("runs_on names the node of a service faultd only checks") {
  auto c = parse_ok("services:\n  - name: n2-api\n    runs_on: n2\n    checks:\n      - {type: tcp, "
                    "name: api, host: 127.0.0.1, port: 9}\n");
  CHECK(c.services[0].runs_on == "n2");
  CHECK_ERROR(parse_bad("services:\n  - name: a\n    command: [/bin/true]\n    runs_on: n2\n"), 4,
              "runs_on is for a service faultd only checks");
}
