// faultd under systemd's notify protocol, without systemd: the test binds
// the $NOTIFY_SOCKET a service manager would and starts a real faultd with
// it (and $WATCHDOG_USEC): READY=1 once it serves, WATCHDOG=1 from its
// heartbeat, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 at
// SIGTERM. And the unit file the build configures passes
// `systemd-analyze verify`.

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

/// A unix datagram socket where sd_notify messages arrive.
class notify_socket {
public:
  explicit notify_socket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path_.size() < sizeof a.sun_path);
    std::copy(path_.begin(), path_.end(), a.sun_path);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~notify_socket() { ::close(fd_); }

  /// Every message that arrived so far, appended to what was read before.
  const std::vector<std::string>& read() {
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      got_.emplace_back(buf, static_cast<size_t>(n));
    }
    return got_;
  }

  size_t count(const std::string& part) {
    size_t n = 0;
    for (auto& m : read())
      if (m.find(part) != std::string::npos)
        ++n;
    return n;
  }

private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> got_;
};

} // namespace

TEST_CASE("faultd tells a service manager it is ready, alive, reloading and stopping") {
  temp_dir dir;
  notify_socket sock{dir.file("notify")};
  ::setenv("NOTIFY_SOCKET", dir.file("notify").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);  // a ping at least every second
  auto n = std::make_unique<node_process>("services: []\n");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  REQUIRE(wait_until([&] { return sock.count("READY=1") == 1; }));
  CHECK(wait_until([&] { return sock.count("WATCHDOG=1") >= 2; }));
  n->proc->signal(SIGHUP);
  CHECK(wait_until([&] { return sock.count("RELOADING=1") == 1 && sock.count("READY=1") == 2; }));
  n.reset();  // SIGTERM
  CHECK(sock.count("STOPPING=1") == 1);
  // READY before RELOADING, RELOADING before the second READY, STOPPING last
  // of the three kinds (watchdog pings come and go in between).
  std::vector<std::string> order;
  for (auto& m : sock.read())
    for (const char* kind : {"READY=1", "RELOADING=1", "STOPPING=1"})
      if (m.find(kind) != std::string::npos)
        order.push_back(kind);
  CHECK(order == std::vector<std::string>{"READY=1", "RELOADING=1", "READY=1", "STOPPING=1"});
}

TEST_CASE("the systemd unit passes systemd-analyze verify") {
  const std::string analyze = "/usr/bin/systemd-analyze";
  REQUIRE_MESSAGE(::access(analyze.c_str(), X_OK) == 0,
                  "systemd-analyze is not installed (tools/test installs systemd)");
  auto unit = std::string{FAULTD_BINARY_DIR} + "/faultd.service";
  auto text = read_file(unit);
  CHECK(text.find("Type=notify") != std::string::npos);
  CHECK(text.find("KillMode=process") != std::string::npos);
  CHECK(text.find("ExecReload=/bin/kill -HUP $MAINPID") != std::string::npos);
  // verify wants the binary it names to exist: check a copy that runs ours.
  temp_dir dir;
  auto copy = text;
  auto at = copy.find("ExecStart=");
  REQUIRE(at != std::string::npos);
  auto end = copy.find(' ', at);
  copy.replace(at, end - at, "ExecStart=" + faultd_bin());
  write_file(dir.file("faultd.service"), copy);
  auto r = run({analyze, "verify", dir.file("faultd.service")});
  INFO(r.out, r.err);
  CHECK(r.status == 0);
}
