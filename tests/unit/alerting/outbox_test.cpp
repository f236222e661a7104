#include <doctest/doctest.h>

#include "alerting/outbox.hpp"

using namespace faultd;
using namespace faultd::alerting;
using std::chrono::milliseconds;

namespace {

const timestamp t0{std::chrono::seconds(1'800'000'000)};

outbox make(size_t capacity = 10, uint32_t retries = 2) {
  outbox_params p;
  p.capacity = capacity;
  p.retries = retries;
  p.backoff_initial = seconds_d(1);
  p.backoff_max = seconds_d(3);
  p.down_after = 2;
  return outbox{p, [] { return 0.5; }};  // no jitter
}

} // namespace

TEST_CASE("an outbox delivers in order, one at a time") {
  auto b = make();
  b.push("", "one", "1", t0);
  b.push("", "two", "2", t0);
  auto* d = b.take(t0);
  REQUIRE(d != nullptr);
  CHECK(d->body == "one");
  CHECK(d->attempts == 1);
  CHECK(b.take(t0) == nullptr);  // one in flight
  CHECK_FALSE(b.next_due());
  b.succeeded();
  d = b.take(t0);
  REQUIRE(d != nullptr);
  CHECK(d->body == "two");
  b.succeeded();
  CHECK(b.size() == 0);
  CHECK(b.sent() == 2);
}

TEST_CASE("a failed delivery is retried with doubling backoff, then given up") {
  auto b = make(10, 2);
  b.push("", "x", "x", t0);
  REQUIRE(b.take(t0) != nullptr);
  auto o = b.failed(t0, "HTTP 500");
  CHECK_FALSE(o.given_up);
  CHECK(b.next_due() == t0 + seconds_d(1));
  CHECK(b.take(t0 + milliseconds(999)) == nullptr);
  REQUIRE(b.take(t0 + seconds_d(1)) != nullptr);
  b.failed(t0 + seconds_d(1), "HTTP 500");
  CHECK(b.next_due() == t0 + seconds_d(3));  // 2s after the second failure
  auto* d = b.take(t0 + seconds_d(3));
  REQUIRE(d != nullptr);
  CHECK(d->attempts == 3);
  o = b.failed(t0 + seconds_d(3), "HTTP 503");
  REQUIRE(o.given_up);
  CHECK(o.given_up->last_error == "HTTP 503");
  CHECK(o.given_up->attempts == 3);
  CHECK(b.size() == 0);
  CHECK(b.dropped() == 1);
  CHECK(b.failures() == 3);
}

TEST_CASE("the backoff stops at its maximum") {
  auto b = make(10, 10);
  b.push("", "x", "x", t0);
  auto now = t0;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(b.take(now) != nullptr);
    b.failed(now, "down");
    now = *b.next_due();
  }
  REQUIRE(b.take(now) != nullptr);
  b.failed(now, "down");
  CHECK(*b.next_due() - now == seconds_d(3));
}

TEST_CASE("a full outbox pushes out its oldest waiting delivery, never the one in flight") {
  auto b = make(2);
  b.push("", "a", "a", t0);
  REQUIRE(b.take(t0) != nullptr);  // a in flight
  CHECK_FALSE(b.push("", "b", "b", t0));
  auto out = b.push("", "c", "c", t0);
  REQUIRE(out);
  CHECK(out->body == "b");
  CHECK(b.dropped() == 1);
  b.succeeded();
  auto* d = b.take(t0);
  REQUIRE(d != nullptr);
  CHECK(d->body == "c");
}

TEST_CASE("a sink is down after failures in a row and up at its next success") {
  auto b = make(10, 5);
  b.push("", "x", "x", t0);
  b.take(t0);
  CHECK_FALSE(b.failed(t0, "refused").went_down);
  b.take(*b.next_due());
  auto o = b.failed(t0, "refused");
  CHECK(o.went_down);
  CHECK(b.down());
  CHECK(b.last_error() == "refused");
  b.take(*b.next_due());
  CHECK_FALSE(b.failed(t0, "refused").went_down);  // once
  b.take(*b.next_due());
  CHECK(b.succeeded().came_up);
  CHECK_FALSE(b.down());
}
