// The recovery engine inside a real faultd process: strategy selection,
// actions that act, retries, rollback, the journal across kill -9, and
// supervision (chaos crash of every supervised actor).

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <unistd.h>
#include <string>
#include <thread>

#include "storage/store.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

/// Waits until the incident's latest recovery execution has ended; returns
/// the incident's JSON.
std::string wait_finished(node_process& n, const std::string& id,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  std::string out;
  wait_until(
    [&] {
      out = n.incident_json(id);
      auto r = json_value(out, "recovery");
      return r == "completed" || r == "failed" || r == "rolled_back";
    },
    timeout);
  return out;
}

/// The JSON object of the action of `type` in an incident's JSON.
std::string action_json(const std::string& incident, const std::string& type) {
  auto pos = incident.find("{\"type\":\"" + type + "\"");
  return pos == std::string::npos ? "" : incident.substr(pos, incident.find('}', pos) - pos + 1);
}

std::string inject(node_process& n, const std::string& type, const std::string& component,
                   const std::string& severity = "critical") {
  auto r = n.ctl({"--json", "inject", "--type", type, "--component", component, "--severity",
                  severity});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto id = json_value(r.out, "incident_id");
  REQUIRE(!id.empty());
  return id;
}

} // namespace

TEST_CASE("an injected fault selects the highest-priority strategy and restarts the service") {
  node_process n{R"(services:
  - name: svc
    command: ["/bin/sleep", "1000"]
strategies:
  restart_svc:
    fault_types: [service_unavailable]
    severity_levels: [critical]
    priority: 500
    actions:
      - {type: restart_service, timeout: 10s}
)"};
  auto pid = n.service_pid("svc");
  REQUIRE(!pid.empty());
  auto id = inject(n, "service_unavailable", "svc");
  auto out = wait_finished(n, id);
  CHECK(json_value(out, "strategy") == "restart_svc");
  CHECK(json_value(out, "recovery") == "completed");
  auto restart = action_json(out, "restart_service");
  CHECK(json_value(restart, "status") == "completed");
  CHECK(json_value(restart, "attempts") == "1");
  CHECK(json_value(restart, "target") == "svc");
  auto new_pid = n.service_pid("svc");
  CHECK(!new_pid.empty());
  CHECK(new_pid != pid);
  CHECK(::kill(std::stoi(new_pid), 0) == 0);
}

TEST_CASE("a failing action is retried, then completed actions are rolled back in reverse") {
  node_process n{R"(services:
  - name: gw
    command: ["/bin/sleep", "1000"]
strategies:
  degrade_then_failover:
    fault_types: [network_timeout]
    severity_levels: [critical]
    priority: 500
    rollback_enabled: true
    actions:
      - type: service_degradation
        parameters: {degradation_level: basic}
      - type: circuit_breaker
        parameters: {hold: "true"}
      - type: failover
        retry_count: 2
        retry_delay: 50ms
)"};
  auto id = inject(n, "network_timeout", "gw");
  auto out = wait_finished(n, id);
  CHECK(json_value(out, "recovery") == "rolled_back");
  CHECK(json_value(out, "recovery_error").find("failover") != std::string::npos);
  auto degrade = action_json(out, "service_degradation");
  auto circuit = action_json(out, "circuit_breaker");
  auto failover = action_json(out, "failover");
  CHECK(json_value(degrade, "status") == "rolled_back");
  CHECK(json_value(circuit, "status") == "rolled_back");
  CHECK(json_value(failover, "status") == "failed");
  CHECK(json_value(failover, "attempts") == "3"); // 1 try + retry_count 2
  CHECK(json_value(failover, "error").find("no backup node") != std::string::npos);
  // The rollback undid what was done: full service, closed circuit.
  auto svc = n.service_json("gw");
  CHECK(json_value(svc, "degradation") == "full");
  CHECK(json_value(svc, "circuit") == "closed");
  // The journal in the log shows the reverse order.
  auto log = read_file(n.dir.file("faultd.out"));
  auto circuit_back = log.find("action-rolled-back execution=");
  REQUIRE(circuit_back != std::string::npos);
  CHECK(log.find("type=circuit_breaker", circuit_back) < log.find("type=service_degradation", circuit_back));
  // A recovery that ends rolled back leaves the fault to a person: alerted.
  CHECK(wait_until([&] {
    faultd::storage::store db;
    std::vector<faultd::alert> alerts;
    if (!db.open(n.dir.file("data") + "/faultd.db").ok() || !db.alerts(50, alerts).ok())
      return false;
    for (auto& a : alerts)
      if (a.incident_id == id && a.summary.find("recovery rolled_back on gw") == 0)
        return a.severity >= faultd::fault_severity::high;
    return false;
  }));
}

