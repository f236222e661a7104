#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "analyzer/analyzer.hpp"
#include "faultd/config.hpp"
#include "faultd/time.hpp"

using namespace faultd;
using faultd::analysis::analyzer;
using faultd::analysis::dependency_graph;
using faultd::analysis::result;
using faultd::analysis::settings;

namespace {

settings test_settings() {
  settings s;
  s.node_id = "n1";
  s.dedup_window = seconds_d(60);
  s.flap_threshold = 3;
  s.flap_window = seconds_d(300);
  s.auto_close_after = seconds_d(300);
  s.alert_threshold = 5;
  s.min_alert_severity = fault_severity::high;
  return s;
}

int counter = 0;

fault_event fault(const std::string& component, fault_type type,
                  fault_severity severity = fault_severity::critical,
                  const std::string& node = "n1") {
  fault_event e;
  e.id = "ev-" + std::to_string(++counter);
  e.type = type;
  e.severity = severity;
  e.component = component;
  e.node = node;
  // A source with no clearing signal, so that these tests of dedup and
  // correlation are not about sources; the tests of sources set their own.
  e.source = "inject";
  e.details["message"] = "connection refused";
  return e;
}

fault_event clear(const std::string& component, fault_type type,
                  const std::string& source = "check:tcp") {
  fault_event e;
  e.id = "ev-" + std::to_string(++counter);
  e.type = type;
  e.component = component;
  e.node = "n1";
  e.source = source;
  e.clears = true;
  return e;
}

const incident* changed(const result& r, const std::string& id) {
  for (const auto& inc : r.changed)
    if (inc.id == id)
      return &inc;
  return nullptr;
}

constexpr auto unavailable = fault_type::service_unavailable;
constexpr auto timeout = fault_type::network_timeout;

} // namespace

TEST_CASE("a thousand duplicate events become one incident with exactly one alert") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  size_t alerts = 0;
  std::string id;
  for (int i = 0; i < 1000; ++i) {
    auto r = a.on_event(fault("gw-mqtt", unavailable));
    alerts += r.alerts.size();
    CHECK(r.opened == (i == 0));
    CHECK_FALSE(r.reopened);
    if (i == 0)
      id = r.incident_id;
    CHECK(r.incident_id == id);
    REQUIRE(r.changed.size() == 1);
    CHECK(r.changed[0].event_count == static_cast<uint64_t>(i + 1));
    clock.advance(millis_d(1));
  }
  CHECK(alerts == 1);
  auto open = a.open_incidents();
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == id);
  CHECK(open[0].event_count == 1000);
  CHECK(open[0].first_event_id != "");
  CHECK(open[0].last_seen_at > open[0].opened_at);
}

TEST_CASE("the first alert names the fault, component, severity and detail") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto r = a.on_event(fault("gw-mqtt", unavailable));
  REQUIRE(r.alerts.size() == 1);
  CHECK(r.alerts[0].incident_id == r.incident_id);
  CHECK(r.alerts[0].component == "gw-mqtt");
  CHECK(r.alerts[0].severity == fault_severity::critical);
  CHECK(r.alerts[0].time == clock.now());
  CHECK(r.alerts[0].id.size() == 36);
  CHECK(r.alerts[0].summary == "service_unavailable on gw-mqtt (critical): connection refused");
}

TEST_CASE("different types or components open separate incidents") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto r1 = a.on_event(fault("gw-mqtt", unavailable));
  auto r2 = a.on_event(fault("gw-mqtt", timeout));
  auto r3 = a.on_event(fault("gw-coap", unavailable));
  CHECK(r1.opened);
  CHECK(r2.opened);
  CHECK(r3.opened);
  CHECK(r1.incident_id != r2.incident_id);
  CHECK(r1.incident_id != r3.incident_id);
  CHECK(r2.incident_id != r3.incident_id);
  CHECK(a.open_incidents().size() == 3);
}

TEST_CASE("a clear event closes the open incident of its component and type") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto opened = a.on_event(fault("gw-mqtt", unavailable));
  a.on_event(fault("gw-mqtt", timeout));
  clock.advance(seconds_d(2));
  auto r = a.on_event(clear("gw-mqtt", unavailable, "check:tcp"));
  CHECK(r.incident_id == opened.incident_id);
  CHECK(r.alerts.empty());
  auto* closed = changed(r, opened.incident_id);
  REQUIRE(closed != nullptr);
  CHECK(closed->status == incident_status::closed);
  CHECK(closed->close_reason == "cleared by check:tcp");
  REQUIRE(closed->closed_at.has_value());
  CHECK(*closed->closed_at == clock.now());
  auto open = a.open_incidents();
  REQUIRE(open.size() == 1);
  CHECK(open[0].type == timeout);
}

