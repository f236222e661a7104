// The metrics endpoint against a real Prometheus (Debian's prometheus,
// started by the test on loopback): it scrapes faultd every second, and its
// query API shows faultd_service_restarts_total rise after the service is
// killed. /healthz answers ok while the node runs, also through random
// bytes, a huge length field and idle connections.

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "support/http_receiver.hpp"
#include "support/node_process.hpp"
#include "support/raw_client.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a real Prometheus scrapes faultd and sees a killed service's restart") {
  const std::string bin = "/usr/bin/prometheus";
  REQUIRE_MESSAGE(::access(bin.c_str(), X_OK) == 0,
                  "prometheus is not installed (tools/test installs it)");
  auto metrics_port = free_port();
  node_process n{"services:\n  - name: svc\n    command: [\"/bin/sleep\", \"1000\"]\n"
                 "metrics:\n  listen: 127.0.0.1:"
                 + std::to_string(metrics_port) + "\n"};
  CHECK(http_get(metrics_port, "/healthz") == "ok\n");
  REQUIRE(wait_until([&] {
    return contains(http_get(metrics_port, "/metrics"), "faultd_service_up{service=\"svc\"} 1");
  }));
  temp_dir dir;
  write_file(dir.file("prometheus.yml"),
             "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
             "scrape_configs:\n  - job_name: faultd\n    static_configs:\n"
             "      - targets: ['127.0.0.1:"
               + std::to_string(metrics_port) + "']\n");
  auto port = free_port();
  child_process prom{{bin, "--config.file=" + dir.file("prometheus.yml"),
                      "--storage.tsdb.path=" + dir.file("data"),
                      "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                     dir.file("prometheus.log")};
  INFO("prometheus log: ", read_file(dir.file("prometheus.log")));
  REQUIRE(wait_until([&] { return !http_get(port, "/-/ready").empty(); },
                     std::chrono::seconds(30)));
  const std::string query =
    "/api/v1/query?query=faultd_service_restarts_total%7Bservice%3D%22svc%22%7D";
  // Prometheus has scraped the service's restarts at 0 ...
  std::string answer;
  REQUIRE(wait_until(
    [&] {
      answer = http_get(port, query);
      return contains(answer, "\"job\":\"faultd\"") && contains(answer, ",\"0\"]");
    },
    std::chrono::seconds(30)));
  auto pid = n.service_pid("svc");
  REQUIRE(!pid.empty());
  REQUIRE(::kill(std::stoi(pid), SIGKILL) == 0);
  // ... and sees them rise once faultd restarted it.
  CHECK(wait_until(
    [&] {
      answer = http_get(port, query);
      return contains(answer, ",\"1\"]");
    },
    std::chrono::seconds(30)));
  CAPTURE(answer);
  // Prometheus marks its target up.
  CHECK(contains(http_get(port, "/api/v1/query?query=up%7Bjob%3D%22faultd%22%7D"), ",\"1\"]"));
}

TEST_CASE("the metrics endpoint lives through random bytes, a huge length and idle connections") {
  auto port = free_port();
  node_process n{"services: []\nmetrics:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n"};
  REQUIRE(http_get(port, "/healthz") == "ok\n");
  std::mt19937 rng{11};
  std::vector<std::unique_ptr<raw_client>> idle;
  for (int i = 0; i < 20; ++i)
    idle.push_back(std::make_unique<raw_client>("", port));
  raw_client garbage{"", port};
  garbage.send(random_bytes(rng, 5000));
  raw_client huge{"", port};
  huge.send("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n");
  // Still answering (idle connections each hold a thread for 1 s at most).
  CHECK(wait_until([&] { return http_get(port, "/healthz", 5000) == "ok\n"; },
                   std::chrono::seconds(30)));
  CHECK(contains(http_get(port, "/metrics", 5000), "faultd_healthy 1"));
  CHECK(n.ctl({"status"}).status == 0);
}
