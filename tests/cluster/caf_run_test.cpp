// tools/caf-run against real processes: two local nodes and one reached
// over ssh (a private sshd on loopback, started here), the member table once
// all have joined, and SIGTERM stopping every node, the remote one too.

#include <doctest/doctest.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (auto at = s.find(part); at != std::string::npos; at = s.find(part, at + 1))
    ++n;
  return n;
}

/// A private sshd on 127.0.0.1 that lets this user in with a fresh key, and
/// the ssh client config that reaches it as host "faultd-remote".
struct private_sshd {
  temp_dir dir;
  uint16_t port = free_port();
  std::unique_ptr<child_process> proc;

  private_sshd() {
    auto keygen = [&](const std::string& file) {
      auto r = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.file(file)});
      REQUIRE_MESSAGE(r.status == 0, r.err);
    };
    keygen("host_key");
    keygen("client_key");
    write_file(dir.file("authorized_keys"), read_file(dir.file("client_key.pub")));
    write_file(dir.file("sshd_config"),
               "Port " + std::to_string(port) + "\nListenAddress 127.0.0.1\nHostKey "
                 + dir.file("host_key") + "\nAuthorizedKeysFile " + dir.file("authorized_keys")
                 + "\nPidFile none\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                   "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                   "LogLevel ERROR\n");
    const char* user = ::getpwuid(::getuid())->pw_name;
    write_file(dir.file("ssh_config"),
               "Host faultd-remote\n  HostName 127.0.0.1\n  Port " + std::to_string(port)
                 + "\n  User " + user + "\n  IdentityFile " + dir.file("client_key")
                 + "\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
                   "  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n");
    ::mkdir("/run/sshd", 0755); // sshd's privilege separation directory
    proc = std::make_unique<child_process>(
      std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", dir.file("sshd_config")},
      dir.file("sshd.log"));
    REQUIRE_MESSAGE(wait_until([&] {
      return run({"ssh", "-F", dir.file("ssh_config"), "faultd-remote", "true"}).status == 0;
    }), read_file(dir.file("sshd.log")));
  }
};

} // namespace

TEST_CASE("caf-run starts local and ssh nodes, prints the member table, and SIGTERM stops them all") {
  private_sshd sshd;
  temp_dir dir;
  uint16_t ports[3] = {free_port(), free_port(), free_port()};
  auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
  write_file(dir.file("cluster"),
             "# two here, one over ssh\n"
             "r1 " + addr(0) + "\n"
             "r2 " + addr(1) + " ssh=faultd-remote data_dir=" + dir.file("remote/r2") + "\n"
             "r3 " + addr(2) + "   # a comment after a node\n");
  write_file(dir.file("node.yaml"),
             "cluster:\n  heartbeat_interval: 50ms\nservices: []\nfault_detection:\n"
             "  resources: {enabled: false}\n  security: {enabled: false}\n");
  child_process caf{{source_dir() + "/tools/caf-run", "--config", dir.file("node.yaml"),
                     "--faultd", faultd_bin(), "--faultctl", faultctl_bin(), "--data-root",
                     dir.file("nodes"), "--ssh", "ssh -F " + sshd.dir.file("ssh_config"),
                     "--remote-faultd", faultd_bin(), "--remote-faultctl", faultctl_bin(),
                     dir.file("cluster")},
                    dir.file("caf-run.log")};
  auto log = [&] { return read_file(dir.file("caf-run.log")); };
  REQUIRE_MESSAGE(wait_until([&] { return contains(log(), "cluster up"); }, std::chrono::seconds(30)),
                  log());
  auto out = log();
  CHECK(contains(out, "starting r2 at " + addr(1) + " on faultd-remote (ssh)"));
  CHECK(contains(out, "joined 3/3"));
  // The member table, as faultctl members prints it, lists all three alive.
  CHECK_MESSAGE(count(out, "alive") >= 3, out);
  for (auto id : {"r1", "r2", "r3"})
    CHECK(contains(out, id));
  // r2 really runs through sshd: its output went where the remote side put it.
  CHECK(contains(read_file(dir.file("remote/r2/faultd.out")), "faultd-ready node=r2"));
  auto r2_ctl = "unix:" + dir.file("remote/r2/control.sock");
  CHECK(run({faultctl_bin(), "--node", r2_ctl, "status"}).status == 0);

  caf.signal(SIGTERM);
  CHECK(caf.wait(std::chrono::seconds(20)) == 0);
  CHECK_MESSAGE(contains(log(), "all nodes stopped"), log());
  // Every node is gone, the remote one too, and it left rather than died.
  CHECK(wait_until([&] {
    return run({faultctl_bin(), "--node", r2_ctl, "--timeout", "1s", "status"}).status != 0;
  }));
  for (auto id : {"r1", "r3"})
    CHECK(run({faultctl_bin(), "--node", "unix:" + dir.file("nodes/") + id + "/control.sock",
               "--timeout", "1s", "status"})
            .status != 0);
  CHECK(wait_until([&] {
    return contains(read_file(dir.file("remote/r2/faultd.out")), "faultd-stopped");
  }));
}