TEST_CASE("a clear event without an open incident changes nothing") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto r = a.on_event(clear("gw-mqtt", unavailable));
  CHECK(r.incident_id.empty());
  CHECK(r.changed.empty());
  CHECK(r.alerts.empty());
  CHECK_FALSE(r.opened);
  CHECK(a.open_incidents().empty());
  CHECK(a.retained() == 0);
}

TEST_CASE("a fault returning within the dedup window reopens the same incident") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto first = a.on_event(fault("gw-mqtt", unavailable));
  a.on_event(clear("gw-mqtt", unavailable));
  clock.advance(seconds_d(59));
  a.tick();
  auto r = a.on_event(fault("gw-mqtt", unavailable));
  CHECK(r.reopened);
  CHECK_FALSE(r.opened);
  CHECK(r.incident_id == first.incident_id);
  CHECK(r.alerts.empty()); // the bounce was already alerted when it opened
  REQUIRE(r.changed.size() == 1);
  CHECK(r.changed[0].status == incident_status::open);
  CHECK_FALSE(r.changed[0].closed_at.has_value());
  CHECK(r.changed[0].close_reason.empty());
  CHECK(r.changed[0].event_count == 2);
}

TEST_CASE("a fault returning after the dedup window opens a new incident") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto first = a.on_event(fault("gw-mqtt", unavailable));
  a.on_event(clear("gw-mqtt", unavailable));
  clock.advance(seconds_d(60));
  auto r = a.on_event(fault("gw-mqtt", unavailable));
  CHECK(r.opened);
  CHECK_FALSE(r.reopened);
  CHECK(r.incident_id != first.incident_id);
  CHECK(r.alerts.size() == 1);
  CHECK(a.find(first.incident_id)->status == incident_status::closed);
}

TEST_CASE("closed incidents are forgotten by tick once the dedup window has passed") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto first = a.on_event(fault("gw-mqtt", unavailable));
  a.on_event(clear("gw-mqtt", unavailable));
  clock.advance(seconds_d(30));
  a.tick();
  CHECK(a.find(first.incident_id) != nullptr);
  CHECK(a.retained() == 1);
  clock.advance(seconds_d(30));
  a.tick();
  CHECK(a.find(first.incident_id) == nullptr);
  CHECK(a.retained() == 0);
  // Only open incidents stay however many came and went.
  for (int i = 0; i < 100; ++i) {
    a.on_event(fault("svc-" + std::to_string(i), unavailable));
    a.on_event(clear("svc-" + std::to_string(i), unavailable));
  }
  a.on_event(fault("still-down", unavailable));
  clock.advance(seconds_d(61));
  a.tick();
  CHECK(a.retained() == 1);
}

TEST_CASE("repeated open and close cycles mark the incident flapping with one alert") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  std::vector<alert> alerts;
  std::string id;
  result last;
  for (int cycle = 0; cycle < 3; ++cycle) {
    auto r = a.on_event(fault("gw-mqtt", timeout, fault_severity::low));
    alerts.insert(alerts.end(), r.alerts.begin(), r.alerts.end());
    if (cycle == 0)
      id = r.incident_id;
    CHECK(r.incident_id == id);
    clock.advance(seconds_d(1));
    last = a.on_event(clear("gw-mqtt", timeout));
    alerts.insert(alerts.end(), last.alerts.begin(), last.alerts.end());
    clock.advance(seconds_d(1));
    if (cycle < 2) {
      CHECK_FALSE(last.suppressed);
      CHECK(a.open_incidents().empty());
    }
  }
  CHECK(last.suppressed);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].incident_id == id);
  CHECK(alerts[0].summary.find("flapping") != std::string::npos);
  auto open = a.open_incidents();
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == id);
  CHECK(open[0].flapping);

  // Clears are ignored (but counted) while flapping; faults still fold in.
  auto c = a.on_event(clear("gw-mqtt", timeout));
  CHECK(c.suppressed);
  CHECK(c.alerts.empty());
  auto f = a.on_event(fault("gw-mqtt", timeout, fault_severity::low));
  CHECK(f.alerts.empty());
  CHECK(f.incident_id == id);
  CHECK(a.find(id)->status == incident_status::open);
  CHECK(a.find(id)->event_count == 6); // 3 faults, 1 flapping clear, 1 ignored clear, 1 fault

  // It ends after a quiet flap_window, on tick.
  clock.advance(seconds_d(299));
  CHECK(a.tick().changed.empty());
  CHECK(a.find(id)->status == incident_status::open);
  clock.advance(seconds_d(1));
  auto t = a.tick();
  auto* closed = changed(t, id);
  REQUIRE(closed != nullptr);
  CHECK(closed->status == incident_status::closed);
  CHECK(closed->close_reason == "flapping stopped");
  CHECK(a.open_incidents().empty());
}

