#include <doctest/doctest.h>

#include <cmath>

#include "membership/phi_accrual.hpp"

using namespace faultd;
using namespace faultd::membership;

namespace {

phi_config cfg_100ms() {
  phi_config c;
  c.heartbeat_interval = millis_d(100);
  c.min_std_deviation = millis_d(10);
  c.threshold = 8;
  return c;
}

void beat_every(phi_accrual_detector& d, manual_clock& clock, duration every, int n) {
  for (int i = 0; i < n; ++i) {
    clock.advance(every);
    d.heartbeat();
  }
}

} // namespace

TEST_CASE("phi stays low while heartbeats come on time and rises with silence") {
  manual_clock clock;
  phi_accrual_detector d{cfg_100ms(), clock};
  CHECK(d.phi() == 0); // nothing heard yet
  CHECK(d.available());
  d.heartbeat();
  beat_every(d, clock, millis_d(100), 50);
  CHECK(d.mean_ms() == doctest::Approx(100));
  clock.advance(millis_d(100));
  CHECK(d.phi() < 1);
  CHECK(d.available());
  double before = d.phi();
  clock.advance(millis_d(50));
  double later = d.phi();
  CHECK(later > before); // monotone in the silence
  clock.advance(millis_d(200)); // 350 ms without a heartbeat
  CHECK(d.phi() > 8);
  CHECK_FALSE(d.available());
  d.heartbeat(); // back: phi drops at once
  CHECK(d.phi() < 1);
}

TEST_CASE("a jittery peer gets more slack than a regular one") {
  manual_clock c1;
  manual_clock c2;
  phi_accrual_detector regular{cfg_100ms(), c1};
  phi_accrual_detector jittery{cfg_100ms(), c2};
  regular.heartbeat();
  jittery.heartbeat();
  for (int i = 0; i < 100; ++i) {
    c1.advance(millis_d(100));
    regular.heartbeat();
    c2.advance(millis_d(i % 2 == 0 ? 50 : 150));
    jittery.heartbeat();
  }
  CHECK(jittery.std_deviation_ms() > regular.std_deviation_ms());
  c1.advance(millis_d(200));
  c2.advance(millis_d(200));
  CHECK(jittery.phi() < regular.phi());
}

TEST_CASE("acceptable_heartbeat_pause and min_std_deviation stretch the tolerance") {
  auto strict = cfg_100ms();
  auto lenient = cfg_100ms();
  lenient.acceptable_heartbeat_pause = millis_d(500);
  manual_clock clock;
  phi_accrual_detector a{strict, clock};
  phi_accrual_detector b{lenient, clock};
  a.heartbeat();
  b.heartbeat();
  for (int i = 0; i < 20; ++i) {
    clock.advance(millis_d(100));
    a.heartbeat();
    b.heartbeat();
  }
  clock.advance(millis_d(400));
  CHECK_FALSE(a.available());
  CHECK(b.available());
  CHECK(a.std_deviation_ms() == doctest::Approx(0)); // perfectly regular...
  CHECK(std::isfinite(a.phi())); // ...but min_std_deviation keeps phi finite
}

TEST_CASE("a peer heard once is judged against heartbeat_interval") {
  manual_clock clock;
  phi_accrual_detector d{cfg_100ms(), clock};
  d.heartbeat();
  CHECK(d.samples() == 0);
  CHECK(d.mean_ms() == doctest::Approx(100));
  clock.advance(millis_d(1000));
  CHECK_FALSE(d.available());
}

TEST_CASE("memory is bounded: only the last max_samples intervals count") {
  auto c = cfg_100ms();
  c.max_samples = 10;
  manual_clock clock;
  phi_accrual_detector d{c, clock};
  d.heartbeat();
  beat_every(d, clock, millis_d(1000), 100); // an old slow rhythm...
  beat_every(d, clock, millis_d(100), 10);   // ...forgotten once 10 new ones are in
  CHECK(d.samples() == 10);
  CHECK(d.mean_ms() == doctest::Approx(100));
}

TEST_CASE("phi_of follows the normal tail: one standard deviation late is about phi 0.8") {
  CHECK(phi_of(100, 100, 10) == doctest::Approx(0.301).epsilon(0.01)); // on time: P = 1/2
  CHECK(phi_of(110, 100, 10) == doctest::Approx(0.80).epsilon(0.05));
  CHECK(phi_of(1e9, 100, 10) > 100); // capped, not infinite
  CHECK(std::isfinite(phi_of(1e9, 100, 10)));
}
