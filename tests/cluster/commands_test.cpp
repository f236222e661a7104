// The commands operators expect, each through a real faultd: start, stop,
// restart, maintenance, incident ack/close, circuit, degradation, logs,
// alerts, checks, inject --dry-run.

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <thread>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

std::string ticking_service(const std::string& starts) {
  return "services:\n"
         "  - name: web\n"
         "    command: [\"/bin/sh\", \"-c\", \"echo started >> "
         + starts
         + "; i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done\"]\n"
           "    degradation_levels: [full, reduced, basic]\n"
           "    checks:\n"
           "      - {type: exec, name: alive, command: [\"/bin/true\"], interval: 100ms}\n";
}

} // namespace

TEST_CASE("stop is not a fault and holds across a faultd restart until start - restart restarts") {
  temp_dir files;
  auto starts = files.file("starts");
  node_process n{ticking_service(starts)};
  auto pid = n.service_pid("web");
  REQUIRE(!pid.empty());
  auto stop = n.ctl({"--json", "stop", "web"});
  REQUIRE_MESSAGE(stop.status == 0, stop.err);
  CHECK(json_value(stop.out, "outcome") == "stopped");
  // Gone (reaped a moment after the stop answered, on a loaded machine).
  CHECK(wait_until([&] { return ::kill(std::stoi(pid), 0) != 0; }, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(json_value(n.service_json("web"), "state") == "stopped"); // the policy did not undo it
  CHECK(n.ctl({"--json", "incidents"}).out.find("\"component\":\"web\"") == std::string::npos);
  // A faultd restart keeps it down.
  n.proc->signal(SIGTERM);
  REQUIRE(n.proc->wait(std::chrono::seconds(10)) == 0);
  n.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(json_value(n.service_json("web"), "state") == "stopped");
  CHECK(read_file(starts) == "started\n");
  auto start = n.ctl({"start", "web"});
  REQUIRE_MESSAGE(start.status == 0, start.err);
  CHECK(start.out.find("start web: running") != std::string::npos);
  CHECK(read_file(starts) == "started\nstarted\n");
  auto before = n.service_pid("web");
  auto restart = n.ctl({"--json", "restart", "web"});
  REQUIRE(restart.status == 0);
  CHECK(n.service_pid("web") != before);
  CHECK(json_value(n.service_json("web"), "restarts") == "1");
  CHECK(n.ctl({"stop", "no-such"}).status == 1);
  CHECK(n.ctl({"stop"}).status == 2);
}

TEST_CASE("maintenance: incidents are recorded, no strategy runs and no alert is sent") {
  temp_dir files;
  node_process n{ticking_service(files.file("starts"))
                 + "strategies:\n"
                   "  fix:\n"
                   "    fault_types: [software_error]\n"
                   "    severity_levels: [critical]\n"
                   "    actions: [{type: circuit_breaker, target: web}]\n"};
  auto on = n.ctl({"--json", "maintenance", "web", "on"});
  REQUIRE(on.status == 0);
  CHECK(json_value(on.out, "outcome") == "on");
  CHECK(json_value(n.service_json("web"), "maintenance") == "true");
  auto dry = n.ctl({"--json", "inject", "--type", "software_error", "--component", "web",
                    "--severity", "critical", "--dry-run"});
  REQUIRE(dry.status == 0);
  CHECK(json_value(dry.out, "strategy").empty());
  CHECK(json_value(dry.out, "alert") == "false");
  auto r = n.ctl({"--json", "inject", "--type", "software_error", "--component", "web",
                  "--severity", "critical"});
  REQUIRE(r.status == 0);
  auto id = json_value(r.out, "incident_id");
  CHECK(wait_until([&] {
    return json_value(n.incident_json(id), "strategy") == "none (maintenance)";
  }));
  CHECK(json_value(n.service_json("web"), "circuit") == "closed");
  CHECK(n.ctl({"--json", "alerts"}).out.find(id) == std::string::npos);
  // It survives a restart of faultd, and ends with off.
  n.proc->signal(SIGTERM);
  REQUIRE(n.proc->wait(std::chrono::seconds(10)) == 0);
  n.start();
  CHECK(json_value(n.service_json("web"), "maintenance") == "true");
  REQUIRE(n.ctl({"maintenance", "web", "off"}).status == 0);
  CHECK(json_value(n.service_json("web"), "maintenance") == "false");
  auto dry2 = n.ctl({"--json", "inject", "--type", "software_error", "--component", "web2",
                     "--severity", "critical", "--dry-run"});
  CHECK(json_value(dry2.out, "strategy") == "fix");
  CHECK(json_value(dry2.out, "incident") == "opens a new incident");
  CHECK(n.ctl({"--json", "incidents"}).out.find("\"component\":\"web2\"") == std::string::npos);
}

TEST_CASE("incident ack stops its alerts - incident close closes it with the reason") {
  node_process n;
  auto r = n.ctl({"--json", "inject", "--type", "network_timeout", "--component", "gw",
                  "--severity", "high"});
  auto id = json_value(r.out, "incident_id");
  REQUIRE(!id.empty());
  auto ack = n.ctl({"--json", "incident", "ack", id});
  REQUIRE_MESSAGE(ack.status == 0, ack.err);
  CHECK(json_value(ack.out, "outcome") == "acknowledged");
  CHECK(json_value(n.incident_json(id), "acknowledged") == "true");
  auto alerts_before = n.ctl({"--json", "alerts"}).out;
  // Escalation to critical would alert; acknowledged, it does not.
  n.ctl({"inject", "--type", "network_timeout", "--component", "gw", "--severity", "critical"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(n.ctl({"--json", "alerts"}).out.find("escalated") == std::string::npos);
  auto close = n.ctl({"--json", "incident", "close", id, "--reason", "cable replaced"});
  REQUIRE(close.status == 0);
  auto x = n.incident_json(id);
  CHECK(json_value(x, "status") == "closed");
  CHECK(json_value(x, "close_reason") == "closed by operator: cable replaced");
  auto again = n.ctl({"incident", "close", id});
  CHECK(again.status == 1);
  CHECK(again.err.find("no open incident") != std::string::npos);
  CHECK(n.ctl({"incident", "ack", "no-such-id"}).status == 1);
}

TEST_CASE("circuit and degradation set by hand show in status and in the registry") {
  temp_dir files;
  node_process n{ticking_service(files.file("starts"))};
  auto open = n.ctl({"--json", "circuit", "web", "open"});
  REQUIRE(open.status == 0);
  CHECK(json_value(open.out, "outcome") == "open");
  CHECK(json_value(n.service_json("web"), "circuit") == "open");
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // passing checks: still held
  CHECK(json_value(n.service_json("web"), "circuit") == "open");
  CHECK(wait_until([&] { return read_file(n.dir.file("data/registry/circuit/web")) == "open"; }));
  REQUIRE(n.ctl({"circuit", "web", "reset"}).status == 0);
  CHECK(json_value(n.service_json("web"), "circuit") == "closed");
  CHECK(n.ctl({"circuit", "web", "sideways"}).status == 2);

  auto deg = n.ctl({"--json", "degradation", "web", "reduced"});
  REQUIRE_MESSAGE(deg.status == 0, deg.err);
  CHECK(json_value(deg.out, "detail") == "was full");
  CHECK(json_value(n.service_json("web"), "degradation") == "reduced");
  CHECK(read_file(n.dir.file("data/registry/degradation/web")) == "reduced");
  auto bad = n.ctl({"degradation", "web", "minimal"}); // not one of web's levels
  CHECK(bad.status == 1);
  CHECK(bad.err.find("full, reduced, basic") != std::string::npos);
}

TEST_CASE("logs shows the last lines and follows - checks and alerts list what they know") {
  temp_dir files;
  node_process n{ticking_service(files.file("starts"))
                 + "  - name: broken\n"
                   "    command: [\"/bin/sleep\", \"1000\"]\n"
                   "    checks:\n"
                   "      - {type: tcp, name: port, host: 127.0.0.1, port: 1, interval: 100ms}\n"};
  REQUIRE(wait_until([&] { return n.ctl({"logs", "web", "-n", "3"}).out.find("line 5") != std::string::npos; }));
  auto tail = n.ctl({"logs", "web", "-n", "3"}).out;
  size_t lines = 0;
  for (char c : tail)
    lines += c == '\n';
  CHECK(lines == 3);
  CHECK(tail.find("line") != std::string::npos);
  // -f keeps printing what is appended (ended by the harness's timeout).
  auto follow = run({faultctl_bin(), "--node", n.node, "logs", "web", "-n", "1", "-f"},
                    std::chrono::milliseconds(1500));
  size_t followed = 0;
  for (char c : follow.out)
    followed += c == '\n';
  CHECK(followed >= 5);

  REQUIRE(wait_until([&] {
    auto c = n.ctl({"--json", "checks", "broken"}).out;
    return json_value(c, "health") == "unhealthy";
  }));
  auto table = n.ctl({"checks"}).out;
  CHECK(table.find("LAST ERROR") != std::string::npos);
  CHECK(table.find("broken") != std::string::npos);
  CHECK(table.find("refused") != std::string::npos); // why the tcp check fails
  CHECK(n.ctl({"checks", "nope"}).status == 1);

  n.ctl({"inject", "--type", "hardware_failure", "--component", "disk", "--severity", "critical"});
  CHECK(wait_until([&] {
    return n.ctl({"--json", "alerts", "--limit", "5"}).out.find("\"component\":\"disk\"")
           != std::string::npos;
  }));
}

TEST_CASE("a service starts after what it depends on is ready: its checks pass or ready_after") {
  temp_dir files;
  auto ready = files.file("ready");
  auto log = files.file("log");
  // The broker becomes ready (its check passes) when the test says so; the
  // mapper records whether the broker was ready when it started.
  node_process n{"services:\n"
                 "  - name: mapper\n"
                 "    depends_on: [broker]\n"
                 "    command: [\"/bin/sh\", \"-c\", \"if test -e "
                   + ready + "; then echo ok >> " + log + "; else echo early >> " + log
                   + "; fi; exec sleep 1000\"]\n"
                     "  - name: broker\n"
                     "    ready_after: 30s\n"
                     "    command: [\"sleep\", \"1000\"]\n"
                     "    checks:\n"
                     "      - {type: exec, command: [\"/usr/bin/test\", \"-e\", \""
                   + ready + "\"], interval: 100ms}\n"};
  REQUIRE(n.service_pid("broker") != "0");
  // Until then the mapper waits, and says so.
  auto mapper = n.service_json("mapper");
  CHECK(json_value(mapper, "state") == "pending");
  CHECK(json_value(mapper, "health") == "pending");
  CHECK(json_value(mapper, "pid") == "0");
  write_file(ready, "");
  REQUIRE(wait_until([&] { return !read_file(log).empty(); }, std::chrono::seconds(10)));
  CHECK(read_file(log) == "ok\n");
  CHECK(read_file(n.dir.file("faultd.out")).find("service-waiting name=mapper depends_on=broker")
        != std::string::npos);
  CHECK(json_value(n.service_json("mapper"), "state") == "running");
  // No incident for the mapper at start.
  CHECK(n.ctl({"--json", "incidents"}).out.find("\"component\":\"mapper\"") == std::string::npos);
}

TEST_CASE("without checks a dependency is ready once it has run for ready_after") {
  temp_dir files;
  auto order = files.file("order");
  node_process n{"services:\n"
                 "  - name: second\n"
                 "    depends_on: [first]\n"
                 "    command: [\"/bin/sh\", \"-c\", \"date +%s%N >> "
                   + order + "; exec sleep 1000\"]\n"
                             "  - name: first\n"
                             "    ready_after: 400ms\n"
                             "    command: [\"/bin/sh\", \"-c\", \"date +%s%N >> "
                   + order + "; exec sleep 1000\"]\n"};
  REQUIRE(wait_until([&] {
    auto t = read_file(order);
    return std::count(t.begin(), t.end(), '\n') == 2;
  }));
  auto t = read_file(order);
  auto first = std::stoll(t.substr(0, t.find('\n')));
  auto second = std::stoll(t.substr(t.find('\n') + 1));
  // Never before first had run 400 ms. faultd counts from first's spawn;
  // first's shell takes its timestamp a little later (its start-up, longer
  // on a loaded machine), so allow 50 ms of that. Without ready_after the
  // two would start in the same millisecond.
  CHECK(second - first >= 350LL * 1000 * 1000);
}

TEST_CASE("reload and SIGHUP apply a new config: unchanged services keep running, a bad file is refused") {
  auto services = [](const std::string& change_arg, bool with_new, bool with_gone) {
    std::string y = "services:\n"
                    "  - name: keep\n"
                    "    command: [\"/bin/sleep\", \"1000\"]\n"
                    "  - name: change\n"
                    "    command: [\"/bin/sleep\", \""
                    + change_arg + "\"]\n";
    if (with_gone)
      y += "  - name: gone\n    command: [\"/bin/sleep\", \"1002\"]\n";
    if (with_new)
      y += "  - name: fresh\n    command: [\"/bin/sleep\", \"1003\"]\n";
    return y;
  };
  node_process n{services("1001", false, true)};
  auto head = "node:\n  id: test-node\n  data_dir: " + n.dir.file("data") + "\n";
  auto keep = n.service_pid("keep");
  auto change = n.service_pid("change");
  auto gone = n.service_pid("gone");
  REQUIRE(!gone.empty());
  write_file(n.dir.file("faultd.yaml"), head + services("1004", true, false));
  auto r = n.ctl({"--json", "reload"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("\"added\":[\"fresh\"]") != std::string::npos);
  CHECK(r.out.find("\"removed\":[\"gone\"]") != std::string::npos);
  CHECK(r.out.find("\"changed\":[\"change\"]") != std::string::npos);
  CHECK(r.out.find("\"unchanged\":[\"keep\"]") != std::string::npos);
  CHECK(n.service_pid("keep") == keep); // untouched
  CHECK(n.service_pid("change") != change);
  CHECK(::kill(std::stoi(gone), 0) != 0);
  CHECK(wait_until([&] { return !n.service_pid("fresh").empty(); }));
  CHECK(n.service_json("gone").empty());

  // A bad file: refused with file:line, the running config stays.
  write_file(n.dir.file("faultd.yaml"), head + "services:\n  - name: x\n    command: []\n");
  auto bad = n.ctl({"reload"});
  CHECK(bad.status == 1);
  CHECK_MESSAGE(bad.err.find(n.dir.file("faultd.yaml") + ":6") != std::string::npos, bad.err);
  CHECK(n.service_pid("keep") == keep);
  CHECK(!n.service_pid("fresh").empty());
  // What a reload cannot change is refused by name.
  write_file(n.dir.file("faultd.yaml"), "node:\n  id: other-id\n  data_dir: " + n.dir.file("data")
                                          + "\n" + services("1004", true, false));
  auto fixed = n.ctl({"reload"});
  CHECK(fixed.status == 1);
  CHECK(fixed.err.find("node.id changed") != std::string::npos);

  // SIGHUP: the same, and faultd goes on (it used to stop, services and all).
  write_file(n.dir.file("faultd.yaml"), head + services("1004", false, false));
  n.proc->signal(SIGHUP);
  CHECK(wait_until([&] { return n.service_json("fresh").empty(); }));
  CHECK(n.proc->running());
  CHECK(n.service_pid("keep") == keep);
  CHECK(n.ctl({"status"}).status == 0);
}