TEST_CASE("cycles spread wider than the flap window do not mark flapping") {
  manual_clock clock;
  auto s = test_settings();
  s.dedup_window = seconds_d(10);
  analyzer a{s, {}, clock};
  for (int cycle = 0; cycle < 6; ++cycle) {
    a.on_event(fault("gw-mqtt", timeout, fault_severity::low));
    auto r = a.on_event(clear("gw-mqtt", timeout));
    CHECK_FALSE(r.suppressed);
    clock.advance(seconds_d(200));
    a.tick();
  }
  CHECK(a.open_incidents().empty());
}

TEST_CASE("a fault of a service whose dependency is down is explained by that dependency") {
  manual_clock clock;
  analyzer a{test_settings(), dependency_graph{{"mapper", {"broker"}}}, clock};
  auto b = a.on_event(fault("broker", unavailable));
  CHECK(b.alerts.size() == 1);
  auto m = a.on_event(fault("mapper", timeout));
  CHECK(m.opened);
  CHECK(m.alerts.empty());
  REQUIRE(m.changed.size() == 1);
  CHECK(m.changed[0].root_cause == b.incident_id);
  // Escalation of a symptom does not alert either, nor do its duplicates.
  for (int i = 0; i < 10; ++i)
    CHECK(a.on_event(fault("mapper", timeout)).alerts.empty());

  auto r = a.on_event(clear("broker", unavailable));
  auto* root = changed(r, b.incident_id);
  auto* symptom = changed(r, m.incident_id);
  REQUIRE(root != nullptr);
  REQUIRE(symptom != nullptr);
  CHECK(symptom->status == incident_status::closed);
  CHECK(symptom->close_reason == "root cause " + b.incident_id + " closed");
  CHECK(a.open_incidents().empty());
}

TEST_CASE("a dependency fault that is not an outage explains nothing") {
  manual_clock clock;
  analyzer a{test_settings(), dependency_graph{{"mapper", {"broker"}}}, clock};
  a.on_event(fault("broker", fault_type::resource_exhaustion));
  auto m = a.on_event(fault("mapper", timeout));
  CHECK(m.changed[0].root_cause.empty());
  CHECK(m.alerts.size() == 1);
}

TEST_CASE("a dependency going down after its dependent's fault becomes its root cause") {
  manual_clock clock;
  analyzer a{test_settings(), dependency_graph{{"mapper", {"broker"}}}, clock};
  auto m = a.on_event(fault("mapper", timeout));
  CHECK(m.changed[0].root_cause.empty());
  auto b = a.on_event(fault("broker", unavailable));
  auto* symptom = changed(b, m.incident_id);
  REQUIRE(symptom != nullptr);
  CHECK(symptom->root_cause == b.incident_id);
  CHECK(a.find(m.incident_id)->root_cause == b.incident_id);
  auto r = a.on_event(clear("broker", unavailable));
  CHECK(a.find(m.incident_id)->status == incident_status::closed);
  CHECK(changed(r, m.incident_id) != nullptr);
}

