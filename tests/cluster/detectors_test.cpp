// Detectors inside a real faultd process: checks against real targets,
// the security watcher, dependency correlation, and alerts reaching sqlite.

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "storage/store.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

/// A TCP listener on 127.0.0.1 that accepts nothing (the kernel completes
/// connects into its backlog), closed on destruction.
struct listener {
  int fd = -1;
  uint16_t port = 0;
  listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~listener() { close(); }
  void close() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
};

} // namespace

TEST_CASE("a tcp check turns a service unhealthy when its port closes and healthy when it opens") {
  listener l;
  node_process n{R"(services:
  - name: broker
    checks:
      - type: tcp
        port: )" + std::to_string(l.port) + R"(
        interval: 50ms
        timeout: 500ms
        failure_threshold: 2
        success_threshold: 1
)"};
  CHECK(wait_until([&] { return json_value(n.service_json("broker"), "health") == "healthy"; }));
  CHECK(json_value(n.service_json("broker"), "state") == "unmanaged");
  l.close();
  CHECK(wait_until([&] { return json_value(n.service_json("broker"), "health") == "unhealthy"; }));
  CHECK(wait_until([&] {
    auto out = n.ctl({"--json", "incidents", "--open"}).out;
    return out.find("\"component\":\"broker\"") != std::string::npos;
  }));
  auto faults = n.ctl({"--json", "faults"}).out;
  CHECK(faults.find("\"source\":\"check:tcp\"") != std::string::npos);
  CHECK(json_value(n.service_json("broker"), "last_error").size() > 0);
}

TEST_CASE("an exec check's warning and critical exits become faults of the right severity") {
  temp_dir tmp;
  auto flag = tmp.file("exit-code");
  write_file(flag, "0");
  std::string yaml = "services:\n"
                     "  - name: mapper\n"
                     "    checks:\n"
                     "      - type: exec\n"
                     "        command: [\"/bin/sh\", \"-c\", \"exit $(cat "
                     + flag + ")\"]\n"
                       "        interval: 50ms\n"
                       "        timeout: 2s\n"
                       "        failure_threshold: 1\n"
                       "        severity: critical\n";
  node_process n{yaml};
  CHECK(wait_until([&] { return json_value(n.service_json("mapper"), "health") == "healthy"; }));
  write_file(flag, "2");
  CHECK(wait_until([&] {
    auto out = n.ctl({"--json", "faults"}).out;
    return out.find("\"severity\":\"critical\"") != std::string::npos
           && out.find("\"component\":\"mapper\"") != std::string::npos;
  }));
  write_file(flag, "0");
  CHECK(wait_until([&] {
    auto out = n.ctl({"--json", "incidents"}).out;
    auto pos = out.find("\"component\":\"mapper\"");
    return pos != std::string::npos && json_value(out, "status", pos) == "closed";
  }));
}

TEST_CASE("a watched file that changes raises a critical security violation") {
  temp_dir tmp;
  auto watched = tmp.file("mosquitto.conf");
  write_file(watched, "listener 1883\n");
  node_process n{R"(fault_detection:
  security:
    interval: 50ms
    watch_files: [)" + watched + R"(]
)"};
  // Nothing changed yet: no fault.
  CHECK(n.ctl({"--json", "faults"}).out.find("security_violation") == std::string::npos);
  write_file(watched, "listener 1883\nallow_anonymous true\n");
  CHECK(wait_until([&] {
    auto out = n.ctl({"--json", "incidents", "--open"}).out;
    auto pos = out.find("\"component\":\"file:" + watched + "\"");
    return pos != std::string::npos && json_value(out, "severity", pos) == "critical"
           && json_value(out, "fault_type", pos) == "security_violation";
  }));
}

TEST_CASE("a dependency's outage explains the fault of a service that depends on it") {
  node_process n{R"(services:
  - name: gateway
  - name: mapper
    depends_on: [gateway]
)"};
  auto root = n.ctl({"--json", "inject", "--type", "service_unavailable", "--component", "gateway",
                     "--severity", "critical"});
  REQUIRE(root.status == 0);
  auto root_id = json_value(root.out, "incident_id");
  auto sym = n.ctl({"--json", "inject", "--type", "network_timeout", "--component", "mapper"});
  REQUIRE(sym.status == 0);
  auto one = n.ctl({"--json", "incident", json_value(sym.out, "incident_id")});
  CHECK(json_value(one.out, "root_cause") == root_id);
  auto root_json = n.ctl({"--json", "incident", root_id}).out;
  CHECK(root_json.find("\"impacted\":[\"mapper\"]") != std::string::npos);
}

TEST_CASE("alerts for high and critical incidents are stored in sqlite, none below min_severity") {
  std::string db_path;
  {
    node_process n{""};
    db_path = n.dir.file("data") + "/faultd.db";
    REQUIRE(n.ctl({"inject", "--type", "hardware_failure", "--component", "sensor-7", "--severity",
                   "critical"})
              .status
            == 0);
    REQUIRE(n.ctl({"inject", "--type", "software_error", "--component", "quiet", "--severity",
                   "low"})
              .status
            == 0);
    // Alerts are written behind the inject's reply: wait until one is there.
    CHECK(wait_until([&] {
      faultd::storage::store db;
      std::vector<faultd::alert> alerts;
      return db.open(db_path).ok() && db.alerts(10, alerts).ok() && alerts.size() >= 2;
    }));
    n.proc->signal(SIGTERM);
    CHECK(n.proc->wait(std::chrono::seconds(20)) == 0);
    faultd::storage::store db;
    REQUIRE(db.open(db_path).ok());
    std::vector<faultd::alert> alerts;
    REQUIRE(db.alerts(10, alerts).ok());
    // sensor-7: raised on open (critical), and again because no recovery
    // strategy matches hardware_failure; "quiet" (low, below the default
    // min_severity high) for neither.
    int opened = 0, no_strategy = 0;
    for (auto& a : alerts) {
      CHECK(a.component != "quiet");
      bool none = a.summary.find("no recovery strategy") != std::string::npos;
      no_strategy += none;
      if (!none) {
        ++opened;
        CHECK(a.component == "sensor-7");
        CHECK(a.severity == faultd::fault_severity::critical);
      }
    }
    CHECK(opened == 1);
    CHECK(no_strategy == 1);
  }
}
