#include <doctest/doctest.h>

#include "supervision/restart_strategy.hpp"

using namespace faultd;
using namespace faultd::supervision;

using idx = std::vector<size_t>;

TEST_CASE("one_for_one restarts only the failed child") {
  auto p = plan_restart(strategy::one_for_one, {true, false, true, true}, 1);
  CHECK(p.stop.empty());
  CHECK(p.start == idx{1});
}

TEST_CASE("one_for_all stops the others in reverse order and restarts all in start order") {
  auto p = plan_restart(strategy::one_for_all, {true, true, false, true}, 2);
  CHECK(p.stop == idx{3, 1, 0});
  CHECK(p.start == idx{0, 1, 2, 3});
}

TEST_CASE("one_for_all leaves children that finished normally stopped") {
  auto p = plan_restart(strategy::one_for_all, {true, false, true, true}, 3);
  CHECK(p.stop == idx{2, 0});
  CHECK(p.start == idx{0, 2, 3});
}

TEST_CASE("rest_for_one restarts the failed child and the ones started after it") {
  auto p = plan_restart(strategy::rest_for_one, {true, true, true, true}, 1);
  CHECK(p.stop == idx{3, 2});
  CHECK(p.start == idx{1, 2, 3});
}

TEST_CASE("rest_for_one on the last child restarts only that child") {
  auto p = plan_restart(strategy::rest_for_one, {true, true, true}, 2);
  CHECK(p.stop.empty());
  CHECK(p.start == idx{2});
}

TEST_CASE("rest_for_one on the first child behaves like one_for_all") {
  auto a = plan_restart(strategy::rest_for_one, {true, true, true}, 0);
  auto b = plan_restart(strategy::one_for_all, {true, true, true}, 0);
  CHECK(a.stop == b.stop);
  CHECK(a.start == b.start);
  CHECK(a.stop == idx{2, 1});
}

TEST_CASE("transient children restart only after abnormal exits, permanent ones always") {
  CHECK(should_restart(restart_policy::transient, true));
  CHECK_FALSE(should_restart(restart_policy::transient, false));
  CHECK(should_restart(restart_policy::permanent, true));
  CHECK(should_restart(restart_policy::permanent, false));
}

TEST_CASE("strategy names read back") {
  for (auto s : {strategy::one_for_one, strategy::one_for_all, strategy::rest_for_one})
    CHECK(parse_strategy(to_string(s)) == s);
  CHECK_FALSE(parse_strategy("one_for_some"));
}

TEST_CASE("restart intensity allows max_restarts within the period and refuses one more") {
  manual_clock clock;
  restart_intensity in(3, seconds_d(10), clock);
  CHECK(in.record_restart());
  clock.advance(seconds_d(1));
  CHECK(in.record_restart());
  clock.advance(seconds_d(1));
  CHECK(in.record_restart());
  CHECK(in.recent() == 3);
  clock.advance(seconds_d(1));
  CHECK_FALSE(in.record_restart());
}

TEST_CASE("restart intensity forgets restarts older than the period") {
  manual_clock clock;
  restart_intensity in(2, seconds_d(10), clock);
  CHECK(in.record_restart()); // t=0
  clock.advance(seconds_d(6));
  CHECK(in.record_restart()); // t=6
  clock.advance(seconds_d(4));
  // t=10: the first restart is exactly one period old and no longer counts.
  CHECK(in.recent() == 1);
  CHECK(in.record_restart());
  clock.advance(seconds_d(1));
  // t=11: restarts at 6 and 10 are in the window; a third is too many.
  CHECK_FALSE(in.record_restart());
}

TEST_CASE("restarts spread out slower than the limit never escalate") {
  manual_clock clock;
  restart_intensity in(1, seconds_d(5), clock);
  for (int i = 0; i < 20; ++i) {
    CHECK(in.record_restart());
    clock.advance(seconds_d(5));
  }
}

TEST_CASE("restart intensity of zero escalates on the first failure") {
  manual_clock clock;
  restart_intensity in(0, seconds_d(5), clock);
  CHECK_FALSE(in.record_restart());
}