TEST_CASE("correlation follows a transitive chain of dependencies to the one root") {
  manual_clock clock;
  // app -> mapper -> broker
  dependency_graph g{{"app", {"mapper"}}, {"mapper", {"broker"}}};

  SUBCASE("a down service explains faults two hops away") {
    analyzer a{test_settings(), g, clock};
    auto c = a.on_event(fault("broker", unavailable));
    auto app = a.on_event(fault("app", timeout));
    CHECK(app.changed[0].root_cause == c.incident_id);
    CHECK(app.alerts.empty());
  }
  SUBCASE("every symptom points at the ultimate root and closes with it") {
    analyzer a{test_settings(), g, clock};
    auto c = a.on_event(fault("broker", unavailable));
    auto b = a.on_event(fault("mapper", unavailable));
    auto app = a.on_event(fault("app", timeout));
    CHECK(b.changed[0].root_cause == c.incident_id);
    CHECK(app.changed[0].root_cause == c.incident_id);
    a.on_event(clear("broker", unavailable));
    CHECK(a.open_incidents().empty());
  }
  SUBCASE("faults arriving bottom-up are re-rooted onto the new root") {
    analyzer a{test_settings(), g, clock};
    auto app = a.on_event(fault("app", timeout));
    auto b = a.on_event(fault("mapper", unavailable));
    CHECK(a.find(app.incident_id)->root_cause == b.incident_id);
    auto c = a.on_event(fault("broker", unavailable));
    CHECK(a.find(b.incident_id)->root_cause == c.incident_id);
    CHECK(a.find(app.incident_id)->root_cause == c.incident_id);
    CHECK(changed(c, app.incident_id) != nullptr);
    a.on_event(clear("broker", unavailable));
    CHECK(a.open_incidents().empty());
  }
}

TEST_CASE("a down peer node explains the faults reported from that node") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};

  SUBCASE("node first") {
    auto down = fault("node:n2", unavailable, fault_severity::critical, "n1");
    down.source = "membership";
    auto node = a.on_event(down);
    CHECK(node.alerts.size() == 1);
    auto on_n2 = a.on_event(fault("gw-mqtt", unavailable, fault_severity::critical, "n2"));
    auto on_n3 = a.on_event(fault("gw-coap", unavailable, fault_severity::critical, "n3"));
    CHECK(on_n2.changed[0].root_cause == node.incident_id);
    CHECK(on_n2.alerts.empty());
    CHECK(on_n3.changed[0].root_cause.empty());
    CHECK(on_n3.alerts.size() == 1);
    a.on_event(clear("node:n2", unavailable, "membership"));
    CHECK(a.find(on_n2.incident_id)->status == incident_status::closed);
    CHECK(a.find(on_n3.incident_id)->status == incident_status::open);
  }
  SUBCASE("node after its services") {
    auto s1 = a.on_event(fault("gw-mqtt", unavailable, fault_severity::critical, "n2"));
    auto s2 = a.on_event(fault("gw-coap", timeout, fault_severity::critical, "n2"));
    auto other = a.on_event(fault("gw-opcua", timeout, fault_severity::critical, "n3"));
    auto node = a.on_event(fault("node:n2", unavailable, fault_severity::critical, "n1"));
    CHECK(a.find(s1.incident_id)->root_cause == node.incident_id);
    CHECK(a.find(s2.incident_id)->root_cause == node.incident_id);
    CHECK(a.find(other.incident_id)->root_cause.empty());
    CHECK(changed(node, s1.incident_id) != nullptr);
    CHECK(changed(node, s2.incident_id) != nullptr);
  }
}

TEST_CASE("a dead node explains the faults of services that run on it, as this node sees them") {
  manual_clock clock;
  auto st = test_settings();
  st.runs_on["n2-api"] = "n2";
  analyzer a{st, {}, clock};
  // This node (n1) checks n2's API over TCP; the check fails before and
  // after membership buries n2.
  auto before = a.on_event(fault("n2-api", unavailable, fault_severity::critical, "n1"));
  auto local = a.on_event(fault("local-db", unavailable, fault_severity::critical, "n1"));
  auto down = fault("node:n2", fault_type::hardware_failure, fault_severity::high, "n1");
  down.source = "membership";
  auto node = a.on_event(down);
  CHECK(a.find(before.incident_id)->root_cause == node.incident_id);
  CHECK(a.find(local.incident_id)->root_cause.empty());
  a.on_event(clear("n2-api", unavailable));
  auto after = a.on_event(fault("n2-api", unavailable, fault_severity::critical, "n1"));
  CHECK(a.find(after.incident_id)->root_cause == node.incident_id);
  CHECK(after.alerts.empty());
}

