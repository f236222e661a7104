#include <doctest/doctest.h>

#include <csignal>

#include "process/service_machine.hpp"

using namespace faultd;
using namespace faultd::process;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

service_config make(restart_policy policy = restart_policy::always) {
  service_config c;
  c.name = "svc";
  c.command = {"/bin/true"};
  c.restart.policy = policy;
  c.restart.burst = 2;
  c.restart.period = seconds(60);
  c.restart.backoff_initial = milliseconds(500);
  c.restart.backoff_max = seconds(4);
  c.restart.backoff_jitter = 0;
  c.restart.stop_grace = seconds(5);
  return c;
}

struct fixture {
  manual_clock clock;
  service_machine m;
  explicit fixture(service_config c = make()) : m(std::move(c), clock, [] { return 0.5; }) {}

  void run_as(int pid) {
    auto s = m.start(true);
    REQUIRE(s.size() == 1);
    REQUIRE(s[0].kind == step::spawn);
    m.spawned(pid, "tok-" + std::to_string(pid));
    REQUIRE(m.state() == service_state::running);
  }
};

bool has_spawn(const std::vector<step>& steps) {
  for (auto& s : steps)
    if (s.kind == step::spawn)
      return true;
  return false;
}

const event* find_event(const std::vector<step>& steps, event_kind k) {
  for (auto& s : steps)
    if (s.kind == step::notify && s.ev.kind == k)
      return &s.ev;
  return nullptr;
}

exit_info exit_code(int c) {
  exit_info x;
  x.code = c;
  return x;
}

/// Two immediate restarts (burst 2), then a third crash that backs off;
/// returns the third crash's steps.
std::vector<step> crash_into_backoff(fixture& f) {
  f.run_as(1);
  f.m.exited(exit_code(1), false);
  f.m.spawned(2, "t2");
  f.m.exited(exit_code(1), false);
  f.m.spawned(3, "t3");
  auto third = f.m.exited(exit_code(1), false);
  REQUIRE(f.m.state() == service_state::backoff);
  return third;
}

} // namespace

TEST_CASE("restart policy never leaves a service down after any exit") {
  for (int code : {0, 1}) {
    fixture f{make(restart_policy::never)};
    f.run_as(10);
    auto steps = f.m.exited(exit_code(code), false);
    CHECK_FALSE(has_spawn(steps));
    CHECK(f.m.state() == service_state::exited);
    auto* e = find_event(steps, event_kind::exited);
    REQUIRE(e != nullptr);
    CHECK_FALSE(e->will_restart);
    CHECK(f.m.restarts() == 0);
    CHECK_FALSE(f.m.next_deadline());
  }
}

TEST_CASE("on-failure restarts a crash but not a clean exit, and an unknown status counts as a crash") {
  fixture clean{make(restart_policy::on_failure)};
  clean.run_as(10);
  CHECK_FALSE(has_spawn(clean.m.exited(exit_code(0), false)));
  CHECK(clean.m.state() == service_state::exited);
  CHECK(clean.m.snapshot().exit_code == 0);

  fixture crash{make(restart_policy::on_failure)};
  crash.run_as(10);
  auto steps = crash.m.exited(exit_code(3), false);
  CHECK(has_spawn(steps));
  CHECK(find_event(steps, event_kind::exited)->will_restart);

  fixture unknown{make(restart_policy::on_failure)};
  unknown.m.adopted(10, "tok", unknown.clock.now());
  CHECK(has_spawn(unknown.m.exited(exit_info{}, false)));
  CHECK(unknown.m.snapshot().last_exit == "unknown");
}

TEST_CASE("the leftovers of an exited process are swept before its restart") {
  fixture f;
  f.run_as(42);
  auto steps = f.m.exited(exit_code(1), false);
  REQUIRE(steps.size() >= 2);
  CHECK(steps[0].kind == step::sweep_tree);
  CHECK(steps[0].pid == 42);
  CHECK(steps[0].token == "tok-42");
  CHECK(steps[1].kind == step::spawn);
  // Listeners hear of the exit after the restart is under way.
  CHECK(steps.back().kind == step::notify);
}

