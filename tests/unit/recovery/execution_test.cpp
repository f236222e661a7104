#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "recovery/execution.hpp"

using namespace faultd;
using namespace faultd::recovery;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

recovery_action make_action(const std::string& target, uint32_t retries = 0,
                            duration delay = seconds(1), duration timeout = seconds(30)) {
  recovery_action a;
  a.type = action_type::restart_service;
  a.target = target;
  a.retry_count = retries;
  a.retry_delay = delay;
  a.timeout = timeout;
  return a;
}

recovery_strategy make_strategy(size_t n, uint32_t retries = 0, bool rollback = true,
                                duration timeout = minutes(60)) {
  recovery_strategy s;
  s.id = "strat";
  s.name = "strategy";
  s.timeout = timeout;
  s.rollback_enabled = rollback;
  for (size_t i = 0; i < n; ++i)
    s.actions.push_back(make_action("a" + std::to_string(i), retries));
  return s;
}

random_source fixed(double r) {
  return [r] { return r; };
}

/// What happens when the driver performs a step, and what it saw.
struct world {
  /// Per action, the outcome of each attempt (true = ok); attempts beyond the
  /// list succeed.
  std::map<size_t, std::vector<bool>> attempts;
  /// Actions whose rollback fails.
  std::map<size_t, bool> rollback_fails;
  /// How long performing a step takes on the clock.
  duration step_time = seconds(1);
  std::vector<std::string> trace;
  std::map<size_t, int> runs;      ///< times each action was run
  std::map<size_t, int> rollbacks; ///< times each action was rolled back
  std::vector<duration> waits;
  int steps = 0;                   ///< steps taken (not counting done)
};

/// Where to crash: at the `step`-th step (0-based), before its outcome is
/// reported (the action did run) or after.
struct crash_point {
  int step;
  bool after_report;
};

/// Drives `m` to the end, or to a crash. Returns the journal at the crash.
std::optional<recovery_execution> drive(execution_machine& m, manual_clock& clock, world& w,
                                        std::optional<crash_point> crash = std::nullopt) {
  for (int guard = 0; guard < 1000; ++guard) {
    auto s = m.next();
    if (s.kind == step_kind::done) {
      w.trace.push_back("done " + std::string{to_string(s.status)});
      return std::nullopt;
    }
    int index = w.steps++;
    bool crash_here = crash && crash->step == index;
    switch (s.kind) {
      case step_kind::run_action: {
        w.trace.push_back("run " + std::to_string(s.index) + "#" + std::to_string(s.attempt));
        ++w.runs[s.index];
        clock.advance(w.step_time);
        if (crash_here && !crash->after_report)
          return m.state();
        auto& script = w.attempts[s.index];
        bool ok = s.attempt > script.size() || script[s.attempt - 1];
        CHECK(m.on_action_result(s.index, ok, ok ? "" : "boom " + std::to_string(s.attempt)));
        break;
      }
      case step_kind::wait:
        w.trace.push_back("wait");
        w.waits.push_back(s.delay);
        clock.advance(s.delay);
        if (crash_here && !crash->after_report)
          return m.state();
        CHECK(m.on_wait_over());
        break;
      case step_kind::rollback_action: {
        w.trace.push_back("rollback " + std::to_string(s.index));
        ++w.rollbacks[s.index];
        clock.advance(w.step_time);
        if (crash_here && !crash->after_report)
          return m.state();
        bool fails = w.rollback_fails[s.index];
        CHECK(m.on_rollback_result(s.index, !fails, fails ? "nope" : ""));
        break;
      }
      case step_kind::done:
        break;
    }
    if (crash_here)
      return m.state();
  }
  FAIL("the execution did not end");
  return std::nullopt;
}

std::vector<action_status> statuses(const recovery_execution& x) {
  std::vector<action_status> out;
  for (const auto& a : x.actions)
    out.push_back(a.status);
  return out;
}

using S = action_status;
using trace_t = std::vector<std::string>;

} // namespace

