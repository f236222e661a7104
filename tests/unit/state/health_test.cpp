#include <doctest/doctest.h>

#include <thread>

#include "state/health.hpp"

using namespace faultd;
using namespace faultd::state;

namespace {

check_status cs(const std::string& name, const std::string& health) {
  check_status c;
  c.name = name;
  c.kind = "tcp";
  c.health = health;
  return c;
}

} // namespace

TEST_CASE("a service is healthy only when every check is") {
  health_board b;
  b.declare("gw", {cs("tcp", ""), cs("http", "")});
  CHECK(b.summary("gw") == "unknown");
  b.update("gw", cs("tcp", "healthy"), 0);
  CHECK(b.summary("gw") == "unknown");
  b.update("gw", cs("http", "healthy"), 0);
  CHECK(b.summary("gw") == "healthy");
  b.update("gw", cs("http", "unhealthy"), 0);
  CHECK(b.summary("gw") == "unhealthy");
  CHECK(b.summary("no-checks") == "healthy");
}

TEST_CASE("a reset forgets health and ignores results from before it") {
  health_board b;
  b.declare("gw", {cs("tcp", "")});
  b.update("gw", cs("tcp", "healthy"), 0);
  auto gen = b.reset("gw");
  CHECK(gen == 1);
  CHECK(b.summary("gw") == "unknown");
  b.update("gw", cs("tcp", "healthy"), 0); // stale: from generation 0
  CHECK(b.summary("gw") == "unknown");
  b.update("gw", cs("tcp", "healthy"), gen);
  CHECK(b.summary("gw") == "healthy");
}

TEST_CASE("wait_healthy returns once another thread reports the service healthy") {
  health_board b;
  b.declare("gw", {cs("tcp", "")});
  std::thread t{[&] { b.update("gw", cs("tcp", "healthy"), 0); }};
  CHECK(b.wait_healthy("gw", std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  t.join();
  b.update("gw", cs("tcp", "unhealthy"), 0);
  CHECK_FALSE(b.wait_healthy("gw", std::chrono::steady_clock::now()));
}

TEST_CASE("reset callbacks run after every reset of their service only") {
  health_board b;
  int gw = 0, other = 0;
  b.on_reset("gw", [&] { ++gw; });
  b.on_reset("db", [&] { ++other; });
  b.reset("gw");
  b.reset("gw");
  CHECK(gw == 2);
  CHECK(other == 0);
}
