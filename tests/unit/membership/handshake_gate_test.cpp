#include <doctest/doctest.h>

#include "membership/handshake_gate.hpp"

using namespace faultd::membership;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

gate_limits limits(size_t total, size_t per_host) {
  gate_limits l;
  l.max_pending = total;
  l.max_pending_per_host = per_host;
  l.timeout = seconds{5};
  return l;
}

int tag[8]; // stand-ins for SSL objects

} // namespace

TEST_CASE("the gate admits up to its caps, in all and per host, and frees a place on done") {
  handshake_gate g{limits(4, 2)};
  handshake_gate::time_point t0{};
  using v = handshake_gate::verdict;
  CHECK(g.admit(10, "10.0.0.1", "10.0.0.1:5000", t0) == v::admitted);
  CHECK(g.admit(11, "10.0.0.1", "10.0.0.1:5001", t0) == v::admitted);
  CHECK(g.admit(12, "10.0.0.1", "10.0.0.1:5002", t0) == v::refused_host);
  CHECK(g.admit(13, "10.0.0.2", "10.0.0.2:5000", t0) == v::admitted);
  CHECK(g.admit(14, "10.0.0.3", "10.0.0.3:5000", t0) == v::admitted);
  CHECK(g.admit(15, "10.0.0.4", "10.0.0.4:5000", t0) == v::refused_full);
  CHECK(g.pending() == 4);
  CHECK(g.refused() == 2);
  // A finished handshake makes room; the first step binds the SSL object.
  g.bind(10, &tag[0]);
  g.done(&tag[0]);
  CHECK(g.pending() == 3);
  CHECK(g.admit(16, "10.0.0.1", "10.0.0.1:5003", t0) == v::admitted);
  // done() of an SSL object the gate never saw changes nothing.
  g.done(&tag[5]);
  CHECK(g.pending() == 4);
}

TEST_CASE("an overdue handshake is named once, stays pending until closed, then is forgotten") {
  handshake_gate g{limits(8, 8)};
  handshake_gate::time_point t0{};
  g.admit(20, "h", "h:1", t0);
  g.bind(20, &tag[1]);
  g.admit(21, "h", "h:2", t0 + seconds{3});
  CHECK(g.expire(t0 + seconds{4}).empty());
  auto due = g.expire(t0 + seconds{5});
  REQUIRE(due.size() == 1);
  CHECK(due[0].fd == 20);
  CHECK(due[0].peer == "h:1");
  CHECK(g.timed_out() == 1);
  CHECK(g.expire(t0 + seconds{6}).empty()); // named once only
  CHECK(g.pending() == 2);                  // its socket is still open
  g.done(&tag[1]);                          // CAF read the end of stream
  CHECK(g.pending() == 1);
  // One that nobody ever reports on is dropped one timeout after it was due.
  auto later = g.expire(t0 + seconds{8});
  REQUIRE(later.size() == 1);
  CHECK(later[0].fd == 21);
  CHECK(g.pending() == 1);
  CHECK(g.expire(t0 + seconds{13}).empty());
  CHECK(g.pending() == 0);
  CHECK(g.timed_out() == 2);
}

TEST_CASE("an fd number admitted again replaces the stale entry it had") {
  handshake_gate g{limits(2, 2)};
  handshake_gate::time_point t0{};
  g.admit(30, "h", "h:1", t0);
  // fd 30 was closed without a handshake step and accept() returned it
  // again: one entry, not two.
  CHECK(g.admit(30, "h", "h:2", t0 + milliseconds{10}) == handshake_gate::verdict::admitted);
  CHECK(g.pending() == 1);
  g.drop_fd(30);
  CHECK(g.pending() == 0);
}
