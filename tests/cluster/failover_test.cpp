// Failover across real faultd nodes on loopback: a service with a home node
// runs there only; when the home dies (SIGKILL) or hangs (SIGSTOP) its
// backup runs it, with a quorum; the home, back, stops its own copy
// (fencing by the placement's epoch), so one copy runs after the heal;
// `faultctl failback` moves it home; a lone survivor (two nodes frozen)
// promotes nothing.

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <sys/types.h>
#include <thread>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

const std::string web_on_n1 = "services:\n"
                              "  - name: web\n"
                              "    command: [\"/bin/sleep\", \"1000\"]\n"
                              "    node: n1\n"
                              "    backup_node: n2\n";

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool runs(cluster_member& m) {
  return json_value(m.proc->service_json("web"), "state") == "running";
}

/// Knows web and waits: another node runs it.
bool standby(cluster_member& m) {
  return json_value(m.proc->service_json("web"), "state") == "standby";
}

bool process_alive(const std::string& pid) {
  return !pid.empty() && (::kill(std::stoi(pid), 0) == 0 || errno != ESRCH);
}

std::string placement_on(cluster_member& m) {
  auto r = m.proc->ctl({"--json", "state", "get", "registry/placement/web"});
  return r.status == 0 ? json_value(r.out, "value") : "";
}

struct three_nodes {
  std::string yaml;
  std::string keys;  ///< the membership (fast_mesh, fast_swim)
  cluster_member n1{"n1", {}, true, yaml, keys};
  cluster_member n2{"n2", {n1.port}, false, yaml, keys};
  cluster_member n3{"n3", {n1.port}, false, yaml, keys};

  explicit three_nodes(std::string services = web_on_n1, std::string cluster_keys = fast_mesh)
    : yaml(std::move(services)), keys(std::move(cluster_keys)) {
    REQUIRE(wait_until([&] {
      return n1.sees("n2", "alive") && n1.sees("n3", "alive") && n2.sees("n1", "alive")
             && n2.sees("n3", "alive") && n3.sees("n1", "alive") && n3.sees("n2", "alive");
    }));
    REQUIRE(wait_until([&] { return runs(n1); }));
    // Its home runs it; the others know it and wait.
    CHECK(standby(n2));
    CHECK(standby(n3));
  }
};

void frozen_home(const std::string& keys) {
  three_nodes c{web_on_n1, keys};
  auto old_pid = c.n1.proc->service_pid("web");
  c.n1.proc->proc->signal(SIGSTOP);
  REQUIRE_MESSAGE(wait_until([&] { return runs(c.n2); }, std::chrono::seconds(20)),
                  c.n2.log());
  CHECK(process_alive(old_pid)); // n1's faultd is frozen, its service is not
  c.n1.proc->proc->signal(SIGCONT);
  // It thaws believing it runs web; the placement it now sees says n2.
  CHECK_MESSAGE(wait_until([&] { return !process_alive(old_pid); }, std::chrono::seconds(20)),
                c.n1.log());
  CHECK(wait_until([&] { return standby(c.n1); }));
  CHECK(runs(c.n2));
  CHECK(placement_on(c.n1) == "epoch=1 node=n2");
}

} // namespace