TEST_CASE("a degradation set by recovery is visible and restored when the incident closes") {
  // The incident closes 5 s after its fault (long enough to look at the
  // degradation on a loaded machine, where faultctl itself takes a while).
  node_process n{R"(fault_detection:
  auto_close_after: 5s
services:
  - name: mapper
    command: ["/bin/sleep", "1000"]
strategies:
  degrade:
    fault_types: [resource_exhaustion]
    severity_levels: [high]
    priority: 500
    actions:
      - {type: service_degradation, parameters: {degradation_level: minimal}}
)"};
  auto id = inject(n, "resource_exhaustion", "mapper", "high");
  auto out = wait_finished(n, id);
  CHECK(json_value(action_json(out, "service_degradation"), "status") == "completed");
  CHECK(json_value(n.service_json("mapper"), "degradation") == "minimal");
  CHECK(read_file(n.dir.file("data/registry/degradation/mapper")) == "minimal");
  // Nobody clears an injected fault: it closes after auto_close_after.
  CHECK(wait_until([&] { return json_value(n.service_json("mapper"), "degradation") == "full"; },
                   std::chrono::seconds(30)));
  CHECK(json_value(n.incident_json(id), "status") == "closed");
}

TEST_CASE("an incident no strategy matches is recorded as such and alerted") {
  node_process n;
  auto id = inject(n, "hardware_failure", "sensor-9");
  CHECK(wait_until([&] { return json_value(n.incident_json(id), "strategy") == "none"; }));
  CHECK(wait_until([&] {
    return read_file(n.dir.file("faultd.out")).find("no recovery strategy matches") != std::string::npos;
  }));
}

TEST_CASE("faultd killed mid-recovery resumes the execution without repeating completed actions") {
  temp_dir work;
  auto first = work.file("first");
  auto second = work.file("second");
  auto started = work.file("second-started");
  node_process n{"strategies:\n"
                 "  two_steps:\n"
                 "    fault_types: [software_error]\n"
                 "    severity_levels: [critical]\n"
                 "    priority: 500\n"
                 "    timeout: 60s\n"
                 "    actions:\n"
                 "      - type: restart_service\n"
                 "        target: job-a\n"
                 "        parameters: {command: \"echo ran >> "
                   + first + "\"}\n"
                             "      - type: restart_service\n"
                             "        target: job-b\n"
                             "        retry_count: 1\n"
                             "        timeout: 20s\n"
                             "        parameters: {command: \"touch "
                   + started + "; sleep 2; echo ran >> " + second + "\"}\n"};
  auto id = inject(n, "software_error", "batch");
  // Kill faultd while the second action runs (the first is journaled completed).
  REQUIRE(wait_until([&] { return !read_file(started).empty() || ::access(started.c_str(), F_OK) == 0; },
                     std::chrono::seconds(20)));
  n.proc->signal(SIGKILL);
  REQUIRE(n.proc->wait() == 128 + SIGKILL);
  CHECK(read_file(first) == "ran\n");
  n.start();
  auto out = wait_finished(n, id);
  CHECK(json_value(out, "status", out.find("\"target\":\"job-b\"") - 60) != "running");
  // The first action ran exactly once; the interrupted one ran again to the end.
  CHECK(read_file(first) == "ran\n");
  CHECK(read_file(second) == "ran\n");
  auto b = out.substr(out.find("\"target\":\"job-b\"") - 40);
  CHECK(json_value(b, "status") == "completed");
  CHECK(json_value(b, "attempts") == "2");
  CHECK(read_file(n.dir.file("faultd.out")).find("recovery-resumed") != std::string::npos);
}

