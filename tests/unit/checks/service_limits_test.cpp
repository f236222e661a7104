#include <doctest/doctest.h>

#include "checks/service_limits.hpp"

using namespace faultd;
using namespace faultd::checks;

namespace {

service_limits limits() {
  service_limits l;
  l.memory = 512ull << 20;
  l.cpu = 90;
  l.fds = 100;
  l.failure_threshold = 2;
  l.success_threshold = 2;
  return l;
}

service_usage usage(uint64_t mem_mib, double cpu, uint64_t fds) {
  service_usage u;
  u.memory_bytes = mem_mib << 20;
  u.cpu_percent = cpu;
  u.fds = fds;
  u.processes = 3;
  return u;
}

} // namespace

TEST_CASE("a service over its memory limit for failure_threshold samples raises one high fault") {
  manual_clock clock;
  service_limit_monitor m{"n1", clock};
  CHECK_FALSE(m.observe("db", limits(), usage(100, 10, 10)));
  CHECK_FALSE(m.observe("db", limits(), usage(600, 10, 10)));  // one sample is not enough
  auto ev = m.observe("db", limits(), usage(700, 10, 10));
  REQUIRE(ev);
  CHECK(ev->type == fault_type::resource_exhaustion);
  CHECK(ev->severity == fault_severity::high);
  CHECK(ev->component == "db");
  CHECK_FALSE(ev->clears);
  CHECK(ev->details["resource"] == "memory");
  CHECK(ev->details["message"] == "db over its limits: memory 700MiB > 512MiB");
  CHECK(ev->metrics["memory_bytes"] == 700.0 * (1 << 20));
  CHECK(ev->metrics["processes"] == 3);
  // Staying over says nothing new.
  CHECK_FALSE(m.observe("db", limits(), usage(700, 10, 10)));
}

TEST_CASE("a second resource joining raises the fault again, and it clears only when all are back") {
  manual_clock clock;
  service_limit_monitor m{"n1", clock};
  m.observe("db", limits(), usage(700, 10, 10));
  REQUIRE(m.observe("db", limits(), usage(700, 10, 10)));
  m.observe("db", limits(), usage(700, 95, 10));
  auto both = m.observe("db", limits(), usage(700, 95, 10));
  REQUIRE(both);
  CHECK(both->details["resource"] == "cpu,memory");
  // Memory recovers, CPU stays over: still open.
  m.observe("db", limits(), usage(100, 95, 10));
  CHECK_FALSE(m.observe("db", limits(), usage(100, 95, 10)));
  CHECK(m.over("db") == std::set<std::string>{"cpu"});
  m.observe("db", limits(), usage(100, 5, 10));
  auto clear = m.observe("db", limits(), usage(100, 5, 10));
  REQUIRE(clear);
  CHECK(clear->clears);
  CHECK(clear->component == "db");
  CHECK(m.over("db").empty());
}

TEST_CASE("only the limits a service declares are judged, and missing readings are skipped") {
  manual_clock clock;
  service_limit_monitor m{"n1", clock};
  service_limits fds_only;
  fds_only.fds = 10;
  fds_only.failure_threshold = 1;
  CHECK_FALSE(m.observe("gw", fds_only, usage(100000, 1000, 5)));
  service_usage no_fds;
  no_fds.memory_bytes = 1;
  CHECK_FALSE(m.observe("gw", fds_only, no_fds));
  auto ev = m.observe("gw", fds_only, usage(1, 1, 11));
  REQUIRE(ev);
  CHECK(ev->details["message"] == "gw over its limits: fds 11 > 10");
}

TEST_CASE("cpu percent is ticks over time, and nothing when time or the counter went backwards") {
  CHECK(cpu_percent_between(100, 190, std::chrono::seconds(1), 100) == doctest::Approx(90.0));
  CHECK(cpu_percent_between(0, 500, std::chrono::seconds(2), 100) == doctest::Approx(250.0));
  CHECK_FALSE(cpu_percent_between(200, 100, std::chrono::seconds(1), 100));
  CHECK_FALSE(cpu_percent_between(1, 2, duration{0}, 100));
  CHECK(format_bytes(512ull << 20) == "512MiB");
  CHECK(format_bytes(1536ull << 20) == "1.5GiB");
  CHECK(format_bytes(12) == "12B");
}