TEST_CASE("a killed node's service runs on its backup, and the node back stops its old copy") {
  three_nodes c;
  auto old_pid = c.n1.proc->service_pid("web");
  REQUIRE(process_alive(old_pid));
  c.n1.proc->proc->signal(SIGKILL);
  c.n1.proc->proc->wait();
  // A killed faultd leaves its services running (the next one adopts
  // them): this copy goes on until n1 is back and learns of the failover.
  REQUIRE_MESSAGE(wait_until([&] { return runs(c.n2); }, std::chrono::seconds(20)),
                  c.n2.log());
  CHECK(placement_on(c.n3) == "epoch=1 node=n2");
  CHECK(read_file(c.n3.proc->dir.file("data/registry/primary/web")) == "n2");
  CHECK(standby(c.n3));
  CHECK(json_value(c.n3.proc->service_json("web"), "runs_on") == "n2");
  CHECK(json_value(c.n3.proc->service_json("web"), "epoch") == "1");
  auto new_pid = c.n2.proc->service_pid("web");

  c.n1.proc->start();
  CHECK_MESSAGE(wait_until([&] { return !process_alive(old_pid); }, std::chrono::seconds(20)),
                c.n1.log());
  CHECK(wait_until([&] { return standby(c.n1); }));
  CHECK(wait_until(
    [&] { return contains(c.n1.log(), "service-fenced name=web epoch=1 runs_on=n2"); }));
  // One copy: n2's, untouched.
  CHECK(c.n2.proc->service_pid("web") == new_pid);
  CHECK(process_alive(new_pid));
  CHECK(standby(c.n3));

  // Failback from any node: home again with the next epoch, n2's copy stops.
  REQUIRE(wait_until([&] { return c.n3.sees("n1", "alive"); }));
  auto back = c.n3.proc->ctl({"--json", "failback", "web"});
  REQUIRE_MESSAGE(back.status == 0, back.err);
  CHECK(json_value(back.out, "detail") == "from n2, epoch 2");
  CHECK(wait_until([&] { return runs(c.n1) && standby(c.n2); }));
  CHECK(wait_until([&] { return !process_alive(new_pid); }));
  CHECK(placement_on(c.n2) == "epoch=2 node=n1");
  auto again = c.n1.proc->ctl({"failback", "web"});
  CHECK(again.status == 1);
  CHECK(contains(again.err, "web already runs on its home node n1"));
  CHECK(c.n1.proc->ctl({"failback", "nope"}).status == 1);
  CHECK(c.n1.proc->ctl({"failback"}).status == 2);
}

TEST_CASE("a frozen home is failed over, and stops its copy when it thaws") {
  frozen_home(fast_mesh);
}

TEST_CASE("swim: a frozen home is failed over, and stops its copy when it thaws") {
  frozen_home(fast_swim);
}

TEST_CASE("a lone survivor of three has no quorum and promotes nothing") {
  three_nodes c;
  c.n1.proc->proc->signal(SIGSTOP);
  c.n3.proc->proc->signal(SIGSTOP);
  REQUIRE(wait_until([&] { return c.n2.sees("n1", "dead") && c.n2.sees("n3", "dead"); },
                     std::chrono::seconds(20)));
  CHECK_MESSAGE(wait_until([&] { return contains(c.n2.log(), "no quorum: 1 of 3 members alive"); },
                           std::chrono::seconds(20)),
                c.n2.log());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(standby(c.n2));
  CHECK(placement_on(c.n2).empty());
  // The home thaws first: a retry of the failover now finds it alive and
  // moves nothing, before n3's return would make a quorum.
  c.n1.proc->proc->signal(SIGCONT);
  CHECK(wait_until([&] { return c.n2.sees("n1", "alive"); }));
  c.n3.proc->proc->signal(SIGCONT);
  CHECK(wait_until([&] { return c.n2.sees("n3", "alive"); }));
  std::this_thread::sleep_for(std::chrono::seconds(3)); // past the last retry
  CHECK(runs(c.n1));
  CHECK(standby(c.n2));
}

TEST_CASE("failback auto: the home, back for failback_after, takes its service back") {
  three_nodes c{web_on_n1 + "    failback: auto\n    failback_after: 2s\n"};
  c.n1.proc->proc->signal(SIGKILL);
  c.n1.proc->proc->wait();
  REQUIRE(wait_until([&] { return runs(c.n2); }, std::chrono::seconds(20)));
  auto on_n2 = c.n2.proc->service_pid("web");
  c.n1.proc->start();
  CHECK_MESSAGE(wait_until([&] { return runs(c.n1) && standby(c.n2); }, std::chrono::seconds(30)),
                c.n1.log());
  CHECK(wait_until([&] { return !process_alive(on_n2); }));
  CHECK(placement_on(c.n3) == "epoch=2 node=n1");
  CHECK(wait_until([&] {  // faultd.log is flushed every second
    return contains(c.n1.log(), "failback-automatic service=web home=n1 from n2, epoch 2");
  }));
}