TEST_CASE("every supervised actor can be crashed and is restarted while the node keeps answering") {
  node_process n{R"(services:
  - name: svc
    command: ["/bin/sleep", "1000"]
    checks:
      - {type: exec, command: ["/bin/true"], interval: 100ms}
)"};
  auto list = n.ctl({"--json", "chaos", "list-actors"});
  REQUIRE(list.status == 0);
  std::vector<std::string> names;
  for (size_t pos = 0; (pos = list.out.find("{\"name\":\"", pos)) != std::string::npos; ++pos)
    names.push_back(json_value(list.out, "name", pos));
  for (auto expected : {"storage", "alerting", "analyzer", "recovery", "services", "resources",
                        "security", "control", "check:svc:exec", "sup:detectors"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), expected) != names.end(), expected);
  auto pid = n.service_pid("svc");
  for (auto& name : names) {
    auto r = n.ctl({"chaos", "crash-actor", name});
    CHECK_MESSAGE(r.status == 0, name << ": " << r.err);
    // Restarted (its count rose) and the node still answers.
    CHECK_MESSAGE(wait_until([&] {
                    auto l = n.ctl({"--json", "chaos", "list-actors"}).out;
                    auto pos = l.find("{\"name\":\"" + name + "\"");
                    return pos != std::string::npos && json_value(l, "restarts", pos) != "0";
                  }),
                  name);
    CHECK(n.ctl({"status"}).status == 0);
  }
  // Crashing actors never touched the managed service.
  CHECK(n.service_pid("svc") == pid);
  // And the pipeline still works end to end.
  auto r = n.ctl({"--json", "inject", "--type", "network_timeout", "--component", "x"});
  CHECK(r.status == 0);
  auto unknown = n.ctl({"chaos", "crash-actor", "no-such-actor"});
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find("no-such-actor") != std::string::npos);
}

TEST_CASE("when the root supervisor gives up, faultd stops its services and exits 1") {
  node_process n{R"(services:
  - name: svc
    command: ["/bin/sleep", "1000"]
)"};
  auto pid = n.service_pid("svc");
  REQUIRE(!pid.empty());
  // More subtree crashes than the root's intensity (10 a minute) allows.
  for (int i = 0; i < 20 && n.proc->running(); ++i) {
    n.ctl({"chaos", "crash-actor", "sup:control"});
    wait_until([&] {
      auto l = n.ctl({"--json", "chaos", "list-actors"});
      return l.status != 0 || l.out.find("{\"name\":\"control\"") != std::string::npos
             || !n.proc->running();
    });
  }
  CHECK(n.proc->wait(std::chrono::seconds(20)) == 1);
  CHECK(read_file(n.dir.file("faultd.out")).find("node-root-stopped") != std::string::npos);
  CHECK(wait_until([&] { return ::kill(std::stoi(pid), 0) != 0; }));
}

TEST_CASE("a crash the restart policy already fixed is neither restarted twice nor left degraded") {
  // The built-in service_unavailable strategy: restart_service (degrading
  // is the next rung, for when restarting does not help).
  node_process n{R"(services:
  - name: svc
    command: ["/bin/sleep", "1000"]
)"};
  auto pid = n.service_pid("svc");
  REQUIRE(!pid.empty());
  REQUIRE(::kill(std::stoi(pid), SIGKILL) == 0);
  std::string id;
  REQUIRE(wait_until([&] {
    auto out = n.ctl({"--json", "incidents"}).out;
    auto pos = out.find("\"component\":\"svc\"");
    if (pos == std::string::npos)
      return false;
    id = json_value(out, "id", out.rfind("{\"id\":", pos));
    return json_value(out, "strategy", pos) == "service_unavailable";
  }));
  auto out = wait_finished(n, id);
  auto restart = action_json(out, "restart_service");
  CHECK(json_value(restart, "status") == "completed");
  // The incident closed when the process ran again; its degradation is undone.
  CHECK(wait_until([&] { return json_value(n.service_json("svc"), "degradation") == "full"; }));
  CHECK(json_value(n.service_json("svc"), "restarts") == "1");
  CHECK(read_file(n.dir.file("faultd.out")).find("already restarted by its restart policy")
        != std::string::npos);
}