TEST_CASE("a silent gateway explains its devices' faults, before and after it opened, with one alert") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto device = [](const std::string& id, const std::string& gw) {
    auto e = fault("device:" + id, timeout, fault_severity::high);
    e.source = "devices";
    e.details["gateway"] = gw;
    return e;
  };
  size_t alerts = 0;
  // The first silent device opens on its own (and alerts: it is high here).
  auto early = a.on_event(device("d1", "gw1"));
  alerts += early.alerts.size();
  auto other = a.on_event(device("x1", "gw2"));
  auto gw = fault("gateway:gw1", timeout, fault_severity::high);
  gw.source = "devices";
  auto g = a.on_event(gw);
  // The gateway adopts the device incident that came first.
  CHECK(a.find(early.incident_id)->root_cause == g.incident_id);
  CHECK(a.find(other.incident_id)->root_cause.empty());
  // The ones after it arrive explained and do not alert.
  for (int i = 2; i <= 50; ++i) {
    auto r = a.on_event(device("d" + std::to_string(i), "gw1"));
    CHECK(a.find(r.incident_id)->root_cause == g.incident_id);
    alerts += r.alerts.size();
  }
  CHECK(alerts == 1);  // d1's, before the gateway was known to be down
  // Devices clear themselves: their incidents stay open while silent.
  CHECK(faultd::analysis::source_clears("devices"));
  CHECK(faultd::analysis::source_clears("alerting"));
}

TEST_CASE("impact scope lists transitive dependents and survives a dependency cycle") {
  manual_clock clock;
  // a -> b -> c -> a is a cycle; d -> c.
  dependency_graph g{{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}, {"d", {"c"}}, {"e", {"e"}}};
  analyzer a{test_settings(), g, clock};
  CHECK(a.impact_scope("c") == std::vector<std::string>{"a", "b", "d"});
  CHECK(a.impact_scope("a") == std::vector<std::string>{"b", "c", "d"});
  CHECK(a.impact_scope("d").empty());
  CHECK(a.impact_scope("e").empty());
  CHECK(a.impact_scope("unknown").empty());
  auto r = a.on_event(fault("c", unavailable));
  CHECK(r.changed[0].impacted == std::vector<std::string>{"a", "b", "d"});
  // Correlation around the cycle terminates and never makes an incident its own root.
  auto ra = a.on_event(fault("a", unavailable));
  auto rb = a.on_event(fault("b", unavailable));
  CHECK(ra.changed[0].root_cause == r.incident_id);
  CHECK(rb.changed[0].root_cause == r.incident_id);
  for (const auto& inc : a.open_incidents())
    CHECK(inc.root_cause != inc.id);
  a.on_event(clear("c", unavailable));
  CHECK(a.open_incidents().empty());
}

TEST_CASE("an incident nobody clears closes after the quiet period on tick, not before") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto injected = fault("gw-mqtt", unavailable);
  injected.source = "inject";
  auto r = a.on_event(injected);
  clock.advance(seconds_d(200));
  injected.id = "again";
  a.on_event(injected); // activity restarts the quiet period
  clock.advance(seconds_d(299));
  auto early = a.tick();
  CHECK(early.changed.empty());
  CHECK(a.find(r.incident_id)->status == incident_status::open);
  clock.advance(seconds_d(1));
  auto t = a.tick();
  auto* closed = changed(t, r.incident_id);
  REQUIRE(closed != nullptr);
  CHECK(closed->status == incident_status::closed);
  CHECK(closed->close_reason == "quiet for 5m");
  CHECK(a.open_incidents().empty());
}

TEST_CASE("a low severity fault alerts only when its event count reaches the threshold") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  for (int i = 1; i <= 4; ++i)
    CHECK(a.on_event(fault("disk", fault_type::resource_exhaustion, fault_severity::low))
            .alerts.empty());
  auto fifth = a.on_event(fault("disk", fault_type::resource_exhaustion, fault_severity::medium));
  REQUIRE(fifth.alerts.size() == 1);
  CHECK(fifth.alerts[0].severity == fault_severity::medium);
  CHECK(fifth.alerts[0].summary.find("5 events") != std::string::npos);
  size_t more = 0;
  for (int i = 0; i < 100; ++i)
    more += a.on_event(fault("disk", fault_type::resource_exhaustion, fault_severity::low))
              .alerts.size();
  CHECK(more == 0);
}