TEST_CASE("all actions succeeding run once each in order and complete the execution") {
  manual_clock clock;
  auto start = clock.now();
  execution_machine m{make_strategy(3), "inc-1", "exe-1", clock, fixed(0.5)};
  CHECK(m.state().status == execution_status::running);
  CHECK(m.state().started_at == start);
  CHECK(m.state().strategy_id == "strat");
  CHECK(m.state().incident_id == "inc-1");
  CHECK(m.state().id == "exe-1");
  world w;
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "run 1#1", "run 2#1", "done completed"});
  const auto& x = m.state();
  CHECK(x.status == execution_status::completed);
  CHECK(x.error.empty());
  REQUIRE(x.ended_at);
  CHECK(*x.ended_at == start + seconds(3));
  CHECK(statuses(x) == std::vector<S>{S::completed, S::completed, S::completed});
  for (size_t i = 0; i < 3; ++i) {
    CHECK(x.actions[i].attempts == 1);
    REQUIRE(x.actions[i].started_at);
    REQUIRE(x.actions[i].ended_at);
    CHECK(*x.actions[i].started_at == start + seconds(static_cast<int>(i)));
    CHECK(*x.actions[i].ended_at == start + seconds(static_cast<int>(i) + 1));
  }
  CHECK(m.finished());
  CHECK(m.next().kind == step_kind::done);
}

TEST_CASE("a strategy without actions completes at once") {
  manual_clock clock;
  execution_machine m{make_strategy(0), "inc", "exe", clock, fixed(0.5)};
  auto s = m.next();
  CHECK(s.kind == step_kind::done);
  CHECK(s.status == execution_status::completed);
}

TEST_CASE("retry_count 0 gives exactly one attempt") {
  manual_clock clock;
  execution_machine m{make_strategy(1, 0, false), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[0] = {false, false, false};
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "done failed"});
  CHECK(m.state().actions[0].attempts == 1);
  CHECK(m.state().actions[0].status == S::failed);
  CHECK(m.state().actions[0].error == "boom 1");
  CHECK(m.state().error.find("action 0 (restart_service a0) failed after 1 attempt: boom 1") !=
        std::string::npos);
}

TEST_CASE("retry_count 2 gives three attempts with exponential backoff between them") {
  manual_clock clock;
  auto strategy = make_strategy(1, 2, false);
  strategy.actions[0].retry_delay = seconds(10);
  SUBCASE("no jitter at the middle of the random range") {
    execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
    world w;
    w.attempts[0] = {false, false, false};
    drive(m, clock, w);
    CHECK(w.trace == trace_t{"run 0#1", "wait", "run 0#2", "wait", "run 0#3", "done failed"});
    CHECK(w.waits == std::vector<duration>{seconds(10), seconds(20)});
    CHECK(m.state().actions[0].attempts == 3);
    CHECK(m.state().actions[0].error == "boom 3");
  }
  SUBCASE("jitter stays within plus or minus twenty percent") {
    std::vector<double> rs{0.0, 0.999999};
    size_t k = 0;
    execution_machine m{strategy, "inc", "exe", clock, [&] { return rs[k++ % rs.size()]; }};
    world w;
    w.attempts[0] = {false, false, false};
    drive(m, clock, w);
    REQUIRE(w.waits.size() == 2);
    CHECK(w.waits[0] == seconds(8));
    CHECK(w.waits[1] > seconds(23));
    CHECK(w.waits[1] < seconds(24));
  }
}

TEST_CASE("an action that succeeds on its second attempt completes the execution") {
  manual_clock clock;
  execution_machine m{make_strategy(2, 3), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[1] = {false, true};
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "run 1#1", "wait", "run 1#2", "done completed"});
  CHECK(m.state().actions[1].attempts == 2);
  CHECK(m.state().actions[1].status == S::completed);
  CHECK(m.state().actions[1].error.empty());
}

TEST_CASE("an action waiting for its retry is pending with the last error") {
  manual_clock clock;
  execution_machine m{make_strategy(1, 1), "inc", "exe", clock, fixed(0.5)};
  auto s = m.next();
  REQUIRE(s.kind == step_kind::run_action);
  CHECK(m.state().actions[0].status == S::running);
  CHECK(m.on_action_result(0, false, "refused"));
  CHECK(m.state().actions[0].status == S::pending);
  CHECK(m.state().actions[0].attempts == 1);
  CHECK(m.state().actions[0].error == "refused");
  auto w = m.next();
  REQUIRE(w.kind == step_kind::wait);
  CHECK(w.delay == seconds(1));
  clock.advance(milliseconds(400));
  CHECK(m.next().delay == milliseconds(600));
  // The wait is over once its time has passed, even without on_wait_over().
  clock.advance(milliseconds(600));
  auto r = m.next();
  CHECK(r.kind == step_kind::run_action);
  CHECK(r.attempt == 2);
  CHECK_FALSE(m.on_wait_over());
}

