#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "actions/restart_service.hpp"
#include "checks/health_check.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;
using faultd::test::temp_dir;
using faultd::test::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

service_config managed(const std::string& name, std::vector<std::string> cmd) {
  service_config s;
  s.name = name;
  s.command = std::move(cmd);
  s.restart.stop_grace = seconds_d(2);
  return s;
}

check_config flag_check(const std::string& flag) {
  check_config c;
  c.name = "flag";
  c.kind = check_kind::exec;
  c.command = {"/bin/sh", "-c", "test -f " + flag};
  return c;
}

recovery_action restart_of(const std::string& target) {
  recovery_action a;
  a.type = action_type::restart_service;
  a.target = target;
  return a;
}

action_context context(const std::string& component, steady::duration budget) {
  action_context ctx;
  ctx.incident_id = "inc-1";
  ctx.component = component;
  ctx.deadline = steady::now() + budget;
  return ctx;
}

int pid_of(process::supervisor& sup, const std::string& name) {
  auto s = sup.snapshot(name);
  return s && s->state == process::service_state::running ? s->pid : 0;
}

/// Plays the check actor: runs the service's exec checks every 20ms and
/// reports them to the health board with the generation read before the run.
class checker {
public:
  checker(state::health_board& board, const service_config& svc) : board_(board), svc_(svc) {
    std::vector<check_status> declared;
    for (const auto& c : svc_.checks) {
      check_status s;
      s.name = c.name;
      s.kind = "exec";
      declared.push_back(s);
    }
    board_.declare(svc_.name, declared);
    thread_ = std::thread{[this] { loop(); }};
  }
  ~checker() {
    stop_ = true;
    thread_.join();
  }

private:
  void loop() {
    while (!stop_) {
      for (const auto& c : svc_.checks) {
        auto gen = board_.generation(svc_.name);
        auto res = checks::run_exec_check(c.command, c.timeout);
        check_status s;
        s.name = c.name;
        s.kind = "exec";
        s.health = res.ok() ? "healthy" : "unhealthy";
        s.consecutive_failures = res.ok() ? 0 : 1;
        s.last_error = res.ok() ? "" : res.message;
        board_.update(svc_.name, s, gen);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  state::health_board& board_;
  service_config svc_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("restart_service restarts a managed service: the pid changes and it runs again") {
  config cfg;
  cfg.services.push_back(managed("sleeper", {"/bin/sleep", "1000"}));
  process::supervisor sup;
  state::health_board health;
  REQUIRE(sup.add(cfg.services[0]).get().ok());
  int before = pid_of(sup, "sleeper");
  REQUIRE(before > 0);

  restart_service_executor ex{cfg, sup, health};
  // The seed's placeholder target resolves to the incident's component.
  auto a = restart_of("service_name");
  auto ctx = context("sleeper", seconds(10));
  auto r = ex.execute(a, ctx);
  CHECK_MESSAGE(r.st.ok(), r.st.to_string());
  int after = pid_of(sup, "sleeper");
  CHECK(after > 0);
  CHECK(after != before);
  CHECK(r.note.find("restart has no rollback") != std::string::npos);
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(pid_of(sup, "sleeper") == after);
}

TEST_CASE("restart_service returns only once the restarted service's checks pass") {
  temp_dir dir;
  auto flag = dir.file("ready");
  // Each run of the service becomes ready (creates the flag) a while after
  // it starts, so a restart that did not wait for health would return
  // while the check still fails.
  auto svc = managed("gw", {"/bin/sh", "-c", "sleep 0.3; touch " + flag + "; exec sleep 1000"});
  svc.checks.push_back(flag_check(flag));
  config cfg;
  cfg.services.push_back(svc);
  process::supervisor sup;
  state::health_board health;
  checker chk{health, svc};
  REQUIRE(sup.add(svc).get().ok());
  REQUIRE(wait_until([&] { return health.summary("gw") == "healthy"; }));
  int before = pid_of(sup, "gw");
  REQUIRE(std::remove(flag.c_str()) == 0);

  restart_service_executor ex{cfg, sup, health};
  auto r = ex.execute(restart_of("gw"), context("gw", seconds(10)));
  CHECK_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(pid_of(sup, "gw") != before);
  CHECK(health.summary("gw") == "healthy");
  CHECK(::access(flag.c_str(), F_OK) == 0); // created by the new run
}

TEST_CASE("restart_service fails naming the check when it never passes before the deadline") {
  temp_dir dir;
  auto svc = managed("gw", {"/bin/sleep", "1000"});
  svc.checks.push_back(flag_check(dir.file("never")));
  config cfg;
  cfg.services.push_back(svc);
  process::supervisor sup;
  state::health_board health;
  checker chk{health, svc};
  REQUIRE(sup.add(svc).get().ok());
  int before = pid_of(sup, "gw");

  restart_service_executor ex{cfg, sup, health};
  auto r = ex.execute(restart_of("gw"), context("gw", milliseconds(800)));
  CHECK(r.st.code() == errc::timeout);
  CHECK(r.st.message().find("gw restarted") != std::string::npos);
  CHECK(r.st.message().find("checks did not pass within") != std::string::npos);
  CHECK(r.st.message().find("flag unhealthy: exit code 1") != std::string::npos);
  // It was restarted all the same.
  CHECK(pid_of(sup, "gw") != before);
}

TEST_CASE("restart_service fails when the restart itself does not complete before the deadline") {
  // The service ignores SIGTERM, so the supervisor waits stop_grace (2s)
  // before SIGKILL: longer than the action may take.
  // (An ignored signal stays ignored across exec.)
  temp_dir dir;
  auto ready = dir.file("ready");
  auto svc = managed("stubborn",
                     {"/bin/sh", "-c", "trap '' TERM; touch " + ready + "; exec sleep 1000"});
  config cfg;
  cfg.services.push_back(svc);
  process::supervisor sup;
  state::health_board health;
  REQUIRE(sup.add(svc).get().ok());
  REQUIRE(wait_until([&] { return ::access(ready.c_str(), F_OK) == 0; }));

  restart_service_executor ex{cfg, sup, health};
  auto r = ex.execute(restart_of("stubborn"), context("stubborn", milliseconds(300)));
  CHECK(r.st.code() == errc::timeout);
  CHECK(r.st.message().find("restart of stubborn did not complete within ")
        != std::string::npos);
}

TEST_CASE("restart_service runs the command parameter for a service faultd does not manage") {
  temp_dir dir;
  config cfg;
  service_config unmanaged;
  unmanaged.name = "timeseries-db"; // checked only: no command
  cfg.services.push_back(unmanaged);
  process::supervisor sup;
  state::health_board health;
  restart_service_executor ex{cfg, sup, health};

  auto a = restart_of("timeseries-db");
  a.parameters["command"] = "touch " + dir.file("restarted");
  auto r = ex.execute(a, context("x", seconds(10)));
  CHECK_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(::access(dir.file("restarted").c_str(), F_OK) == 0);

  a.target = "external";
  a.parameters["command"] = "echo cannot restart; exit 3";
  r = ex.execute(a, context("x", seconds(10)));
  CHECK(r.st.code() == errc::io);
  CHECK(r.st.message().find("exit 3") != std::string::npos);
  CHECK(r.st.message().find("cannot restart") != std::string::npos);

  a.parameters["command"] = "sleep 5";
  r = ex.execute(a, context("x", milliseconds(200)));
  CHECK(r.st.code() == errc::timeout);
}

TEST_CASE("restart_service refuses a target that is neither managed nor has a command") {
  config cfg;
  process::supervisor sup;
  state::health_board health;
  restart_service_executor ex{cfg, sup, health};
  auto r = ex.execute(restart_of("ghost"), context("x", seconds(1)));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message()
        == "ghost is not a managed service and the action has no command parameter");
}
