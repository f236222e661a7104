#include <doctest/doctest.h>

#include "recovery/backoff.hpp"

using namespace faultd;
using namespace faultd::recovery;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("exponential delay doubles after each failed attempt") {
  CHECK(exponential_delay(seconds(1), 1) == seconds(1));
  CHECK(exponential_delay(seconds(1), 2) == seconds(2));
  CHECK(exponential_delay(seconds(1), 3) == seconds(4));
  CHECK(exponential_delay(milliseconds(250), 5) == seconds(4));
  CHECK(exponential_delay(seconds(1), 0) == seconds(1));
}

TEST_CASE("exponential delay saturates instead of overflowing") {
  CHECK(exponential_delay(seconds(1), 200) == duration::max());
  CHECK(exponential_delay(duration::zero(), 10) == duration::zero());
  CHECK(exponential_delay(seconds(-1), 3) == duration::zero());
}

TEST_CASE("jitter scales a delay within plus or minus the jitter fraction") {
  CHECK(apply_jitter(seconds(10), 0.2, 0.0) == seconds(8));
  CHECK(apply_jitter(seconds(10), 0.2, 0.5) == seconds(10));
  auto top = apply_jitter(seconds(10), 0.2, 0.999999);
  CHECK(top > milliseconds(11'999));
  CHECK(top < seconds(12));
  CHECK(apply_jitter(seconds(10), 0.0, 0.9) == seconds(10));
  // Out-of-range inputs are clamped, never negative.
  CHECK(apply_jitter(seconds(10), 5.0, 0.0) == duration::zero());
  CHECK(apply_jitter(seconds(10), 0.2, -3.0) == seconds(8));
  CHECK(apply_jitter(duration::max(), 0.2, 0.99) == duration::max());
}

TEST_CASE("the default random source stays within zero and one") {
  auto r = default_random_source();
  for (int i = 0; i < 1000; ++i) {
    double x = r();
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
  }
}