TEST_CASE("asking again for an outstanding step returns it without starting it twice") {
  manual_clock clock;
  execution_machine m{make_strategy(1), "inc", "exe", clock, fixed(0.5)};
  auto a = m.next();
  clock.advance(seconds(5));
  auto b = m.next();
  CHECK(b.kind == step_kind::run_action);
  CHECK(b.attempt == 1);
  CHECK(b.timeout == a.timeout);
  CHECK(m.state().actions[0].attempts == 1);
}

TEST_CASE("results that do not answer the outstanding step are ignored") {
  manual_clock clock;
  execution_machine m{make_strategy(2, 1), "inc", "exe", clock, fixed(0.5)};
  CHECK_FALSE(m.on_action_result(0, true, ""));  // nothing started yet
  REQUIRE(m.next().kind == step_kind::run_action);
  CHECK_FALSE(m.on_action_result(1, true, ""));  // wrong action
  CHECK_FALSE(m.on_rollback_result(0, true, ""));
  CHECK_FALSE(m.on_wait_over());
  CHECK(m.on_timeout(0));
  CHECK_FALSE(m.on_action_result(0, true, "")); // late result after the timeout
  CHECK(m.state().actions[0].status == S::pending);
  CHECK(m.state().actions[0].error == "timed out after 30s");
}

TEST_CASE("an attempt's timeout is the action's timeout cut to what is left of the strategy's") {
  manual_clock clock;
  auto strategy = make_strategy(2, 0, false, seconds(50));
  execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
  auto first = m.next();
  CHECK(first.timeout == seconds(30));
  clock.advance(seconds(25));
  REQUIRE(m.on_action_result(0, true, ""));
  auto second = m.next();
  CHECK(second.timeout == seconds(25));
  CHECK(m.deadline() == m.state().started_at + seconds(50));
}

TEST_CASE("the strategy's overall timeout fails the action and starts no further attempt") {
  manual_clock clock;
  auto strategy = make_strategy(2, 5, true, seconds(10));
  strategy.actions[0].timeout = seconds(60);
  execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
  auto s = m.next();
  REQUIRE(s.kind == step_kind::run_action);
  CHECK(s.timeout == seconds(10));
  clock.advance(seconds(10));
  REQUIRE(m.on_timeout(0));
  auto d = m.next();
  REQUIRE(d.kind == step_kind::done);
  CHECK(d.status == execution_status::rolled_back);
  const auto& a = m.state().actions[0];
  CHECK(a.attempts == 1);
  CHECK(a.status == S::failed);
  CHECK(a.error.rfind("strategy timeout", 0) == 0);
  CHECK(a.error.find("timed out after 10s") != std::string::npos);
  CHECK(m.state().actions[1].status == S::skipped);
  CHECK(m.state().error.find("strategy timeout") != std::string::npos);
}

TEST_CASE("a retry whose backoff would end past the deadline is not waited for") {
  manual_clock clock;
  auto strategy = make_strategy(1, 3, false, seconds(10));
  strategy.actions[0].retry_delay = seconds(4);
  execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[0] = {false, false, false, false};
  drive(m, clock, w);
  // Attempt 1 ends at 1s, waits 4s; attempt 2 ends at 6s; a wait of 8s would
  // end at 14s, past the deadline at 10s.
  CHECK(w.trace == trace_t{"run 0#1", "wait", "run 0#2", "done failed"});
  CHECK(m.state().actions[0].error == "strategy timeout after 10s (last error: boom 2)");
  CHECK(m.state().ended_at == m.state().started_at + seconds(6));
}

