#include <doctest/doctest.h>

#include <csignal>

#include "process/service_faults.hpp"

using namespace faultd;
using namespace faultd::process;

namespace {

service_config with_policy(restart_policy p) {
  service_config c;
  c.name = "job";
  c.command = {"/bin/true"};
  c.restart.policy = p;
  return c;
}

event exited(std::optional<int> code, std::optional<int> sig, bool will_restart,
             bool expected = false) {
  event e;
  e.kind = event_kind::exited;
  e.service = "job";
  e.pid = 12;
  e.exit_code = code;
  e.signal = sig;
  e.will_restart = will_restart;
  e.was_expected = expected;
  return e;
}

} // namespace

TEST_CASE("an exit the policy restarts is a high service_unavailable fault") {
  auto f = fault_of(exited(std::nullopt, SIGKILL, true), with_policy(restart_policy::always), "n1");
  REQUIRE(f);
  CHECK(f->type == fault_type::service_unavailable);
  CHECK(f->severity == fault_severity::high);
  CHECK_FALSE(f->clears);
  CHECK(f->details.at("exit") == "signal 9");
  CHECK(f->component == "job");
  CHECK(f->node == "n1");
}

TEST_CASE("a one-shot job that exits 0 under never or on-failure only clears, it raises nothing") {
  for (auto p : {restart_policy::never, restart_policy::on_failure}) {
    auto f = fault_of(exited(0, std::nullopt, false), with_policy(p), "n1");
    REQUIRE(f);
    CHECK(f->clears);
    CHECK(f->severity == fault_severity::low);
    CHECK(f->details.at("event") == "completed");
  }
}

TEST_CASE("a crash under never is a medium fault that says it is not restarted") {
  auto f = fault_of(exited(2, std::nullopt, false), with_policy(restart_policy::never), "n1");
  REQUIRE(f);
  CHECK_FALSE(f->clears);
  CHECK(f->severity == fault_severity::medium);
  CHECK(f->details.at("recovery") == "not restarted: restart policy never");
  CHECK(f->details.at("restart_policy") == "never");
}

TEST_CASE("stops, shutdowns and adoptions are no faults - every start clears") {
  auto cfg = with_policy(restart_policy::always);
  CHECK_FALSE(fault_of(exited(std::nullopt, SIGTERM, false, true), cfg, "n1"));
  CHECK_FALSE(fault_of(exited(std::nullopt, SIGTERM, false), cfg, "n1"));  // shutdown
  event started;
  started.kind = event_kind::started;
  started.service = "job";
  auto first = fault_of(started, cfg, "n1");
  REQUIRE(first);
  CHECK(first->clears);
  started.restarts = 1;
  auto cleared = fault_of(started, cfg, "n1");
  REQUIRE(cleared);
  CHECK(cleared->clears);
  event adopted;
  adopted.kind = event_kind::adopted;
  CHECK_FALSE(fault_of(adopted, cfg, "n1"));
}

TEST_CASE("a storm and a failed spawn are critical") {
  event storm;
  storm.kind = event_kind::storm;
  storm.restarts_in_period = 6;
  auto f = fault_of(storm, with_policy(restart_policy::always), "n1");
  REQUIRE(f);
  CHECK(f->severity == fault_severity::critical);
  event bad;
  bad.kind = event_kind::spawn_failed;
  bad.error = "exec /nope: No such file or directory (2)";
  auto g = fault_of(bad, with_policy(restart_policy::never), "n1");
  REQUIRE(g);
  CHECK(g->severity == fault_severity::critical);
  CHECK(g->details.at("error") == bad.error);
}

TEST_CASE("a spawn that failed for lack of fds is also the node's exhaustion") {
  event e;
  e.kind = event_kind::spawn_failed;
  e.service = "web";
  e.error = "open-log /d/logs/web.log: Too many open files (24)";
  auto f = node_fault_of(e, "n1");
  REQUIRE(f);
  CHECK(f->component == "resource:fds");
  CHECK(f->type == fault_type::resource_exhaustion);
  CHECK(f->severity == fault_severity::critical);
  e.error = "exec /nope: No such file or directory (2)";
  CHECK_FALSE(node_fault_of(e, "n1"));
  event exited;
  exited.kind = event_kind::exited;
  CHECK_FALSE(node_fault_of(exited, "n1"));
}
