#include <doctest/doctest.h>

#include "alerting/payload.hpp"

using namespace faultd;
using namespace faultd::alerting;

namespace {

alert sample() {
  alert a;
  a.id = "a1";
  a.incident_id = "i1";
  a.time = *parse_timestamp("2026-12-06T05:00:00.000Z");
  a.severity = fault_severity::critical;
  a.component = "gw-mqtt";
  a.summary = "service_unavailable on gw-mqtt (critical): \"down\"\n";
  a.type = fault_type::service_unavailable;
  a.node = "n1";
  return a;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("JSON strings escape quotes, control characters and bytes that are not UTF-8") {
  CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_string("l1\nl2\t") == "\"l1\\nl2\\u0009\"");
  CHECK(json_string("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(json_string("bad\xff") == "\"bad\\ufffd\"");
  CHECK(json_string("cut\xc3") == "\"cut\\ufffd\"");
}

TEST_CASE("an Alertmanager alert carries the labels, the summary and endsAt once resolved") {
  auto firing = alertmanager_body({{sample(), std::nullopt}});
  CHECK(firing.front() == '[');
  CHECK(contains(firing, "\"labels\":{\"alertname\":\"faultd_service_unavailable\","
                         "\"severity\":\"critical\",\"component\":\"gw-mqtt\",\"node\":\"n1\","
                         "\"fault_type\":\"service_unavailable\",\"incident\":\"i1\"}"));
  CHECK(contains(firing, "\"summary\":\"service_unavailable on gw-mqtt (critical): \\\"down\\\"\\n\""));
  CHECK(contains(firing, "\"startsAt\":\"2026-12-06T05:00:00.000Z\""));
  CHECK_FALSE(contains(firing, "endsAt"));
  auto ends = *parse_timestamp("2026-12-06T05:01:30.000Z");
  auto resolved = alertmanager_body({{sample(), ends}, {sample(), ends}});
  CHECK(contains(resolved, "\"endsAt\":\"2026-12-06T05:01:30.000Z\"}"));
  CHECK(contains(resolved, "},{"));
}

TEST_CASE("a webhook notice says firing or resolved") {
  auto f = webhook_body({sample(), std::nullopt});
  CHECK(f.rfind("{\"kind\":\"firing\",\"alert\":{\"id\":\"a1\",\"incident\":\"i1\"", 0) == 0);
  CHECK(contains(f, "\"ends_at\":\"\"}"));
  auto r = webhook_body({sample(), *parse_timestamp("2026-12-06T05:01:30.000Z")});
  CHECK(r.rfind("{\"kind\":\"resolved\"", 0) == 0);
  CHECK(contains(r, "\"ends_at\":\"2026-12-06T05:01:30.000Z\""));
}

TEST_CASE("identity and group") {
  auto a = sample();
  auto b = sample();
  b.summary = "other text";
  b.id = "a2";
  CHECK(alertmanager_key(a) == alertmanager_key(b));  // same labels: one alert
  b.severity = fault_severity::high;
  CHECK(alertmanager_key(a) != alertmanager_key(b));
  CHECK(group_of(a) == group_of(b));
  b.component = "other";
  CHECK(group_of(a) != group_of(b));
}

TEST_CASE("an incident event carries the incident's state") {
  incident x;
  x.id = "i1";
  x.component = "gw";
  x.type = fault_type::network_timeout;
  x.severity = fault_severity::high;
  x.node = "n2";
  x.opened_at = *parse_timestamp("2026-12-06T05:00:00.000Z");
  x.event_count = 3;
  auto open = incident_body("opened", x);
  CHECK(open.rfind("{\"event\":\"opened\",\"incident\":{\"id\":\"i1\",\"component\":\"gw\"", 0)
        == 0);
  CHECK(contains(open, "\"status\":\"open\""));
  CHECK(contains(open, "\"closed_at\":\"\""));
  CHECK(contains(open, "\"count\":3}}"));
  x.status = incident_status::closed;
  x.closed_at = *parse_timestamp("2026-12-06T05:02:00.000Z");
  x.close_reason = "check passed";
  auto closed = incident_body("closed", x);
  CHECK(contains(closed, "\"closed_at\":\"2026-12-06T05:02:00.000Z\""));
  CHECK(contains(closed, "\"close_reason\":\"check passed\""));
}