TEST_CASE("no attempt starts once the deadline has passed, even after a success") {
  manual_clock clock;
  execution_machine m{make_strategy(2, 0, false, seconds(10)), "inc", "exe", clock, fixed(0.5)};
  REQUIRE(m.next().kind == step_kind::run_action);
  clock.advance(seconds(11));
  REQUIRE(m.on_action_result(0, true, ""));  // a late success still counts
  auto d = m.next();
  REQUIRE(d.kind == step_kind::done);
  CHECK(d.status == execution_status::failed);
  CHECK(statuses(m.state()) == std::vector<S>{S::completed, S::failed});
  CHECK(m.state().actions[1].attempts == 0);
  CHECK(m.state().actions[1].error == "strategy timeout after 10s");
}

TEST_CASE("a failed action rolls back the completed ones in reverse and skips the rest") {
  manual_clock clock;
  execution_machine m{make_strategy(4), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[2] = {false};
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "run 1#1", "run 2#1", "rollback 1", "rollback 0",
                           "done rolled_back"});
  const auto& x = m.state();
  CHECK(x.status == execution_status::rolled_back);
  CHECK(statuses(x) == std::vector<S>{S::rolled_back, S::rolled_back, S::failed, S::skipped});
  CHECK(x.actions[3].attempts == 0);
  CHECK(x.error == "action 2 (restart_service a2) failed after 1 attempt: boom 1");
}

TEST_CASE("the first action failing with rollback enabled ends rolled_back with nothing undone") {
  manual_clock clock;
  execution_machine m{make_strategy(2), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[0] = {false};
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "done rolled_back"});
  CHECK(statuses(m.state()) == std::vector<S>{S::failed, S::skipped});
}

TEST_CASE("with rollback disabled a failed action ends the execution failed") {
  manual_clock clock;
  execution_machine m{make_strategy(3, 0, false), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[1] = {false};
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "run 1#1", "done failed"});
  CHECK(m.state().status == execution_status::failed);
  CHECK(statuses(m.state()) == std::vector<S>{S::completed, S::failed, S::skipped});
}