TEST_CASE("an incident escalating to high severity alerts once") {
  manual_clock clock;
  auto s = test_settings();
  s.alert_threshold = 0;
  analyzer a{s, {}, clock};
  CHECK(a.on_event(fault("gw", timeout, fault_severity::low)).alerts.empty());
  auto up = a.on_event(fault("gw", timeout, fault_severity::high));
  REQUIRE(up.alerts.size() == 1);
  CHECK(up.alerts[0].summary.find("escalated from low") != std::string::npos);
  CHECK(up.changed[0].severity == fault_severity::high);
  CHECK(a.on_event(fault("gw", timeout, fault_severity::critical)).alerts.empty());
  // Severity keeps the worst seen.
  a.on_event(fault("gw", timeout, fault_severity::low));
  CHECK(a.open_incidents()[0].severity == fault_severity::critical);
}

TEST_CASE("an event after restore folds into the restored incident") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  incident inc;
  inc.id = "restored-1";
  inc.component = "gw-mqtt";
  inc.type = unavailable;
  inc.severity = fault_severity::critical;
  inc.status = incident_status::open;
  inc.node = "n1";
  inc.opened_at = clock.now() - seconds_d(10);
  inc.last_seen_at = clock.now() - seconds_d(5);
  inc.event_count = 7;
  incident closed_one = inc;
  closed_one.id = "restored-closed";
  closed_one.component = "other";
  closed_one.status = incident_status::closed;
  a.restore({inc, closed_one});
  REQUIRE(a.open_incidents().size() == 1);
  CHECK(a.find("restored-closed") == nullptr);
  auto r = a.on_event(fault("gw-mqtt", unavailable));
  CHECK(r.incident_id == "restored-1");
  CHECK_FALSE(r.opened);
  CHECK(r.alerts.empty()); // it alerted before the restart
  REQUIRE(r.changed.size() == 1);
  CHECK(r.changed[0].event_count == 8);
  CHECK(r.changed[0].opened_at == inc.opened_at);
}

TEST_CASE("restored symptoms close with their restored root") {
  manual_clock clock;
  analyzer a{test_settings(), dependency_graph{{"mapper", {"broker"}}}, clock};
  incident root;
  root.id = "root";
  root.component = "broker";
  root.type = unavailable;
  root.opened_at = root.last_seen_at = clock.now();
  incident symptom = root;
  symptom.id = "symptom";
  symptom.component = "mapper";
  symptom.root_cause = "root";
  a.restore({symptom, root});
  a.on_event(clear("broker", unavailable));
  CHECK(a.find("symptom")->status == incident_status::closed);
  CHECK(a.find("symptom")->close_reason == "root cause root closed");
}

TEST_CASE("settings and the dependency graph come from the config") {
  config cfg;
  cfg.node.id = "edge-7";
  cfg.fault_detection.dedup_window = seconds_d(12);
  cfg.fault_detection.flap_threshold = 9;
  cfg.alerting.min_severity = fault_severity::critical;
  service_config svc;
  svc.name = "mapper";
  svc.depends_on = {"broker"};
  cfg.services.push_back(svc);
  auto s = analysis::make_settings(cfg);
  CHECK(s.node_id == "edge-7");
  CHECK(s.dedup_window == seconds_d(12));
  CHECK(s.flap_threshold == 9);
  CHECK(s.min_alert_severity == fault_severity::critical);
  auto g = analysis::make_dependency_graph(cfg.services);
  CHECK(g.at("mapper") == std::vector<std::string>{"broker"});
}

TEST_CASE("the recovery strategy and actions recorded on an incident are kept when events fold in") {
  manual_clock clk;
  analysis::settings st;
  st.node_id = "n1";
  analysis::analyzer an{st, {}, clk};
  fault_event e;
  e.id = "e1";
  e.time = clk.now();
  e.type = fault_type::service_unavailable;
  e.severity = fault_severity::high;
  e.component = "gw";
  auto r = an.on_event(e);
  action_execution a;
  a.action.type = action_type::restart_service;
  a.status = action_status::completed;
  auto set = an.set_recovery(r.incident_id, "service_unavailable", {a});
  REQUIRE(set.changed.size() == 1);
  CHECK(set.changed[0].strategy == "service_unavailable");
  e.id = "e2";
  auto again = an.on_event(e);
  REQUIRE_FALSE(again.changed.empty());
  CHECK(again.changed[0].strategy == "service_unavailable");
  CHECK(again.changed[0].actions.size() == 1);
  CHECK(an.set_recovery("unknown-id", "x", {}).changed.empty());
  // An execution's progress carries its status and error too.
  recovery_execution x;
  x.incident_id = r.incident_id;
  x.strategy_id = "service_unavailable";
  x.actions = {a};
  x.status = execution_status::failed;
  x.error = "restart_service: spawn failed";
  auto done = an.set_recovery(x);
  REQUIRE(done.changed.size() == 1);
  REQUIRE(done.changed[0].recovery_status.has_value());
  CHECK(*done.changed[0].recovery_status == execution_status::failed);
  CHECK(done.changed[0].recovery_error == "restart_service: spawn failed");
  x.incident_id = "unknown-id";
  CHECK(an.set_recovery(x).changed.empty());
}