TEST_CASE("a crashed incident supervisor is resumed from its journal and finishes the recovery") {
  temp_dir work;
  auto first = work.file("first");
  auto started = work.file("second-started");
  auto second = work.file("second");
  node_process n{"strategies:\n"
                 "  two_steps:\n"
                 "    fault_types: [software_error]\n"
                 "    severity_levels: [critical]\n"
                 "    priority: 500\n"
                 "    actions:\n"
                 "      - {type: restart_service, target: job-a, parameters: {command: \"echo ran >> "
                   + first + "\"}}\n"
                             "      - type: restart_service\n"
                             "        target: job-b\n"
                             "        retry_count: 1\n"
                             "        timeout: 20s\n"
                             "        parameters: {command: \"touch "
                   + started + "; sleep 1; echo ran >> " + second + "\"}\n"};
  auto id = inject(n, "software_error", "batch");
  auto name = "incident:" + id.substr(0, 8);
  REQUIRE(wait_until([&] { return ::access(started.c_str(), F_OK) == 0; }));
  auto listed = n.ctl({"--json", "chaos", "list-actors"}).out;
  auto pos = listed.find("{\"name\":\"" + name + "\"");
  REQUIRE_MESSAGE(pos != std::string::npos, listed);
  CHECK(json_value(listed, "supervisor", pos) == "recovery");
  REQUIRE(n.ctl({"chaos", "crash-actor", name}).status == 0);
  auto out = wait_finished(n, id);
  CHECK(read_file(first) == "ran\n"); // never run again
  auto b = out.substr(out.find("\"target\":\"job-b\"") - 40);
  CHECK(json_value(b, "status") == "completed");
  // The action the crashed supervisor was in ran once: its successor
  // waited for it rather than running it again.
  CHECK(read_file(second) == "ran\n");
  CHECK(json_value(b, "attempts") == "1");
  auto log = read_file(n.dir.file("faultd.out"));
  CHECK(log.find("recovery-resumed") != std::string::npos);
  CHECK(log.find("action-reattached") != std::string::npos);
  // Finished: no longer listed.
  CHECK(wait_until([&] {
    return n.ctl({"--json", "chaos", "list-actors"}).out.find(name) == std::string::npos;
  }));
}

TEST_CASE("when a strategy fails and the fault persists, the next one by priority runs, recorded in order") {
  node_process n{R"(services:
  - name: gw
    command: ["/bin/sleep", "1000"]
strategies:
  first_failover:
    fault_types: [network_timeout]
    severity_levels: [critical]
    priority: 500
    actions:
      - type: failover
        retry_count: 0
  then_degrade:
    fault_types: [network_timeout]
    severity_levels: [critical]
    priority: 400
    actions:
      - type: service_degradation
        parameters: {degradation_level: basic}
)"};
  auto id = inject(n, "network_timeout", "gw", "critical");
  std::string out;
  CHECK(wait_until([&] {
    out = n.incident_json(id);
    return out.find("then_degrade=completed") != std::string::npos;
  }));
  auto first = out.find("first_failover=");
  auto second = out.find("then_degrade=completed");
  REQUIRE(first != std::string::npos);
  CHECK(first < second);
  CHECK((out.find("first_failover=failed") != std::string::npos
         || out.find("first_failover=rolled_back") != std::string::npos));
  CHECK(json_value(n.service_json("gw"), "degradation") == "basic");
  CHECK(read_file(n.dir.file("faultd.out")).find("recovery-escalated incident=" + id)
        != std::string::npos);
}

TEST_CASE("crashing the recovery manager inside a long action runs the action once") {
  temp_dir work;
  auto ran = work.file("ran");
  auto started = work.file("started");
  node_process n{"strategies:\n"
                 "  long_one:\n"
                 "    fault_types: [software_error]\n"
                 "    severity_levels: [critical]\n"
                 "    priority: 500\n"
                 "    actions:\n"
                 "      - type: restart_service\n"
                 "        target: batch\n"
                 "        retry_count: 2\n"
                 "        timeout: 30s\n"
                 "        parameters: {command: \"echo ran >> "
                   + ran + "; touch " + started + "; sleep 2\"}\n"};
  auto id = inject(n, "software_error", "batch");
  REQUIRE(wait_until([&] { return ::access(started.c_str(), F_OK) == 0; }));
  REQUIRE(n.ctl({"chaos", "crash-actor", "recovery"}).status == 0);
  auto out = wait_finished(n, id);
  auto a = action_json(out, "restart_service");
  CHECK(json_value(a, "status") == "completed");
  CHECK(json_value(a, "attempts") == "1");
  CHECK(read_file(ran) == "ran\n");
  auto log = read_file(n.dir.file("faultd.out"));
  CHECK(log.find("incident-supervisor-adopted") != std::string::npos);
  CHECK(log.find("recovery-resumed") == std::string::npos);
}

