#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "process/restart_tracker.hpp"

using namespace faultd;
using namespace faultd::process;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

restart_config storm_config() {
  restart_config c;
  c.burst = 3;
  c.period = seconds(60);
  c.backoff_initial = milliseconds(500);
  c.backoff_max = seconds(4);
  c.backoff_jitter = 0.0;
  return c;
}

/// A crash after `uptime` of running, then asks for the restart.
restart_decision crash_after(restart_tracker& t, manual_clock& clock, duration uptime) {
  t.started();
  clock.advance(uptime);
  t.stopped();
  return t.next_restart();
}

} // namespace

TEST_CASE("restarts are immediate until burst restarts happened within the period") {
  manual_clock clock;
  restart_tracker t{storm_config(), clock, [] { return 0.5; }};
  for (uint32_t i = 1; i <= 3; ++i) {
    auto d = crash_after(t, clock, milliseconds(10));
    CHECK_FALSE(d.storm);
    CHECK(d.delay == duration::zero());
    CHECK(d.restarts_in_period == i);
  }
  auto d = crash_after(t, clock, milliseconds(10));
  CHECK(d.storm);
  CHECK(d.delay == milliseconds(500));
  CHECK(d.restarts_in_period == 4);
  CHECK(t.engaged());
}

TEST_CASE("backoff doubles with each further restart and stops at backoff_max") {
  manual_clock clock;
  restart_tracker t{storm_config(), clock, [] { return 0.5; }};
  for (int i = 0; i < 3; ++i)
    crash_after(t, clock, milliseconds(10));
  std::vector<duration> delays;
  for (int i = 0; i < 6; ++i)
    delays.push_back(crash_after(t, clock, milliseconds(10)).delay);
  std::vector<duration> expected{milliseconds(500), seconds(1), seconds(2),
                                 seconds(4),        seconds(4), seconds(4)};
  CHECK(delays == expected);
}

TEST_CASE("jitter keeps each delay within plus or minus the jitter fraction") {
  auto cfg = storm_config();
  cfg.backoff_jitter = 0.2;
  cfg.burst = 0;
  manual_clock clock;
  SUBCASE("lowest random value gives the lower bound") {
    restart_tracker t{cfg, clock, [] { return 0.0; }};
    CHECK(t.next_restart().delay == milliseconds(400));
  }
  SUBCASE("a random value near one gives almost the upper bound") {
    restart_tracker t{cfg, clock, [] { return 0.999999; }};
    auto d = t.next_restart().delay;
    CHECK(d > milliseconds(599));
    CHECK(d <= milliseconds(600));
  }
  SUBCASE("many real random delays all stay within bounds and are not all equal") {
    cfg.backoff_initial = seconds(1);
    cfg.backoff_max = seconds(1);
    restart_tracker t{cfg, clock, default_random_source()};
    duration lo = hours(1), hi = duration::zero();
    for (int i = 0; i < 200; ++i) {
      auto d = t.next_restart().delay;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    CHECK(lo >= milliseconds(800));
    CHECK(hi <= milliseconds(1200));
    CHECK(hi > lo);
  }
}

TEST_CASE("restarts older than the period no longer count towards the burst") {
  manual_clock clock;
  restart_tracker t{storm_config(), clock, [] { return 0.5; }};
  for (int i = 0; i < 3; ++i)
    crash_after(t, clock, milliseconds(10));
  CHECK(t.restarts_in_period() == 3);
  // Crashes that come slower than burst/period never engage the guard.
  clock.advance(seconds(61));
  CHECK(t.restarts_in_period() == 0);
  auto d = t.next_restart();
  CHECK_FALSE(d.storm);
  CHECK(d.restarts_in_period == 1);
}

TEST_CASE("backoff resets after the service stays up for the period") {
  manual_clock clock;
  restart_tracker t{storm_config(), clock, [] { return 0.5; }};
  for (int i = 0; i < 5; ++i)
    crash_after(t, clock, milliseconds(10));
  REQUIRE(t.engaged());
  // Up for less than the period: still engaged, backoff keeps growing.
  // (3 immediate, then 500ms and 1s: the next one waits 2s.)
  auto d = crash_after(t, clock, seconds(30));
  CHECK(d.storm);
  CHECK(d.delay == seconds(2));
  // Up for the whole period: history forgotten, restarts immediate again.
  d = crash_after(t, clock, seconds(60));
  CHECK_FALSE(d.storm);
  CHECK(d.delay == duration::zero());
  CHECK(d.restarts_in_period == 1);
  CHECK_FALSE(t.engaged());
}

TEST_CASE("the guard stays engaged while crashes keep coming even if the window empties") {
  auto cfg = storm_config();
  cfg.period = seconds(10);
  manual_clock clock;
  restart_tracker t{cfg, clock, [] { return 0.5; }};
  for (int i = 0; i < 4; ++i)
    crash_after(t, clock, milliseconds(10));
  REQUIRE(t.engaged());
  // Backoff of 30s between short runs: the window holds fewer than burst
  // restarts, but the service never proved stable.
  clock.advance(seconds(30));
  auto d = crash_after(t, clock, seconds(1));
  CHECK(d.storm);
  CHECK(d.delay == seconds(1));
}

TEST_CASE("reset forgets the history at once") {
  manual_clock clock;
  restart_tracker t{storm_config(), clock, [] { return 0.5; }};
  for (int i = 0; i < 5; ++i)
    crash_after(t, clock, milliseconds(10));
  REQUIRE(t.engaged());
  t.reset();
  CHECK_FALSE(t.engaged());
  CHECK(t.restarts_in_period() == 0);
  CHECK_FALSE(t.next_restart().storm);
}