TEST_CASE("stop sends SIGCONT, then the stop signal, and SIGKILL only at the grace deadline") {
  auto cfg = make();
  cfg.stop_signal = SIGQUIT;
  fixture f{cfg};
  f.run_as(7);
  auto steps = f.m.stop();
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].kind == step::signal_tree);
  CHECK(steps[0].sig == SIGCONT);
  CHECK(steps[1].sig == SIGQUIT);
  CHECK(f.m.state() == service_state::stopping);
  CHECK(f.m.stop().empty());  // a second stop adds nothing
  f.clock.advance(seconds(4));
  CHECK(f.m.deadline_passed().empty());
  f.clock.advance(seconds(1));
  auto kill = f.m.deadline_passed();
  REQUIRE(kill.size() == 1);
  CHECK(kill[0].sig == SIGKILL);
  auto end = f.m.exited(exit_info{std::nullopt, SIGKILL}, false);
  CHECK_FALSE(has_spawn(end));
  CHECK(find_event(end, event_kind::exited)->was_expected);
  CHECK(find_event(end, event_kind::stopped) != nullptr);
  CHECK(f.m.state() == service_state::stopped);
}

TEST_CASE("a crash loop backs off on the clock and an operator start cuts the wait short") {
  fixture f;
  auto third = crash_into_backoff(f);  // beyond burst 2: backoff
  CHECK_FALSE(has_spawn(third));
  CHECK(find_event(third, event_kind::storm) != nullptr);
  REQUIRE(f.m.next_deadline());
  CHECK(*f.m.next_deadline() - f.clock.steady_now() == milliseconds(500));
  f.clock.advance(milliseconds(499));
  CHECK(f.m.deadline_passed().empty());
  f.clock.advance(milliseconds(1));
  CHECK(has_spawn(f.m.deadline_passed()));

  fixture g;
  crash_into_backoff(g);
  CHECK(has_spawn(g.m.start(true)));
  CHECK_FALSE(g.m.next_deadline());
}

TEST_CASE("nothing restarts during a shutdown, and a stop in backoff ends the wait") {
  fixture f;
  f.run_as(1);
  CHECK_FALSE(has_spawn(f.m.exited(exit_code(1), true)));
  CHECK(f.m.state() == service_state::exited);

  fixture g;
  crash_into_backoff(g);
  auto steps = g.m.stop();
  CHECK(find_event(steps, event_kind::stopped) != nullptr);
  CHECK(g.m.state() == service_state::stopped);
  CHECK_FALSE(g.m.next_deadline());
}

TEST_CASE("an adopted process is running, marked adopted, and supervised like a spawned one") {
  fixture f;
  auto t = f.clock.now() - seconds(30);
  auto steps = f.m.adopted(99, "old-token", t);
  auto* e = find_event(steps, event_kind::adopted);
  REQUIRE(e != nullptr);
  CHECK(e->pid == 99);
  auto snap = f.m.snapshot();
  CHECK(snap.state == service_state::running);
  CHECK(snap.adopted);
  CHECK(snap.started_at == t);
  auto exit = f.m.exited(exit_info{std::nullopt, SIGKILL}, false);
  CHECK(exit[0].kind == step::sweep_tree);
  CHECK(exit[0].token == "old-token");
  CHECK(has_spawn(exit));
  f.m.spawned(100, "new");
  CHECK_FALSE(f.m.snapshot().adopted);
}

TEST_CASE("a service without a command is unmanaged and never spawns") {
  auto cfg = make();
  cfg.command.clear();
  fixture f{cfg};
  CHECK(f.m.state() == service_state::unmanaged);
  CHECK(f.m.start(true).empty());
  CHECK(f.m.stop().empty());
}

TEST_CASE("a restart by policy that fails to spawn is retried after a backoff, a first start is not") {
  fixture f;
  auto first = f.m.start(true);
  REQUIRE(has_spawn(first));
  auto failed = f.m.spawn_failed("exec /x: No such file or directory (2)");
  CHECK(find_event(failed, event_kind::spawn_failed) != nullptr);
  CHECK(f.m.state() == service_state::failed);
  CHECK_FALSE(f.m.next_deadline());

  fixture g;
  g.run_as(5);
  REQUIRE(has_spawn(g.m.exited(exit_code(1), false)));
  auto again = g.m.spawn_failed("clone: Resource temporarily unavailable (11)");
  CHECK(g.m.state() == service_state::backoff);
  auto* rs = find_event(again, event_kind::restart_scheduled);
  REQUIRE(rs != nullptr);
  CHECK(rs->delay == milliseconds(500));
  g.clock.advance(milliseconds(500));
  CHECK(has_spawn(g.m.deadline_passed()));
}
