// Supervision trees on a real actor system: restarts per strategy, the
// directory of current incarnations, normal exits, escalation through nested
// supervisors, and orderly shutdown. Tests wait on conditions, never sleep.

#include <doctest/doctest.h>

#include <mutex>

#include <caf/all.hpp>

#include "actors/supervision/directory.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/type_ids.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace std::chrono_literals;
using child_restart = supervision::restart_policy;
using supervision::strategy;

namespace {

/// Answers ping; quits normally on close.
caf::behavior worker(caf::event_based_actor* self) {
  return {
    [](caf::ping_atom) { return caf::pong_atom::value; },
    [self](caf::close_atom) { self->quit(); },
  };
}

/// Names of actors in the order they received their exit message.
struct stop_log {
  std::mutex mtx;
  std::vector<std::string> names;
  void add(const std::string& n) {
    std::lock_guard<std::mutex> g{mtx};
    names.push_back(n);
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> g{mtx};
    return names;
  }
};

/// A worker that records when it is asked to exit, then quits (or, when
/// `stubborn`, ignores the request).
caf::behavior recording_worker(caf::event_based_actor* self, std::string name,
                               std::shared_ptr<stop_log> log, bool stubborn) {
  self->set_exit_handler([=](caf::exit_msg& em) {
    log->add(name);
    if (!stubborn)
      self->quit(em.reason);
  });
  return worker(self);
}

child_spec worker_child(const std::string& name,
                        child_restart policy = child_restart::transient) {
  child_spec c;
  c.name = name;
  c.start = [](caf::actor_system& sys) { return sys.spawn(worker); };
  c.restart = policy;
  return c;
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<actor_directory> dir = std::make_shared<actor_directory>();
  caf::scoped_actor self{sys};
  std::vector<caf::actor> roots;

  ~fixture() {
    for (auto& r : roots)
      self->send_exit(r, caf::exit_reason::user_shutdown);
  }

  supervisor_spec spec(const std::string& name, strategy s, uint32_t max_restarts,
                       std::vector<child_spec> children) {
    supervisor_spec sp;
    sp.name = name;
    sp.strategy = s;
    sp.max_restarts = max_restarts;
    sp.period = seconds_d(60);
    sp.children = std::move(children);
    sp.directory = dir;
    return sp;
  }

  caf::actor start(supervisor_spec sp) {
    auto sup = spawn_supervisor(sys, std::move(sp));
    roots.push_back(sup);
    return sup;
  }

  caf::actor_addr addr(const std::string& name) {
    auto a = dir->get(name);
    return a ? a.address() : caf::actor_addr{};
  }

  uint32_t restarts(const std::string& name) {
    auto e = dir->find(name);
    return e ? e->restarts : 9999;
  }

  /// Waits until `name` is registered with `n` restarts.
  bool restarted(const std::string& name, uint32_t n) {
    return test::wait_until([&] { return restarts(name) == n; });
  }

  bool answers(const caf::actor& a) {
    if (!a)
      return false;
    bool ok = false;
    self->request(a, 5s, caf::ping_atom::value)
      .receive([&](caf::pong_atom) { ok = true; }, [&](caf::error&) { ok = false; });
    return ok;
  }

  std::vector<std::string> children_of(const caf::actor& sup) {
    std::vector<std::string> names;
    self->request(sup, 5s, children_atom::value)
      .receive([&](std::vector<std::string>& xs) { names = std::move(xs); },
               [&](caf::error& err) { FAIL("children query failed: " << sys.render(err)); });
    return names;
  }

  /// Waits for the down_msg of `a` (monitor it first); its reason.
  std::optional<caf::error> down_reason(const caf::actor_addr& a) {
    std::optional<caf::error> reason;
    bool timed_out = false;
    while (!reason && !timed_out)
      self->receive(
        [&](caf::down_msg& dm) {
          if (dm.source == a)
            reason = dm.reason;
        },
        caf::after(10s) >> [&] { timed_out = true; });
    return reason;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a crashed child is restarted and its new incarnation answers") {
  auto sup = start(spec("root", strategy::one_for_one, 3, {worker_child("a"), worker_child("b")}));
  REQUIRE(restarted("a", 0));
  REQUIRE(restarted("b", 0));
  auto old_a = dir->get("a");
  auto old_b = addr("b");
  CHECK(answers(old_a));
  crash_actor(old_a);
  REQUIRE(restarted("a", 1));
  auto new_a = dir->get("a");
  CHECK(new_a.address() != old_a.address());
  CHECK(answers(new_a));
  CHECK(addr("b") == old_b);
  CHECK(restarts("b") == 0);
  auto e = dir->find("a");
  REQUIRE(e);
  CHECK(e->supervisor == "root");
  CHECK_FALSE(e->is_supervisor);
  CHECK(children_of(sup) == std::vector<std::string>{"a", "b"});
}

TEST_CASE_FIXTURE(fixture, "the supervisor hands out the current incarnation of a child by name") {
  auto sup = start(spec("root", strategy::one_for_one, 3, {worker_child("a")}));
  REQUIRE(restarted("a", 0));
  crash_actor(dir->get("a"));
  REQUIRE(restarted("a", 1));
  caf::actor got;
  self->request(sup, 5s, caf::get_atom::value, std::string{"a"})
    .receive([&](caf::actor& a) { got = a; }, [&](caf::error&) {});
  CHECK(got.address() == addr("a"));
  bool unknown_failed = false;
  self->request(sup, 5s, caf::get_atom::value, std::string{"nope"})
    .receive([&](caf::actor&) {}, [&](caf::error&) { unknown_failed = true; });
  CHECK(unknown_failed);
}

TEST_CASE_FIXTURE(fixture, "one_for_all restarts every sibling and does not count them as crashes") {
  // max_restarts 1: if the siblings it stops itself counted as crashes, this
  // one crash would escalate.
  auto sup = start(spec("root", strategy::one_for_all, 1,
                        {worker_child("a"), worker_child("b"), worker_child("c")}));
  self->monitor(sup);
  for (auto n : {"a", "b", "c"})
    REQUIRE(restarted(n, 0));
  auto a0 = addr("a"), b0 = addr("b"), c0 = addr("c");
  crash_actor(dir->get("b"));
  for (auto n : {"a", "b", "c"})
    REQUIRE(restarted(n, 1));
  CHECK(addr("a") != a0);
  CHECK(addr("b") != b0);
  CHECK(addr("c") != c0);
  for (auto n : {"a", "b", "c"})
    CHECK(answers(dir->get(n)));
  CHECK(children_of(sup).size() == 3); // still alive
}

TEST_CASE_FIXTURE(fixture, "rest_for_one restarts the failed child and the later ones only") {
  start(spec("root", strategy::rest_for_one, 3,
             {worker_child("a"), worker_child("b"), worker_child("c")}));
  for (auto n : {"a", "b", "c"})
    REQUIRE(restarted(n, 0));
  auto a0 = addr("a"), b0 = addr("b"), c0 = addr("c");
  crash_actor(dir->get("b"));
  REQUIRE(restarted("b", 1));
  REQUIRE(restarted("c", 1));
  CHECK(addr("b") != b0);
  CHECK(addr("c") != c0);
  // The supervisor starts a plan's children in start order within one
  // handler, so "a" would have changed before "c" did.
  CHECK(addr("a") == a0);
  CHECK(restarts("a") == 0);
}

TEST_CASE_FIXTURE(fixture, "a child that exits normally is not restarted") {
  auto sup = start(spec("root", strategy::one_for_one, 3, {worker_child("a"), worker_child("b")}));
  REQUIRE(restarted("a", 0));
  REQUIRE(restarted("b", 0));
  self->send(dir->get("a"), caf::close_atom::value);
  REQUIRE(test::wait_until([&] { return !dir->find("a"); }));
  // Let the supervisor handle one more event: "a" must still be gone.
  crash_actor(dir->get("b"));
  REQUIRE(restarted("b", 1));
  CHECK_FALSE(dir->find("a"));
  bool failed = false;
  self->request(sup, 5s, caf::get_atom::value, std::string{"a"})
    .receive([&](caf::actor&) {}, [&](caf::error&) { failed = true; });
  CHECK(failed);
}

TEST_CASE_FIXTURE(fixture, "a permanent child is restarted even after a normal exit") {
  start(spec("root", strategy::one_for_one, 3, {worker_child("a", child_restart::permanent)}));
  REQUIRE(restarted("a", 0));
  auto a0 = addr("a");
  self->send(dir->get("a"), caf::close_atom::value);
  REQUIRE(restarted("a", 1));
  CHECK(addr("a") != a0);
  CHECK(answers(dir->get("a")));
}

TEST_CASE_FIXTURE(fixture, "exceeding the intensity escalates to the parent, which restarts the subtree") {
  auto inner = spec("inner", strategy::one_for_one, 1, {worker_child("x"), worker_child("y")});
  start(spec("root", strategy::one_for_one, 3, {worker_child("w"), supervisor_child(inner)}));
  for (auto n : {"w", "inner", "x", "y"})
    REQUIRE(restarted(n, 0));
  auto inner_entry = dir->find("inner");
  REQUIRE(inner_entry);
  CHECK(inner_entry->is_supervisor);
  CHECK(inner_entry->supervisor == "root");
  CHECK(dir->find("x")->supervisor == "inner");
  auto inner0 = addr("inner"), w0 = addr("w"), y0 = addr("y");
  self->monitor(dir->get("inner"));

  crash_actor(dir->get("x")); // within the intensity: inner restarts x
  REQUIRE(restarted("x", 1));
  auto x1 = addr("x");
  crash_actor(dir->get("x")); // the second within the period: inner gives up

  auto reason = down_reason(inner0);
  REQUIRE(reason);
  CHECK(is_escalation(*reason));
  REQUIRE(restarted("inner", 1));
  CHECK(addr("inner") != inner0);
  // The new inner supervisor started fresh incarnations of its children.
  REQUIRE(test::wait_until([&] { return addr("x") != x1 && restarts("x") == 0; }));
  REQUIRE(test::wait_until([&] { return addr("y") != y0 && restarts("y") == 0; }));
  CHECK(answers(dir->get("x")));
  CHECK(answers(dir->get("y")));
  // one_for_one at the root: the sibling of the subtree is untouched.
  CHECK(addr("w") == w0);
  CHECK(restarts("w") == 0);
}

TEST_CASE_FIXTURE(fixture, "a root supervisor that exceeds its intensity quits with an escalation") {
  auto sup = start(spec("root", strategy::one_for_one, 1, {worker_child("a"), worker_child("b")}));
  self->monitor(sup);
  REQUIRE(restarted("a", 0));
  crash_actor(dir->get("a"));
  REQUIRE(restarted("a", 1));
  crash_actor(dir->get("a"));
  auto reason = down_reason(sup.address());
  REQUIRE(reason);
  CHECK(is_escalation(*reason));
  CHECK(is_abnormal_exit(*reason));
  // Its children were stopped and unregistered before it quit.
  CHECK_FALSE(dir->find("a"));
  CHECK_FALSE(dir->find("b"));
}

TEST_CASE_FIXTURE(fixture, "crashing a nested supervisor makes its parent restart it") {
  auto inner = spec("inner", strategy::one_for_one, 3, {worker_child("x")});
  start(spec("root", strategy::one_for_one, 3, {supervisor_child(inner)}));
  REQUIRE(restarted("inner", 0));
  REQUIRE(restarted("x", 0));
  auto x0 = addr("x");
  crash_actor(dir->get("inner"));
  REQUIRE(restarted("inner", 1));
  REQUIRE(test::wait_until([&] { return addr("x") && addr("x") != x0; }));
  CHECK(answers(dir->get("x")));
}

TEST_CASE_FIXTURE(fixture, "a stopping supervisor stops its children in reverse order before it quits") {
  auto log = std::make_shared<stop_log>();
  std::vector<child_spec> children;
  for (std::string n : {"a", "b", "c"}) {
    child_spec c;
    c.name = n;
    c.start = [n, log](caf::actor_system& sys) { return sys.spawn(recording_worker, n, log, false); };
    children.push_back(c);
  }
  auto sup = start(spec("root", strategy::one_for_one, 3, children));
  self->monitor(sup);
  for (auto n : {"a", "b", "c"})
    REQUIRE(restarted(n, 0));
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  auto reason = down_reason(sup.address());
  REQUIRE(reason);
  CHECK(*reason == caf::exit_reason::user_shutdown);
  CHECK(log->get() == std::vector<std::string>{"c", "b", "a"});
  CHECK(dir->list().empty());
}

TEST_CASE_FIXTURE(fixture, "a child that ignores the stop request is killed after its shutdown timeout") {
  auto log = std::make_shared<stop_log>();
  child_spec c;
  c.name = "stubborn";
  c.shutdown_timeout = millis_d(50);
  c.start = [log](caf::actor_system& sys) { return sys.spawn(recording_worker, "stubborn", log, true); };
  auto sup = start(spec("root", strategy::one_for_one, 3, {worker_child("a"), c}));
  self->monitor(sup);
  REQUIRE(restarted("stubborn", 0));
  auto stubborn = dir->get("stubborn");
  self->monitor(stubborn);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  auto child_reason = down_reason(stubborn.address());
  REQUIRE(child_reason);
  CHECK(*child_reason == caf::exit_reason::kill);
  auto reason = down_reason(sup.address());
  REQUIRE(reason);
  CHECK(*reason == caf::exit_reason::user_shutdown);
  CHECK(log->get() == std::vector<std::string>{"stubborn"});
}

TEST_CASE_FIXTURE(fixture, "a supervisor whose child cannot start quits with an error") {
  child_spec broken;
  broken.name = "broken";
  broken.start = [](caf::actor_system&) { return caf::actor{}; };
  auto sup = start(spec("root", strategy::one_for_one, 3, {worker_child("a"), broken}));
  self->monitor(sup);
  auto reason = down_reason(sup.address());
  REQUIRE(reason);
  CHECK(is_abnormal_exit(*reason));
  CHECK_FALSE(dir->find("a"));
}

TEST_CASE("messages sent while an actor is between incarnations reach the next one, in order") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  actor_directory dir;
  caf::scoped_actor self{sys};
  // Nobody under "analyzer" yet (crashed, not restarted): held.
  CHECK(dir.send_or_hold("analyzer", caf::make_message(std::string{"first"})));
  CHECK(dir.send_or_hold("analyzer", caf::make_message(std::string{"second"})));
  auto got = std::make_shared<std::vector<std::string>>();
  auto mtx = std::make_shared<std::mutex>();
  auto collector = sys.spawn([got, mtx](caf::event_based_actor*) -> caf::behavior {
    return {[got, mtx](const std::string& s) {
      std::lock_guard<std::mutex> g{*mtx};
      got->push_back(s);
    }};
  });
  actor_directory::entry e;
  e.name = "analyzer";
  e.actor = collector;
  dir.put(e);
  CHECK(dir.send_or_hold("analyzer", caf::make_message(std::string{"third"})));
  CHECK(test::wait_until([&] {
    std::lock_guard<std::mutex> g{*mtx};
    return got->size() == 3;
  }));
  std::lock_guard<std::mutex> g{*mtx};
  CHECK(*got == std::vector<std::string>{"first", "second", "third"});
  CHECK(dir.dropped() == 0);
  self->send_exit(collector, caf::exit_reason::user_shutdown);
}