TEST_CASE("a failing rollback step still ends rolled_back with its error recorded") {
  manual_clock clock;
  execution_machine m{make_strategy(3), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[2] = {false};
  w.rollback_fails[1] = true;
  drive(m, clock, w);
  CHECK(w.trace == trace_t{"run 0#1", "run 1#1", "run 2#1", "rollback 1", "rollback 0",
                           "done rolled_back"});
  const auto& x = m.state();
  CHECK(x.status == execution_status::rolled_back);
  CHECK(statuses(x) == std::vector<S>{S::rolled_back, S::completed, S::failed});
  CHECK(x.actions[1].error == "rollback failed: nope");
  CHECK(x.error == "action 2 (restart_service a2) failed after 1 attempt: boom 1; "
                   "rollback failed for action 1 (restart_service a1): nope");
}

TEST_CASE("a rollback step that times out counts as a failed rollback") {
  manual_clock clock;
  execution_machine m{make_strategy(2), "inc", "exe", clock, fixed(0.5)};
  REQUIRE(m.next().kind == step_kind::run_action);
  REQUIRE(m.on_action_result(0, true, ""));
  REQUIRE(m.next().kind == step_kind::run_action);
  REQUIRE(m.on_action_result(1, false, "down"));
  auto r = m.next();
  REQUIRE(r.kind == step_kind::rollback_action);
  CHECK(r.index == 0);
  CHECK(r.timeout == seconds(30));
  CHECK(m.on_rollback_timeout(0));
  auto d = m.next();
  CHECK(d.status == execution_status::rolled_back);
  CHECK(m.state().actions[0].error == "rollback failed: timed out after 30s");
}

TEST_CASE("resuming after a crash at any step never re-runs a completed action") {
  struct scenario {
    std::string name;
    uint32_t retries;
    std::map<size_t, std::vector<bool>> attempts;
    execution_status expected;
    std::vector<S> expected_actions;
  };
  // Two retries per action, so that an attempt interrupted by the crash
  // always leaves one more and the final outcome does not depend on where
  // the crash hit (the last attempt being interrupted is tested below).
  std::vector<scenario> scenarios{
    {"all succeed", 2, {}, execution_status::completed, {S::completed, S::completed, S::completed}},
    {"second action needs a retry", 2, {{1, {false, true}}}, execution_status::completed,
     {S::completed, S::completed, S::completed}},
    {"third action fails for good", 2, {{2, {false, false, false}}},
     execution_status::rolled_back, {S::rolled_back, S::rolled_back, S::failed}},
  };
  for (const auto& sc : scenarios) {
    // The uninterrupted run tells how many steps there are.
    manual_clock c0;
    execution_machine reference{make_strategy(3, sc.retries), "inc", "exe", c0, fixed(0.5)};
    world w0;
    w0.attempts = sc.attempts;
    drive(reference, c0, w0);
    REQUIRE(reference.state().status == sc.expected);
    for (int step = 0; step < w0.steps; ++step)
      for (bool after : {false, true}) {
        CAPTURE(sc.name);
        CAPTURE(step);
        CAPTURE(after);
        manual_clock clock;
        execution_machine m{make_strategy(3, sc.retries), "inc", "exe", clock, fixed(0.5)};
        world w;
        w.attempts = sc.attempts;
        auto journal = drive(m, clock, w, crash_point{step, after});
        REQUIRE(journal);
        clock.advance(seconds(30)); // the node restarts

        auto resumed = execution_machine::resume(*journal, make_strategy(3, sc.retries), clock,
                                                 fixed(0.5));
        world w2;
        w2.attempts = sc.attempts;
        // Attempt numbers continue where the journal left them, so the
        // script's per-attempt outcomes still line up.
        drive(resumed, clock, w2);
        for (size_t i = 0; i < 3; ++i)
          if (journal->actions[i].status == S::completed)
            CHECK_MESSAGE(w2.runs[i] == 0, "action ", i, " completed before the crash ran again");
        const auto& x = resumed.state();
        CHECK(x.status == sc.expected);
        CHECK(statuses(x) == sc.expected_actions);
        CHECK(x.id == "exe");
        CHECK(x.started_at == journal->started_at);
        for (const auto& a : x.actions)
          CHECK(a.attempts <= 3);
        if (sc.expected == execution_status::rolled_back)
          for (size_t i = 0; i < 2; ++i)
            CHECK(w.rollbacks[i] + w2.rollbacks[i] >= 1);
      }
  }
}

TEST_CASE("an action running when the node died counts as an interrupted attempt") {
  manual_clock clock;
  execution_machine m{make_strategy(2, 1), "inc", "exe", clock, fixed(0.5)};
  REQUIRE(m.next().kind == step_kind::run_action);
  auto journal = m.state();
  REQUIRE(journal.actions[0].status == S::running);

  SUBCASE("retried at once while attempts remain") {
    auto r = execution_machine::resume(journal, make_strategy(2, 1), clock, fixed(0.5));
    CHECK(r.state().actions[0].status == S::pending);
    CHECK(r.state().actions[0].error == "interrupted by node restart");
    auto s = r.next();
    CHECK(s.kind == step_kind::run_action);
    CHECK(s.index == 0);
    CHECK(s.attempt == 2);
  }
  SUBCASE("failed for good when it was the last attempt") {
    auto strategy = make_strategy(2, 0, false);
    execution_machine once{strategy, "inc", "exe", clock, fixed(0.5)};
    REQUIRE(once.next().kind == step_kind::run_action);
    auto r = execution_machine::resume(once.state(), strategy, clock, fixed(0.5));
    auto d = r.next();
    REQUIRE(d.kind == step_kind::done);
    CHECK(d.status == execution_status::failed);
    CHECK(r.state().actions[0].error == "interrupted by node restart");
    CHECK(statuses(r.state()) == std::vector<S>{S::failed, S::skipped});
  }
  SUBCASE("failed for good when the strategy's deadline passed while the node was down") {
    clock.advance(minutes(61));
    auto r = execution_machine::resume(journal, make_strategy(2, 1), clock, fixed(0.5));
    auto d = r.next();
    REQUIRE(d.kind == step_kind::done);
    CHECK(d.status == execution_status::rolled_back);
    CHECK(r.state().actions[0].error.rfind("strategy timeout", 0) == 0);
  }
}

TEST_CASE("an attempt whose worker still runs is waited for after a resume, not run again") {
  manual_clock clock;
  auto strategy = make_strategy(2, 0, false);
  execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
  REQUIRE(m.next().kind == step_kind::run_action);
  clock.advance(std::chrono::seconds(1));
  auto r = execution_machine::resume(m.state(), strategy, clock, fixed(0.5), true);
  CHECK(r.state().actions[0].status == S::running);
  CHECK(r.state().actions[0].error.empty());
  auto s = r.next();
  REQUIRE(s.kind == step_kind::run_action);
  CHECK(s.index == 0);
  CHECK(s.attempt == 1); // the same attempt: retry_count 0 still has it
  CHECK(r.state().actions[0].attempts == 1);
  REQUIRE(r.on_action_result(0, true, ""));
  auto s2 = r.next();
  CHECK(s2.kind == step_kind::run_action);
  CHECK(s2.index == 1);
}

TEST_CASE("a journaled execution that already ended stays as it was") {
  manual_clock clock;
  execution_machine m{make_strategy(2, 0, false), "inc", "exe", clock, fixed(0.5)};
  world w;
  w.attempts[0] = {false};
  drive(m, clock, w);
  auto r = execution_machine::resume(m.state(), make_strategy(2, 0, false), clock, fixed(0.5));
  CHECK(r.finished());
  auto d = r.next();
  CHECK(d.kind == step_kind::done);
  CHECK(d.status == execution_status::failed);
  CHECK(r.state() == m.state());
  // Even when the strategy has changed since.
  auto r2 = execution_machine::resume(m.state(), make_strategy(5), clock, fixed(0.5));
  CHECK(r2.state() == m.state());
}

TEST_CASE("a journal made from a different strategy is detected and closed as failed") {
  manual_clock clock;
  auto strategy = make_strategy(3);
  execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
  REQUIRE(m.next().kind == step_kind::run_action);
  REQUIRE(m.on_action_result(0, true, ""));
  REQUIRE(m.next().kind == step_kind::run_action);
  auto journal = m.state();
  CHECK(execution_machine::compatible(journal, strategy));

  auto renamed = strategy;
  renamed.id = "other";
  auto retargeted = strategy;
  retargeted.actions[1].target = "elsewhere";
  auto longer = strategy;
  longer.actions.push_back(make_action("a3"));
  auto retimed = strategy;
  retimed.actions[2].timeout = seconds(31);
  for (const auto* changed : {&renamed, &retargeted, &longer, &retimed})
    CHECK_FALSE(execution_machine::compatible(journal, *changed));

  auto r = execution_machine::resume(journal, retargeted, clock, fixed(0.5));
  auto d = r.next();
  REQUIRE(d.kind == step_kind::done);
  CHECK(d.status == execution_status::failed);
  CHECK(d.error.find("missing or changed") != std::string::npos);
  CHECK(statuses(r.state()) == std::vector<S>{S::completed, S::failed, S::skipped});
}

TEST_CASE("abandoning a journal fails the running action and skips the pending ones") {
  manual_clock clock;
  recovery_execution x;
  x.status = execution_status::running;
  x.actions.resize(3);
  x.actions[0].status = S::completed;
  x.actions[1].status = S::running;
  auto closed = execution_machine::abandon(x, "strategy gone", clock.now());
  CHECK(closed.status == execution_status::failed);
  CHECK(closed.error == "strategy gone");
  REQUIRE(closed.ended_at);
  CHECK(*closed.ended_at == clock.now());
  CHECK(statuses(closed) == std::vector<S>{S::completed, S::failed, S::skipped});
  CHECK(closed.actions[1].error == "strategy gone");
}

TEST_CASE("a journal that contradicts itself is closed instead of resumed") {
  manual_clock clock;
  auto strategy = make_strategy(3);
  execution_machine m{strategy, "inc", "exe", clock, fixed(0.5)};
  auto journal = m.state();
  journal.actions[1].status = S::skipped;  // skipped although nothing failed
  auto r = execution_machine::resume(journal, strategy, clock, fixed(0.5));
  auto d = r.next();
  CHECK(d.kind == step_kind::done);
  CHECK(d.status == execution_status::failed);
  CHECK(d.error.find("inconsistent journal") != std::string::npos);
}
