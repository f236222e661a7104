// Alert sinks against real receivers on loopback: a webhook receiver of the
// test's own (it answers 500 twice: faultd retries), a sink nobody listens
// on (faultd goes on and raises one fault for the sink), and a real
// Alertmanager from Debian's prometheus-alertmanager, started by the test:
// it receives the alert of an injected critical fault and resolves it when
// the incident closes; and a real mosquitto that delivers incidents and
// alerts to a subscriber.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <unistd.h>

#include "support/http_receiver.hpp"
#include "support/mqtt_broker.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string inject(node_process& n, const std::string& type, const std::string& component) {
  auto r = n.ctl({"--json", "inject", "--type", type, "--component", component, "--severity",
                  "critical"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto id = json_value(r.out, "incident_id");
  REQUIRE(!id.empty());
  return id;
}

size_t count_with(const std::vector<http_receiver::request>& rs, const std::string& a,
                  const std::string& b) {
  size_t n = 0;
  for (auto& r : rs)
    if (contains(r.body, a) && contains(r.body, b))
      ++n;
  return n;
}

} // namespace

TEST_CASE("a webhook gets the alert, retried after two 500s, and its resolution") {
  http_receiver hook{[](size_t n) { return n < 2 ? 500 : 200; }};
  node_process n{"services: []\nalerting:\n  webhooks: [" + hook.url() + "]\n"
                 "  retry_delay: 100ms\n  retries: 4\n"};
  auto id = inject(n, "software_error", "api");
  REQUIRE(wait_until([&] {
    return count_with(hook.requests(), "\"kind\":\"firing\"", "\"incident\":\"" + id + "\"") >= 3;
  }));
  auto rs = hook.requests();
  // The same notice three times: two answered 500, the third 200.
  CHECK(rs[0].body == rs[1].body);
  CHECK(rs[1].body == rs[2].body);
  CHECK(rs[0].method == "POST");
  CHECK(rs[0].path == "/hook");
  CHECK(rs[0].content_type == "application/json");
  CHECK(contains(rs[0].body, "\"severity\":\"critical\""));
  CHECK(contains(rs[0].body, "\"component\":\"api\""));
  CHECK(contains(rs[0].body, "\"fault_type\":\"software_error\""));
  CHECK(contains(rs[0].body, "\"node\":\"test-node\""));
  auto r = n.ctl({"incident", "close", id});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(wait_until([&] {
    return count_with(hook.requests(), "\"kind\":\"resolved\"", "\"incident\":\"" + id + "\"")
           == 1;
  }));
  CHECK(contains(read_file(n.dir.file("data") + "/faultd.log"), "alert-delivery-failed"));
}

TEST_CASE("a sink nobody listens on is one fault, and detection goes on") {
  auto dead = "http://127.0.0.1:" + std::to_string(free_port()) + "/hook";
  node_process n{"services: []\nalerting:\n  webhooks: [" + dead + "]\n"
                 "  retry_delay: 50ms\n  retries: 1\n  timeout: 1s\n"};
  auto first = inject(n, "software_error", "api");
  auto second = inject(n, "network_timeout", "db");
  CHECK(first != second);
  // The sink's own fault: one incident on alerting:webhook-1.
  std::string sink_incident;
  REQUIRE(wait_until([&] {
    auto out = n.ctl({"--json", "incidents"}).out;
    return contains(out, "\"component\":\"alerting:webhook-1\"");
  }));
  auto out = n.ctl({"--json", "incidents"}).out;
  auto at = out.find("\"component\":\"alerting:webhook-1\"");
  CHECK(out.find("\"component\":\"alerting:webhook-1\"", at + 1) == std::string::npos);
  CHECK(contains(out.substr(out.rfind("{\"id\"", at)), "\"fault_type\":\"network_timeout\""));
  // Alerts that used their retries are dropped, logged and counted.
  CHECK(wait_until([&] {
    return contains(read_file(n.dir.file("data") + "/faultd.log"), "alert-dropped sink=webhook-1");
  }));
  // Detection and the control endpoint did not wait for the sink.
  auto third = inject(n, "software_error", "cache");
  CHECK(!third.empty());
}

