// The mqtt check against a real mosquitto started by the test: CONNACK and a
// publish/subscribe round trip from a live broker; a SIGSTOPped broker,
// which the kernel still lets a tcp check connect to, fails the mqtt check;
// and in a real faultd the frozen broker becomes an incident that closes
// when the broker thaws.

#include <doctest/doctest.h>

#include <string>

#include "checks/health_check.hpp"
#include "support/mqtt_broker.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::test;

namespace {

check_config mqtt_check(uint16_t port, const std::string& probe = "") {
  check_config c;
  c.kind = check_kind::mqtt;
  c.name = "broker";
  c.port = port;
  c.probe_topic = probe;
  c.timeout = millis_d(500);
  return c;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("an mqtt check passes on a live broker and fails on a frozen one a tcp check passes") {
  mqtt_broker broker;
  auto plain = checks::run_check(mqtt_check(broker.port()));
  CHECK_MESSAGE(plain.ok(), plain.message);
  CHECK(contains(plain.message, "CONNACK from 127.0.0.1:" + std::to_string(broker.port())));
  auto probe = checks::run_check(mqtt_check(broker.port(), "faultd/probe/test"));
  CHECK_MESSAGE(probe.ok(), probe.message);
  CHECK(contains(probe.message, "round trip on faultd/probe/test"));
  broker.freeze();
  auto frozen = checks::run_check(mqtt_check(broker.port()));
  CHECK_FALSE(frozen.ok());
  CHECK_MESSAGE(contains(frozen.message, "no CONNACK"), frozen.message);
  // What a tcp check (and Nagios' check_tcp) sees of the same broker: the
  // kernel completes the connection into the listen backlog.
  CHECK(checks::run_tcp_check("127.0.0.1", broker.port(), millis_d(500)).ok());
  broker.thaw();
  CHECK(checks::run_check(mqtt_check(broker.port(), "faultd/probe/test")).ok());
}

TEST_CASE("a nonexistent broker and wrong credentials fail the mqtt check with why") {
  auto nobody = checks::run_check(mqtt_check(free_port()));
  CHECK_FALSE(nobody.ok());
  CHECK(contains(nobody.message, "mqtt 127.0.0.1:"));
}

TEST_CASE("a frozen broker is an incident in faultd, closed when it thaws") {
  mqtt_broker broker;
  node_process n{"services:\n  - name: gateway\n    checks:\n"
                 "      - {type: mqtt, name: broker, port: "
                 + std::to_string(broker.port())
                 + ", probe_topic: faultd/probe/gw, interval: 200ms, timeout: 300ms,"
                   " failure_threshold: 2}\n"};
  auto open_incident = [&] {
    auto out = n.ctl({"--json", "incidents", "--open"}).out;
    return contains(out, "\"component\":\"gateway\"");
  };
  REQUIRE(wait_until([&] {
    return contains(n.ctl({"--json", "checks", "gateway"}).out, "\"health\":\"healthy\"");
  }));
  CHECK_FALSE(open_incident());
  broker.freeze();
  REQUIRE(wait_until(open_incident, std::chrono::seconds(15)));
  CHECK(contains(n.ctl({"--json", "checks", "gateway"}).out, "CONNACK"));
  broker.thaw();
  CHECK(wait_until([&] { return !open_incident(); }, std::chrono::seconds(15)));
}