TEST_CASE("an incident stays open while any source with a clearing signal still reports it") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto by_check = fault("gw-mqtt", unavailable);
  by_check.source = "check:tcp";
  by_check.details["check"] = "mqtt-listener";
  auto opened = a.on_event(by_check);
  auto by_process = fault("gw-mqtt", unavailable);
  by_process.source = "process";
  a.on_event(by_process);
  // The process runs again: the check still fails, the incident stays.
  a.on_event(clear("gw-mqtt", unavailable, "process"));
  CHECK(a.find(opened.incident_id)->status == incident_status::open);
  // Neither does it close on quiet: its check has a clearing signal.
  clock.advance(seconds_d(3600));
  a.tick();
  CHECK(a.find(opened.incident_id)->status == incident_status::open);
  auto done = clear("gw-mqtt", unavailable, "check:tcp");
  done.details["check"] = "mqtt-listener";
  a.on_event(done);
  CHECK(a.find(opened.incident_id)->status == incident_status::closed);
  CHECK(faultd::analysis::source_key(by_check) == "check:mqtt-listener");
  CHECK(faultd::analysis::source_clears("process"));
  CHECK_FALSE(faultd::analysis::source_clears("inject"));
}

TEST_CASE("a reopened incident alerts again once its last alert is older than the dedup window") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  auto first = a.on_event(fault("gw-mqtt", unavailable));
  CHECK(first.alerts.size() == 1);
  // A quick bounce: closed and back within seconds of the alert, no new page.
  a.on_event(clear("gw-mqtt", unavailable));
  auto bounce = a.on_event(fault("gw-mqtt", unavailable));
  CHECK(bounce.reopened);
  CHECK(bounce.alerts.empty());
  // Open for an hour, closed, back within the dedup window: it alerts again.
  clock.advance(seconds_d(3600));
  a.on_event(clear("gw-mqtt", unavailable));
  clock.advance(seconds_d(10));
  auto back = a.on_event(fault("gw-mqtt", unavailable));
  CHECK(back.reopened);
  CHECK(back.incident_id == first.incident_id);
  CHECK(back.alerts.size() == 1);
}

TEST_CASE("a symptom whose own check still fails stays open, on its own, when its root closes") {
  manual_clock clock;
  analyzer a{test_settings(), {{"api", {"db"}}}, clock};
  auto root = a.on_event(fault("db", unavailable));
  auto api = fault("api", unavailable);
  api.source = "check:http";
  api.details["check"] = "api-health";
  auto symptom = a.on_event(api);
  REQUIRE(a.find(symptom.incident_id)->root_cause == root.incident_id);
  a.on_event(clear("db", unavailable, "process"));
  CHECK(a.find(root.incident_id)->status == incident_status::closed);
  CHECK(a.find(symptom.incident_id)->status == incident_status::open);
  CHECK(a.find(symptom.incident_id)->root_cause.empty());
  auto passes = clear("api", unavailable, "check:http");
  passes.details["check"] = "api-health";
  a.on_event(passes);
  CHECK(a.find(symptom.incident_id)->status == incident_status::closed);
}

TEST_CASE("open incidents are counted by fault type and severity") {
  manual_clock clock;
  analyzer a{test_settings(), {}, clock};
  CHECK(a.open_counts().empty());
  a.on_event(fault("a", unavailable, fault_severity::high));
  a.on_event(fault("b", unavailable, fault_severity::high));
  a.on_event(fault("c", timeout, fault_severity::low));
  auto counts = a.open_counts();
  CHECK(counts[{"service_unavailable", "high"}] == 2);
  CHECK(counts[{"network_timeout", "low"}] == 1);
  a.on_event(clear("a", unavailable, "inject"));
  a.on_event(clear("b", unavailable, "inject"));
  CHECK(a.open_counts().count({"service_unavailable", "high"}) == 0);
}
