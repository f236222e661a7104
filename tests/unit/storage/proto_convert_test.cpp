#include <doctest/doctest.h>

#include "faultd/v1/domain.pb.h"
#include "storage/proto_convert.hpp"
#include "storage/wire.hpp"

using namespace faultd;
using namespace faultd::storage;

namespace {

timestamp at(int64_t ns) { return from_unix_nanos(ns); }

fault_event make_event(fault_type t, fault_severity s, bool with_request_id) {
  fault_event e;
  e.id = "0d9e4a52-8c1f-4a0e-9a57-3b7b8f1c2d10";
  e.time = at(1'700'000'123'456'789'012);
  e.type = t;
  e.severity = s;
  e.component = "mqtt-gateway";
  e.node = "edge-2";
  e.details = {{"reason", "connection refused"}, {"port", "1883"}, {"", "empty key"}};
  e.metrics = {{"latency_ms", 12.5}, {"cpu", -0.25}, {"zero", 0.0}};
  if (with_request_id)
    e.request_id = "req-77";
  e.source = "check:tcp";
  e.clears = true;
  return e;
}

recovery_action make_action(action_type t) {
  recovery_action a;
  a.type = t;
  a.target = "semantic-mapper";
  a.parameters = {{"command", "systemctl restart x"}, {"level", "2"}};
  a.timeout = millis_d(1500);
  a.retry_count = 3;
  a.retry_delay = millis_d(250);
  return a;
}

action_execution make_action_execution(action_status s, bool with_times) {
  action_execution x;
  x.action = make_action(action_type::failover);
  x.status = s;
  x.attempts = 2;
  x.error = "timed out after 1.5s";
  x.rollback_data = std::string("prev\0level\xff", 11); // bytes, not text
  if (with_times) {
    x.started_at = at(1'700'000'000'000'000'001);
    x.ended_at = at(1'700'000'001'000'000'002);
  }
  return x;
}

recovery_execution make_execution(execution_status s, bool ended) {
  recovery_execution x;
  x.id = "exec-1";
  x.incident_id = "inc-1";
  x.strategy_id = "restart-then-failover";
  x.status = s;
  x.started_at = at(1'700'000'000'000'000'000);
  if (ended)
    x.ended_at = at(1'700'000'005'000'000'000);
  x.error = "step 2 failed";
  x.actions = {make_action_execution(action_status::completed, true),
               make_action_execution(action_status::failed, false)};
  return x;
}

incident make_incident(incident_status s, bool closed) {
  incident x;
  x.id = "inc-42";
  x.component = "broker";
  x.type = fault_type::service_unavailable;
  x.severity = fault_severity::critical;
  x.status = s;
  x.node = "cloud-1";
  x.opened_at = at(1'700'000'000'000'000'000);
  x.last_seen_at = at(1'700'000'060'000'000'000);
  if (closed)
    x.closed_at = at(1'700'000'120'000'000'000);
  x.event_count = 100'000;
  x.first_event_id = "ev-1";
  x.root_cause = "inc-41";
  x.impacted = {"gateway", "mapper"};
  x.flapping = true;
  x.close_reason = "fault cleared";
  x.strategy = "restart";
  x.actions = {make_action_execution(action_status::running, true)};
  x.recovery_status = execution_status::rolled_back;
  x.recovery_error = "action 1 failed";
  return x;
}

} // namespace

TEST_CASE("fault events round-trip through protobuf for every type and severity") {
  for (auto t : all_fault_types())
    for (auto s : all_fault_severities())
      for (bool rid : {true, false}) {
        auto e = make_event(t, s, rid);
        fault_event back;
        REQUIRE(from_proto(to_proto(e), back).ok());
        CHECK(back == e);
        CHECK(back.request_id.has_value() == rid);
      }
}

TEST_CASE("a default fault event round-trips with empty maps and no request id") {
  fault_event e;
  fault_event back = make_event(fault_type::network_timeout, fault_severity::low, true);
  REQUIRE(from_proto(to_proto(e), back).ok());
  CHECK(back == e);
  CHECK(back.details.empty());
  CHECK_FALSE(back.request_id.has_value());
}