TEST_CASE("a real Alertmanager receives the alert and resolves it when the incident closes") {
  const std::string bin = "/usr/bin/prometheus-alertmanager";
  REQUIRE_MESSAGE(::access(bin.c_str(), X_OK) == 0,
                  "prometheus-alertmanager is not installed (tools/test installs it)");
  temp_dir dir;
  write_file(dir.file("am.yml"), "route:\n  receiver: none\nreceivers:\n  - name: none\n");
  auto port = free_port();
  child_process am{{bin, "--config.file=" + dir.file("am.yml"),
                    "--web.listen-address=127.0.0.1:" + std::to_string(port),
                    "--storage.path=" + dir.file("data"), "--cluster.listen-address="},
                   dir.file("am.log")};
  INFO("alertmanager log: ", read_file(dir.file("am.log")));
  REQUIRE(wait_until([&] { return !http_get(port, "/api/v2/status").empty(); },
                     std::chrono::seconds(20)));
  node_process n{"services: []\nalerting:\n  alertmanager_url: http://127.0.0.1:"
                 + std::to_string(port) + "\n"};
  auto id = inject(n, "service_unavailable", "gw-mqtt");
  std::string alerts;
  REQUIRE(wait_until([&] {
    alerts = http_get(port, "/api/v2/alerts");
    return contains(alerts, "\"incident\":\"" + id + "\"");
  }));
  CAPTURE(alerts);
  CHECK(contains(alerts, "\"alertname\":\"faultd_service_unavailable\""));
  CHECK(contains(alerts, "\"severity\":\"critical\""));
  CHECK(contains(alerts, "\"component\":\"gw-mqtt\""));
  CHECK(contains(alerts, "\"node\":\"test-node\""));
  CHECK(contains(alerts, "\"state\":\"active\""));
  auto r = n.ctl({"incident", "close", id});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  // Resolved: endsAt reached, so it is no longer among the active alerts.
  CHECK(wait_until([&] {
    auto now = http_get(port, "/api/v2/alerts");
    return !now.empty() && !contains(now, "\"incident\":\"" + id + "\"");
  }));
}

TEST_CASE("a fault that comes back within repeat_interval pages once") {
  for (auto repeat : {std::string{"1h"}, std::string{"0s"}}) {
    CAPTURE(repeat);
    http_receiver hook;
    node_process n{"services: []\nfault_detection:\n  dedup_window: 100ms\nalerting:\n"
                   "  webhooks: ["
                   + hook.url() + "]\n  repeat_interval: " + repeat + "\n"};
    // Pages: the api incidents a firing notice went out for (one incident
    // may send several alerts, e.g. "no recovery strategy matches").
    auto firing = [&] {
      std::set<std::string> paged;
      for (auto& r : hook.requests())
        if (contains(r.body, "\"kind\":\"firing\"") && contains(r.body, "\"api\""))
          paged.insert(json_value(r.body, "incident"));
      return paged.size();
    };
    auto first = inject(n, "software_error", "api");
    REQUIRE(wait_until([&] { return firing() == 1; }));
    REQUIRE(n.ctl({"incident", "close", first}).status == 0);
    REQUIRE(wait_until([&] {
      return count_with(hook.requests(), "\"kind\":\"resolved\"", "\"api\"") == 1;
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the dedup window
    inject(n, "software_error", "api");
    if (repeat == "1h") {
      CHECK(wait_until([&] {
        return contains(read_file(n.dir.file("data") + "/faultd.log"),
                        "alert-repeat-suppressed");
      }));
      CHECK(firing() == 1);
    } else {
      CHECK(wait_until([&] { return firing() == 2; }));
    }
  }
}

TEST_CASE("a real mosquitto delivers the incident and its alert to a subscriber") {
  mqtt_broker broker;
  mqtt_subscriber sub{broker.port(), "ops/#"};
  node_process n{"services: []\nalerting:\n  mqtt_broker: " + broker.address()
                 + "\n  mqtt_topic: ops/alerts\n  mqtt_incident_topic: ops/incidents\n"};
  auto id = inject(n, "service_unavailable", "gw-mqtt");
  auto seen = [&](const std::string& topic, const std::string& part) {
    for (auto& m : sub.messages())
      if (m.topic == topic && contains(m.payload, part) && contains(m.payload, id))
        return true;
    return false;
  };
  CHECK(wait_until([&] { return seen("ops/incidents", "\"event\":\"opened\""); }));
  CHECK(wait_until([&] { return seen("ops/alerts", "\"kind\":\"firing\""); }));
  REQUIRE(n.ctl({"incident", "close", id}).status == 0);
  CHECK(wait_until([&] { return seen("ops/incidents", "\"event\":\"closed\""); }));
  CHECK(wait_until([&] { return seen("ops/alerts", "\"kind\":\"resolved\""); }));
}
