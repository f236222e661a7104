#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <thread>

#include "actions/restart_service.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"
#include "support/support.hpp"

using namespace faultd;

namespace {

/// One managed "sleeper" service and a restart_service executor for it.
struct fixture {
  test::temp_dir dir;
  config cfg;
  std::unique_ptr<process::supervisor> sup;
  state::health_board health;
  std::unique_ptr<actions::restart_service_executor> ex;
  recovery_action a;
  actions::action_context c;

  fixture() {
    service_config svc;
    svc.name = "sleeper";
    svc.command = {"/bin/sleep", "1000"};
    cfg.services.push_back(svc);
    process::supervisor_options opts;
    opts.log_dir = dir.path();
    sup = std::make_unique<process::supervisor>(opts);
    REQUIRE(sup->add(svc).get().ok());
    ex = std::make_unique<actions::restart_service_executor>(cfg, *sup, health);
    a.type = action_type::restart_service;
    a.target = "sleeper";
    c.component = "sleeper";
    c.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  }
};

} // namespace

TEST_CASE("restart_service does not restart a service its restart policy already restarted") {
  fixture f;
  auto& sup = *f.sup;
  auto& ex = *f.ex;
  auto& a = f.a;
  auto& c = f.c;
  auto first = sup.snapshot("sleeper");
  REQUIRE(first);
  auto fault_time = system_clock_source().now();
  REQUIRE(::kill(first->pid, SIGKILL) == 0);
  REQUIRE(test::wait_until([&] {
    auto s = sup.snapshot("sleeper");
    return s && s->pid != first->pid && s->state == process::service_state::running;
  }));
  auto restarted = sup.snapshot("sleeper");
  c.fault_since = fault_time;
  auto res = ex.execute(a, c);
  CHECK(res.st.ok());
  CHECK(res.note.find("already restarted") != std::string::npos);
  CHECK(sup.snapshot("sleeper")->pid == restarted->pid);
  // A fault observed after the last start does restart it.
  c.fault_since = system_clock_source().now();
  auto again = ex.execute(a, c);
  CHECK(again.st.ok());
  CHECK(sup.snapshot("sleeper")->pid != restarted->pid);
}

TEST_CASE("a second attempt of restart_service restarts again instead of trusting the first") {
  fixture f;
  auto& sup = *f.sup;
  auto& ex = *f.ex;
  auto& a = f.a;
  auto& c = f.c;
  c.fault_since = system_clock_source().now();
  auto first = ex.execute(a, c);  // attempt 1 restarts it
  REQUIRE(first.st.ok());
  auto after_first = sup.snapshot("sleeper")->pid;
  // Attempt 2 (attempt 1's checks did not pass, say): the process that
  // attempt 1 started is newer than the fault, and must still be restarted.
  c.attempt = 2;
  auto second = ex.execute(a, c);
  CHECK(second.st.ok());
  CHECK(second.note.find("already restarted") == std::string::npos);
  CHECK(sup.snapshot("sleeper")->pid != after_first);
}

TEST_CASE("restart_service refuses what the restart policy forbids: never, and on-failure after exit 0") {
  for (auto policy : {restart_policy::never, restart_policy::on_failure}) {
    test::temp_dir dir;
    config cfg;
    service_config svc;
    svc.name = "job";
    svc.command = {"/bin/true"};
    svc.restart.policy = policy;
    cfg.services.push_back(svc);
    process::supervisor_options opts;
    opts.log_dir = dir.path();
    process::supervisor sup{opts};
    REQUIRE(sup.add(svc).get().ok());
    REQUIRE(test::wait_until([&] {
      return sup.snapshot("job")->state == process::service_state::exited;
    }));
    state::health_board health;
    actions::restart_service_executor ex{cfg, sup, health};
    recovery_action a;
    a.type = action_type::restart_service;
    a.target = "job";
    actions::action_context c;
    c.component = "job";
    c.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto res = ex.execute(a, c);
    CHECK(res.st.code() == errc::bad_request);
    CHECK(res.st.message().find(policy == restart_policy::never ? "restart policy never"
                                                                 : "completed (exit 0)")
          != std::string::npos);
    CHECK(sup.snapshot("job")->state == process::service_state::exited);
  }
}