TEST_CASE("recovery actions and strategies round-trip for every action type") {
  recovery_strategy st;
  st.id = "s1";
  st.name = "restart then failover";
  st.description = "tries a restart first";
  st.fault_types = all_fault_types();
  st.severity_levels = all_fault_severities();
  st.component_pattern = "mqtt-*";
  st.priority = 10;
  st.timeout = seconds_d(90);
  st.rollback_enabled = false;
  for (auto t : all_action_types()) {
    auto a = make_action(t);
    recovery_action back;
    REQUIRE(from_proto(to_proto(a), back).ok());
    CHECK(back == a);
    st.actions.push_back(a);
  }
  // An application's own type travels by its name.
  recovery_action custom;
  custom.type = action_type::custom;
  custom.custom_type = "drain_queue";
  custom.parameters["depth"] = "100";
  st.actions.push_back(custom);
  recovery_strategy back;
  REQUIRE(from_proto(to_proto(st), back).ok());
  CHECK(back == st);
  CHECK(action_name(back.actions.back()) == "drain_queue");
  // A custom type without its name, or a name on a built-in type, does not decode.
  auto unnamed = to_proto(custom);
  unnamed.clear_custom_type();
  recovery_action bad;
  CHECK(from_proto(unnamed, bad).code() == errc::malformed_payload);
  auto named = to_proto(make_action(action_type::failover));
  named.set_custom_type("x");
  CHECK(from_proto(named, bad).code() == errc::malformed_payload);
}

TEST_CASE("action executions round-trip for every status with times set and unset") {
  for (auto s : {action_status::pending, action_status::running, action_status::completed,
                 action_status::failed, action_status::skipped, action_status::rolled_back})
    for (bool times : {true, false}) {
      auto x = make_action_execution(s, times);
      action_execution back = make_action_execution(action_status::pending, !times);
      REQUIRE(from_proto(to_proto(x), back).ok());
      CHECK(back == x);
      CHECK(back.started_at.has_value() == times);
      CHECK(back.ended_at.has_value() == times);
    }
}

TEST_CASE("recovery executions round-trip for every status, ended or not") {
  for (auto s : {execution_status::pending, execution_status::running,
                 execution_status::completed, execution_status::failed,
                 execution_status::rolled_back})
    for (bool ended : {true, false}) {
      auto x = make_execution(s, ended);
      recovery_execution back;
      REQUIRE(from_proto(to_proto(x), back).ok());
      CHECK(back == x);
      recovery_execution parsed;
      REQUIRE(parse(serialize(x), parsed).ok());
      CHECK(parsed == x);
    }
}

TEST_CASE("incidents round-trip open and closed") {
  for (auto s : {incident_status::open, incident_status::closed})
    for (bool closed : {true, false}) {
      auto x = make_incident(s, closed);
      incident back;
      REQUIRE(from_proto(to_proto(x), back).ok());
      CHECK(back == x);
      incident parsed;
      REQUIRE(parse(serialize(x), parsed).ok());
      CHECK(parsed == x);
      CHECK(parsed.closed_at.has_value() == closed);
    }
}

TEST_CASE("alerts round-trip for every severity") {
  for (auto s : all_fault_severities()) {
    alert a;
    a.id = "al-1";
    a.incident_id = "inc-1";
    a.time = at(1'700'000'000'123'000'000);
    a.severity = s;
    a.component = "db";
    a.summary = "db down on node-3";
    alert back;
    REQUIRE(from_proto(to_proto(a), back).ok());
    CHECK(back == a);
    alert parsed;
    REQUIRE(parse(serialize(a), parsed).ok());
    CHECK(parsed == a);
  }
}

TEST_CASE("state entries round-trip with binary values and tombstones") {
  for (bool tomb : {true, false}) {
    state_entry e;
    e.key = "primary/broker";
    e.value = std::string("\x00\xff\xfe binary", 10);
    e.version = 0xFFFF'FFFF'FFFFull;
    e.origin_node = "node-2";
    e.checksum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    e.tombstone = tomb;
    e.updated_at = at(1'700'000'000'000'000'007);
    state_entry back;
    REQUIRE(from_proto(to_proto(e), back).ok());
    CHECK(back == e);
    state_entry parsed;
    REQUIRE(parse(serialize(e), parsed).ok());
    CHECK(parsed == e);
  }
}