TEST_CASE("SIGTERM during a recovery ends it and exits within the longest stop_grace + 2s") {
  temp_dir work;
  auto started = work.file("started");
  // The service ignores SIGTERM, so stopping it takes its whole grace; the
  // action would run for a minute.
  node_process n{"services:\n"
                 "  - name: stubborn\n"
                 "    command: [\"/bin/sh\", \"-c\", \"trap '' TERM; while :; do sleep 0.1; done\"]\n"
                 "    restart: {policy: always, stop_grace: 1s}\n"
                 "strategies:\n"
                 "  slow:\n"
                 "    fault_types: [software_error]\n"
                 "    severity_levels: [critical]\n"
                 "    priority: 500\n"
                 "    actions:\n"
                 "      - type: restart_service\n"
                 "        target: batch\n"
                 "        timeout: 60s\n"
                 "        parameters: {command: \"touch "
                   + started + "; sleep 60\"}\n"};
  inject(n, "software_error", "batch");
  REQUIRE(wait_until([&] { return ::access(started.c_str(), F_OK) == 0; }));
  auto t0 = std::chrono::steady_clock::now();
  n.proc->signal(SIGTERM);
  auto rc = n.proc->wait(std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(rc == 0);
  CHECK_MESSAGE(took < std::chrono::seconds(3),
                "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms");
  auto log = read_file(n.dir.file("faultd.out"));
  CHECK(log.find("faultd-stopped") != std::string::npos);
}

TEST_CASE("a held circuit stays open across a faultd restart, and faultctl and the registry agree") {
  node_process n{R"(services:
  - name: svc
    command: ["/bin/sleep", "1000"]
    checks:
      - {type: exec, command: ["/bin/true"], interval: 100ms}
strategies:
  fence:
    fault_types: [software_error]
    severity_levels: [critical]
    priority: 500
    actions:
      - {type: circuit_breaker, target: svc, parameters: {hold: "true"}}
)"};
  auto file = n.dir.file("data/registry/circuit/svc");
  auto id = inject(n, "software_error", "svc");
  wait_finished(n, id);
  REQUIRE(wait_until([&] { return read_file(file) == "open"; }));
  CHECK(json_value(n.service_json("svc"), "circuit") == "open");
  n.proc->signal(SIGTERM);
  REQUIRE(n.proc->wait(std::chrono::seconds(10)) == 0);
  n.start();
  // Passing checks do not half-open a held circuit, before or after.
  for (int i = 0; i < 5; ++i) {
    CHECK(json_value(n.service_json("svc"), "circuit") == "open");
    CHECK(read_file(file) == "open");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

TEST_CASE("a circuit opened by recovery half-opens on the next passing check, then closes") {
  temp_dir work;
  auto healthy = work.file("healthy");
  node_process n{"services:\n"
                 "  - name: svc\n"
                 "    command: [\"/bin/sleep\", \"1000\"]\n"
                 "    checks:\n"
                 "      - {type: exec, command: [\"/usr/bin/test\", \"-e\", \""
                   + healthy + "\"], interval: 100ms}\n"
                               "strategies:\n"
                               "  fence:\n"
                               "    fault_types: [software_error]\n"
                               "    severity_levels: [critical]\n"
                               "    priority: 500\n"
                               "    actions:\n"
                               "      - {type: circuit_breaker, target: svc, parameters: "
                               "{open_wait: 1h}}\n"};
  auto file = n.dir.file("data/registry/circuit/svc");
  auto id = inject(n, "software_error", "svc");
  wait_finished(n, id);
  REQUIRE(wait_until([&] { return read_file(file) == "open"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // failing checks: still open
  CHECK(json_value(n.service_json("svc"), "circuit") == "open");
  write_file(healthy, "");
  CHECK(wait_until([&] { return json_value(n.service_json("svc"), "circuit") == "closed"; }));
  CHECK(wait_until([&] { return read_file(file) == "closed"; }));
  CHECK(read_file(n.dir.file("faultd.out")).find("circuit-half-opened") != std::string::npos);
}
