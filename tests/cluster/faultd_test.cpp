// Real faultd processes on 127.0.0.1, driven by the real faultctl binary and
// killed with real signals.

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <string>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

const char* sleeper_service = R"(services:
  - name: sleeper
    command: ["/bin/sleep", "1000"]
    restart: always
)";

} // namespace

TEST_CASE("faultctl status reports the node, its members and its services as JSON") {
  node_process n{sleeper_service};
  REQUIRE(!n.service_pid("sleeper").empty()); // started, not pending any more
  auto r = n.ctl({"--json", "status"});
  REQUIRE(r.status == 0);
  CHECK(json_value(r.out, "id") == "test-node");
  CHECK(json_value(r.out, "address") == n.node);
  CHECK(r.out.find("\"uptime_s\":") != std::string::npos);
  CHECK(r.out.find("\"members\":[{\"id\":\"test-node\"") != std::string::npos);
  for (auto key : {"name", "state", "pid", "restarts", "health", "degradation", "circuit"})
    CHECK_MESSAGE(r.out.find(std::string{"\""} + key + "\":") != std::string::npos, key);
  CHECK(json_value(r.out, "state", r.out.find("\"sleeper\"")) == "running");
  auto text = n.ctl({"status"});
  CHECK(text.status == 0);
  CHECK(text.out.find("sleeper") != std::string::npos);
}

TEST_CASE("a SIGKILLed managed service is restarted and the fault is recorded") {
  node_process n{sleeper_service};
  auto pid = n.service_pid("sleeper");
  REQUIRE(!pid.empty());
  REQUIRE(pid != "0");
  REQUIRE(::kill(std::stoi(pid), SIGKILL) == 0);
  std::string new_pid;
  CHECK(wait_until([&] {
    new_pid = n.service_pid("sleeper");
    return !new_pid.empty() && new_pid != "0" && new_pid != pid;
  }));
  CHECK(::kill(std::stoi(new_pid), 0) == 0);
  auto faults = n.ctl({"--json", "faults"});
  REQUIRE(faults.status == 0);
  CHECK(faults.out.find("\"component\":\"sleeper\"") != std::string::npos);
  CHECK(faults.out.find("\"type\":\"service_unavailable\"") != std::string::npos);
  CHECK(json_value(n.ctl({"--json", "services"}).out, "restarts") == "1");
}

TEST_CASE("an injected fault survives kill -9 of faultd and is there after restart") {
  node_process n;
  auto r = n.ctl({"--json", "inject", "--type", "security_violation", "--component", "door-lock",
                  "--severity", "critical", "--detail", "reason=tamper"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto incident = json_value(r.out, "incident_id");
  REQUIRE(!incident.empty());
  n.proc->signal(SIGKILL);
  CHECK(n.proc->wait() == 128 + SIGKILL);
  n.start();
  auto one = n.ctl({"--json", "incident", incident});
  REQUIRE_MESSAGE(one.status == 0, one.err);
  CHECK(json_value(one.out, "component") == "door-lock");
  CHECK(json_value(one.out, "severity") == "critical");
  // The restored incident keeps folding duplicates.
  n.ctl({"inject", "--type", "security_violation", "--component", "door-lock"});
  CHECK(json_value(n.ctl({"--json", "incident", incident}).out, "count") == "2");
}

TEST_CASE("faultd stops its services and exits 0 on SIGTERM") {
  node_process n{sleeper_service};
  auto pid = n.service_pid("sleeper");
  REQUIRE(!pid.empty());
  REQUIRE(pid != "0"); // kill(0, 0) would ask about our own process group
  n.proc->signal(SIGTERM);
  CHECK(n.proc->wait(std::chrono::seconds(20)) == 0);
  auto gone = wait_until([&] { return ::kill(std::stoi(pid), 0) != 0; });
  // What was left, if anything: the service's process and faultd's log.
  INFO("service pid ", pid, ": ", read_file("/proc/" + pid + "/status"));
  INFO("faultd log: ", read_file(n.dir.file("data") + "/faultd.log"));
  CHECK(gone);
}

TEST_CASE("faultctl exits 2 on bad usage, 1 on failed requests") {
  node_process n;
  CHECK(n.ctl({"no-such-command"}).status == 2);
  CHECK(n.ctl({"inject", "--type", "bogus", "--component", "x"}).status == 2);
  CHECK(n.ctl({"inject", "--type", "network_timeout"}).status == 2);
  CHECK(n.ctl({"faults", "--limit", "-3"}).status == 2);
  CHECK(run({faultctl_bin(), "--node", "nonsense", "status"}).status == 2);
  auto unknown = n.ctl({"incident", "does-not-exist"});
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find("does-not-exist") != std::string::npos);
  auto port = free_port();
  auto unreachable = run({faultctl_bin(), "--node", "127.0.0.1:" + std::to_string(port), "status"});
  CHECK(unreachable.status == 1);
  CHECK(unreachable.err.find("cannot connect to 127.0.0.1:" + std::to_string(port))
        != std::string::npos);
}

TEST_CASE("faultd --check-config exits 0 for a good file and 2 with file:line for a bad one") {
  temp_dir dir;
  write_file(dir.file("good.yaml"), "node:\n  id: a\n");
  auto good = run({faultd_bin(), "--check-config", "--config", dir.file("good.yaml")});
  CHECK(good.status == 0);
  write_file(dir.file("bad.yaml"), "node:\n  id: a\n  lisen: 127.0.0.1:1\n");
  auto bad = run({faultd_bin(), "--check-config", "--config", dir.file("bad.yaml")});
  CHECK(bad.status == 2);
  CHECK(bad.err.find(dir.file("bad.yaml") + ":3:") != std::string::npos);
  CHECK(bad.err.find("lisen") != std::string::npos);
  auto seed = run({faultd_bin(), "--check-config", "--config",
                   source_dir() + "/config/fault_recovery.yaml"});
  CHECK_MESSAGE(seed.status == 0, seed.err);
  CHECK(run({faultd_bin(), "--bogus-flag"}).status == 2);
  CHECK(run({faultd_bin(), "--check-config", "--listen", "nohost"}).status == 2);
}