TEST_CASE("fault events round-trip through serialize and parse") {
  auto e = make_event(fault_type::security_violation, fault_severity::high, true);
  auto bytes = serialize(e);
  CHECK_FALSE(bytes.empty());
  fault_event back;
  REQUIRE(parse(bytes, back).ok());
  CHECK(back == e);
}

TEST_CASE("bytes that are no protobuf message are reported as malformed payload") {
  fault_event e;
  // 0xff... is a varint that never ends; a lone tag with wire type 7 is invalid.
  for (std::string bad : {std::string(12, '\xff'), std::string("\x0f"), std::string("\x0a\x50" "abc")}) {
    auto st = parse(bad, e);
    CHECK(st.code() == errc::malformed_payload);
    CHECK(st.message().find("FaultEvent") != std::string::npos);
    incident i;
    CHECK(parse(bad, i).code() == errc::malformed_payload);
    recovery_execution x;
    CHECK(parse(bad, x).code() == errc::malformed_payload);
    state_entry s;
    CHECK(parse(bad, s).code() == errc::malformed_payload);
  }
}

TEST_CASE("enum numbers the domain does not know are rejected") {
  SUBCASE("fault type") {
    auto m = to_proto(make_event(fault_type::network_timeout, fault_severity::low, false));
    m.set_type(static_cast<v1::FaultType>(7));
    fault_event e;
    auto st = from_proto(m, e);
    CHECK(st.code() == errc::malformed_payload);
    CHECK(st.message().find("FaultEvent.type") != std::string::npos);
    // The same through the wire: proto3 keeps the unknown number.
    CHECK(parse(m.SerializeAsString(), e).code() == errc::malformed_payload);
  }
  SUBCASE("severity") {
    auto m = to_proto(make_event(fault_type::network_timeout, fault_severity::low, false));
    m.set_severity(static_cast<v1::FaultSeverity>(-1));
    fault_event e;
    CHECK(from_proto(m, e).code() == errc::malformed_payload);
  }
  SUBCASE("action status inside an execution") {
    auto m = to_proto(make_execution(execution_status::running, false));
    m.mutable_actions(1)->set_status(static_cast<v1::ActionStatus>(6));
    recovery_execution x;
    CHECK(parse(m.SerializeAsString(), x).code() == errc::malformed_payload);
  }
  SUBCASE("action type inside an incident") {
    auto m = to_proto(make_incident(incident_status::open, false));
    m.mutable_actions(0)->mutable_action()->set_type(static_cast<v1::ActionType>(99));
    incident x;
    CHECK(parse(m.SerializeAsString(), x).code() == errc::malformed_payload);
  }
  SUBCASE("incident status") {
    auto m = to_proto(make_incident(incident_status::open, false));
    m.set_status(static_cast<v1::IncidentStatus>(2));
    incident x;
    CHECK(from_proto(m, x).code() == errc::malformed_payload);
  }
  SUBCASE("execution status") {
    auto m = to_proto(make_execution(execution_status::running, false));
    m.set_status(static_cast<v1::ExecutionStatus>(5));
    recovery_execution x;
    CHECK(from_proto(m, x).code() == errc::malformed_payload);
  }
  SUBCASE("strategy fault types") {
    recovery_strategy s;
    auto m = to_proto(s);
    m.add_fault_types(static_cast<v1::FaultType>(8));
    CHECK(from_proto(m, s).code() == errc::malformed_payload);
  }
  SUBCASE("alert severity") {
    auto m = to_proto(alert{});
    m.set_severity(static_cast<v1::FaultSeverity>(4));
    alert a;
    CHECK(from_proto(m, a).code() == errc::malformed_payload);
  }
}

TEST_CASE("invalid UTF-8 in strings is replaced so the message still parses") {
  auto e = make_event(fault_type::software_error, fault_severity::low, false);
  e.details["stdout"] = "ok \xff\xfe end";
  e.component = "caf\xc3\xa9"; // valid two-byte sequence stays as it is
  fault_event back;
  REQUIRE(parse(serialize(e), back).ok());
  CHECK(back.details["stdout"] == "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(back.component == e.component);
}
