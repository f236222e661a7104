// Membership with real faultd nodes on loopback, in both modes (the mesh and
// SWIM): join through one seed, crash (SIGKILL) and hang (SIGSTOP)
// detection, no false positive among the survivors, rejoin after a restart,
// clean leave, a duplicate id refused. How fast is measured in bench/
// (bench_membership), not asserted here.

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <string>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

using member = cluster_member;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// The scenario, with `keys` choosing the membership (fast_mesh, fast_swim).
void join_crash_hang(const std::string& keys) {
  member n1{"n1", {}, true, "", keys};
  member n2{"n2", {n1.port}, false, "", keys};
  member n3{"n3", {n1.port}, false, "", keys};
  // n3 was seeded with n1 only and still knows n2.
  REQUIRE(wait_until([&] {
    return n3.sees("n2", "alive") && n2.sees("n3", "alive") && n1.sees("n2", "alive")
           && n1.sees("n3", "alive");
  }));
  auto status = n1.proc->ctl({"--json", "status"});
  REQUIRE(status.status == 0);
  CHECK(contains(status.out, "\"id\":\"n3\""));
  CHECK(contains(json_value(n1.entry("n2"), "address"), ":" + std::to_string(n2.port)));

  SUBCASE("SIGKILL: dead everywhere, a hardware_failure on node:<id>; a restart rejoins") {
    auto inc = json_value(n1.entry("n2"), "incarnation");
    n2.proc->proc->signal(SIGKILL);
    n2.proc->proc->wait();
    REQUIRE(wait_until([&] { return n1.sees("n2", "dead") && n3.sees("n2", "dead"); }));
    // hardware_failure when n1's own probe found the port closed first,
    // network_timeout when n3's word came first (the cause is not gossiped).
    CHECK(wait_until([&] {
      auto r = n1.proc->ctl({"--json", "incidents"}).out;
      return contains(r, "\"component\":\"node:n2\"")
             && (contains(r, "hardware_failure") || contains(r, "network_timeout"));
    }));
    // The same id comes back with a higher incarnation and closes the incident.
    n2.proc->start();
    REQUIRE(wait_until([&] { return n1.sees("n2", "alive") && n3.sees("n2", "alive"); }));
    auto inc2 = json_value(n1.entry("n2"), "incarnation");
    CHECK(std::stoull(inc2) > std::stoull(inc));
    REQUIRE(wait_until([&] {
      auto r = n1.proc->ctl({"--json", "incidents", "--open"});
      return r.status == 0 && !contains(r.out, "node:n2");
    }));
  }

  SUBCASE("SIGSTOP: suspect, then dead (network_timeout); SIGCONT: alive again, refuted") {
    auto inc = json_value(n1.entry("n3"), "incarnation");
    n3.proc->proc->signal(SIGSTOP);
    REQUIRE(wait_until([&] { return n1.sees("n3", "dead") && n2.sees("n3", "dead"); }));
    CHECK(contains(n1.log(), "id=n3 address=127.0.0.1:" + std::to_string(n3.port)
                               + " from=alive to=suspect"));
    CHECK(wait_until([&] {
      auto r = n1.proc->ctl({"--json", "incidents"}).out;
      return contains(r, "\"component\":\"node:n3\"") && contains(r, "network_timeout");
    }));
    n3.proc->proc->signal(SIGCONT);
    REQUIRE(wait_until([&] { return n1.sees("n3", "alive") && n2.sees("n3", "alive"); }));
    CHECK(std::stoull(json_value(n1.entry("n3"), "incarnation")) > std::stoull(inc));
    // No survivor ever took another survivor for dead or suspect.
    CHECK_FALSE(contains(n1.log(), "member-state-changed id=n2 "));
    CHECK_FALSE(contains(n2.log(), "member-state-changed id=n1 "));
  }

  SUBCASE("SIGTERM: left, not dead, and no incident") {
    n3.proc->proc->signal(SIGTERM);
    REQUIRE(n3.proc->proc->wait(std::chrono::seconds(20)) == 0);
    REQUIRE(wait_until([&] { return n1.sees("n3", "left") && n2.sees("n3", "left"); }));
    auto incidents = n1.proc->ctl({"--json", "incidents"});
    CHECK_FALSE(contains(incidents.out, "node:n3"));
    CHECK_FALSE(contains(n1.log(), "to=dead"));
  }

  SUBCASE("a second node with a taken id is refused, and that is a security_violation") {
    uint16_t port = free_port();
    temp_dir dir;
    write_file(dir.file("dup.yaml"), "node:\n  id: n2\n  data_dir: " + dir.file("data") + "\n"
                                       + member_yaml(port, {n1.port}, "", keys));
    auto r = run({faultd_bin(), "--config", dir.file("dup.yaml")}, std::chrono::seconds(20));
    CHECK(r.status == 1);
    auto said = r.err + r.out;
    CHECK_MESSAGE(contains(said, "node id n2 is taken"), said);
    // Nothing of it started: no service, and n2 is still the one n1 knows.
    CHECK(contains(json_value(n1.entry("n2"), "address"), ":" + std::to_string(n2.port)));
    REQUIRE(wait_until([&] {
      auto f = n1.proc->ctl({"--json", "faults"});
      return contains(f.out, "security_violation") && contains(f.out, "\"claimed_id\":\"n2\"");
    }));
  }
}

} // namespace

TEST_CASE("nodes join through one seed, learn each other by gossip and see a crash and a hang") {
  join_crash_hang(fast_mesh);
}

TEST_CASE("swim: nodes join through one seed, learn each other by gossip and see a crash and a hang") {
  join_crash_hang(fast_swim);
}
