#include <doctest/doctest.h>

#include <thread>

#include <prometheus/collectable.h>
#include <prometheus/text_serializer.h>

#include "metrics/endpoint.hpp"
#include "metrics/hub.hpp"

using namespace faultd;
using namespace faultd::metrics;
using std::chrono::milliseconds;

namespace {

/// What /metrics would serve.
std::string scrape(const hub& h) {
  std::vector<prometheus::MetricFamily> all;
  for (auto& weak : h.collectables())
    if (auto c = weak.lock())
      for (auto& f : c->Collect())
        all.push_back(std::move(f));
  return prometheus::TextSerializer{}.Serialize(all);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("metrics follow Prometheus naming and count what happened") {
  hub h;
  h.beat();
  h.check_result("gw", "port", true, milliseconds(3));
  h.check_result("gw", "port", false, milliseconds(2));
  h.recovery_done("restart_svc", "completed", milliseconds(40));
  h.action_done("restart_service", "completed", milliseconds(30));
  h.alert_raised("critical");
  h.alert_sent("alertmanager");
  h.alert_dropped("webhook-1");
  h.storage_commit(milliseconds(1));
  h.incidents_open({{{"network_timeout", "high"}, 2}});
  h.device_messages(10, 2, 3);
  h.devices(5, 1);
  auto text = scrape(h);
  CAPTURE(text);
  CHECK(contains(text, "faultd_check_runs_total{check=\"port\",result=\"ok\",service=\"gw\"} 1"));
  CHECK(contains(text, "faultd_check_runs_total{check=\"port\",result=\"failed\",service=\"gw\"} 1"));
  CHECK(contains(text, "faultd_check_success{check=\"port\",service=\"gw\"} 0"));
  CHECK(contains(text, "faultd_check_duration_seconds_count{check=\"port\",service=\"gw\"} 2"));
  CHECK(contains(text, "faultd_recovery_executions_total{status=\"completed\",strategy=\"restart_svc\"} 1"));
  CHECK(contains(text, "faultd_recovery_duration_seconds_sum{strategy=\"restart_svc\"} 0.04"));
  CHECK(contains(text, "faultd_recovery_actions_total{status=\"completed\",type=\"restart_service\"} 1"));
  CHECK(contains(text, "faultd_alerts_total{severity=\"critical\"} 1"));
  CHECK(contains(text, "faultd_alerts_sent_total{sink=\"alertmanager\"} 1"));
  CHECK(contains(text, "faultd_alerts_dropped_total{sink=\"webhook-1\"} 1"));
  CHECK(contains(text, "faultd_storage_commit_duration_seconds_count 1"));
  CHECK(contains(text, "faultd_incidents_open{fault_type=\"network_timeout\",severity=\"high\"} 2"));
  CHECK(contains(text, "faultd_healthy 1"));
  CHECK(contains(text, "faultd_device_messages_total 10"));
  CHECK(contains(text, "faultd_device_messages_dropped_total{reason=\"buffer_full\"} 2"));
  CHECK(contains(text, "faultd_device_messages_dropped_total{reason=\"malformed\"} 3"));
  CHECK(contains(text, "faultd_devices 5"));
  CHECK(contains(text, "faultd_devices_silent 1"));
  // An incident kind that closed reads 0, not its last count.
  h.incidents_open({});
  CHECK(contains(scrape(h), "faultd_incidents_open{fault_type=\"network_timeout\",severity=\"high\"} 0"));
}

TEST_CASE("services and members are read when scraped") {
  hub h;
  uint64_t restarts = 0;
  sources s;
  s.services = [&] { return std::vector<service_sample>{{"gw", "running", restarts}}; };
  s.members = [] { return std::map<std::string, uint64_t>{{"alive", 2}, {"dead", 1}}; };
  h.set_sources(s);
  auto text = scrape(h);
  CHECK(contains(text, "faultd_service_up{service=\"gw\"} 1"));
  CHECK(contains(text, "faultd_service_state{service=\"gw\",state=\"running\"} 1"));
  CHECK(contains(text, "faultd_service_restarts_total{service=\"gw\"} 0"));
  CHECK(contains(text, "# TYPE faultd_service_restarts_total counter"));
  CHECK(contains(text, "faultd_cluster_members{state=\"alive\"} 2"));
  CHECK(contains(text, "faultd_cluster_members{state=\"suspect\"} 0"));
  restarts = 3;
  CHECK(contains(scrape(h), "faultd_service_restarts_total{service=\"gw\"} 3"));
}

TEST_CASE("a heartbeat that stops makes the node unhealthy") {
  hub h{milliseconds(50)};
  h.beat();
  CHECK(h.healthy());
  std::this_thread::sleep_for(milliseconds(120));
  CHECK_FALSE(h.healthy());
  CHECK(h.since_beat() >= milliseconds(120));
  CHECK(contains(scrape(h), "faultd_healthy 0"));
  h.beat();
  CHECK(h.healthy());
}

TEST_CASE("a metrics endpoint that cannot listen says where and why") {
  auto h = std::make_shared<hub>();
  std::unique_ptr<endpoint> first, second;
  REQUIRE(endpoint::open("127.0.0.1:0", h, first).ok());
  auto port = first->port();
  REQUIRE(port > 0);
  auto st = endpoint::open("127.0.0.1:" + std::to_string(port), h, second);
  CHECK_FALSE(st.ok());
  CHECK(contains(st.message(), "metrics.listen 127.0.0.1:" + std::to_string(port)));
  CHECK(contains(st.message(), "cannot listen"));
}
