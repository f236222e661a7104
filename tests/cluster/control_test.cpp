// The control endpoint of a real faultd, tried as a hostile local user
// would: garbage, mutated and truncated frames, oversized lengths, a
// thousand idle connections, a slow client; a TCP endpoint without the
// token. The node stays up, stays small, and faultctl keeps answering
// within 1 s throughout.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "control/codec.hpp"
#include "control/frame.hpp"
#include "support/node_process.hpp"
#include "support/raw_client.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::test;

namespace {

using raw = raw_client;

/// Every hostile kind of client, against one endpoint; `legit` must keep
/// answering in between.
void attack(const std::string& unix_path, uint16_t port, const std::function<bool()>& legit,
            int faultd_pid) {
  std::mt19937 rng{42};
  control::request valid;
  valid.cmd = control::command::status;
  valid.request_id = 1;
  auto good = control::encode_frame(control::encode_request(valid));
  auto ok_now = [&](const char* phase) {
    CHECK_MESSAGE(legit(), "faultctl did not answer within 1s during: " << phase);
  };

  // 200 connections of random bytes.
  for (int i = 0; i < 200; ++i) {
    raw r{unix_path, port};
    r.send(random_bytes(rng, 1 + rng() % 4096));
  }
  ok_now("random bytes");
  // Mutated frames: a real request with bytes flipped.
  for (int i = 0; i < 200; ++i) {
    raw r{unix_path, port};
    auto m = good;
    for (int k = 0; k < 3; ++k)
      m[rng() % m.size()] ^= static_cast<char>(1u << (rng() % 8));
    r.send(m);
  }
  ok_now("mutated frames");
  // Truncated frames, left open; oversized lengths.
  {
    std::vector<std::unique_ptr<raw>> held;
    for (int i = 0; i < 100; ++i) {
      held.push_back(std::make_unique<raw>(unix_path, port));
      held.back()->send(good.substr(0, 1 + rng() % (good.size() - 1)));
    }
    for (int i = 0; i < 100; ++i) {
      held.push_back(std::make_unique<raw>(unix_path, port));
      held.back()->send(std::string{"\x7f\xff\xff\xff", 4} + random_bytes(rng, 1024));
    }
    ok_now("truncated frames and oversized lengths");
  }
  // 1,000 idle connections, held while faultctl asks.
  {
    std::vector<std::unique_ptr<raw>> idle;
    for (int i = 0; i < 1000; ++i)
      idle.push_back(std::make_unique<raw>(unix_path, port));
    ok_now("1000 idle connections");
    ok_now("1000 idle connections, again");
  }
  // A slow client: one byte of a frame every 50 ms.
  {
    std::atomic<bool> done{false};
    std::thread slow{[&] {
      raw r{unix_path, port};
      for (size_t i = 0; i < good.size() && !done; ++i) {
        r.send(good.substr(i, 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }};
    for (int i = 0; i < 5; ++i) {
      ok_now("a slow client");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    done = true;
    slow.join();
  }
  ok_now("after everything");
#if !defined(__SANITIZE_ADDRESS__)
  auto kb = rss_kb(faultd_pid);
  MESSAGE("faultd RSS after the attacks: " << kb << " kB");
  CHECK(kb > 0);
  CHECK(kb < 64 * 1024);
#else
  (void) faultd_pid;
#endif
}

} // namespace

TEST_CASE("hostile clients on the control socket: the node stays up and small, faultctl answers") {
  struct rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl); // 1000 idle connections from this process
  node_process n{R"(services:
  - name: svc
    command: ["/bin/sleep", "1000"]
)"};
  auto path = n.dir.file("data/control.sock");
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto pid = n.service_pid("svc");
  attack(path, 0, [&] { return n.ctl({"--timeout", "1s", "status"}).status == 0; },
         n.proc->pid());
  CHECK(n.proc->running());
  CHECK(n.service_pid("svc") == pid); // services never noticed
  auto status = n.ctl({"--json", "status"}).out;
  auto control = status.substr(status.find("\"control\":"));
  CHECK(std::stoull(json_value(control, "closed_oversized")) >= 100);
  CHECK(std::stoull(json_value(control, "closed_capacity")) > 0);
  CHECK(read_file(n.dir.file("faultd.out")).find("control-connection-closed")
        != std::string::npos);
}

TEST_CASE("a TCP control endpoint serves only requests with its token") {
  temp_dir files;
  auto token_file = files.file("token");
  write_file(token_file, "3f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f\n");
  ::chmod(token_file.c_str(), 0600);
  auto port = free_port();
  auto addr = "127.0.0.1:" + std::to_string(port);
  node_process n{"", "tcp-node", [&](const std::string&) {}};
  // Restart it on TCP (the harness starts it on its socket).
  n.proc->signal(SIGTERM);
  REQUIRE(n.proc->wait(std::chrono::seconds(10)) == 0);
  write_file(n.dir.file("faultd.yaml"), "node:\n  id: tcp-node\n  data_dir: " + n.dir.file("data")
                                          + "\n  control_token_file: " + token_file
                                          + "\n  control: " + addr + "\n");
  n.node = addr;
  n.proc = std::make_unique<child_process>(
    std::vector<std::string>{faultd_bin(), "--config", n.dir.file("faultd.yaml")},
    n.dir.file("faultd.out"));
  auto with_token = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {faultctl_bin(), "--node", addr, "--token-file", token_file});
    return run(args, std::chrono::seconds(20));
  };
  REQUIRE(wait_until([&] { return with_token({"status"}).status == 0; }));
  // No Unix socket was opened.
  CHECK(::access(n.dir.file("data/control.sock").c_str(), F_OK) != 0);

  auto none = run({faultctl_bin(), "--node", addr, "status"});
  CHECK(none.status == 1);
  CHECK(none.err.find("unauthorized") != std::string::npos);
  temp_dir other;
  write_file(other.file("t"), "00000000000000000000000000000000\n");
  ::chmod(other.file("t").c_str(), 0600);
  auto wrong = run({faultctl_bin(), "--node", addr, "--token-file", other.file("t"), "status"});
  CHECK(wrong.status == 1);
  CHECK(wrong.err.find("unauthorized") != std::string::npos);
  auto env_token = run({"/usr/bin/env", "FAULTD_TOKEN_FILE=" + token_file, faultctl_bin(),
                        "--node", addr, "status"});
  CHECK(env_token.status == 0);
  // A refusal is a security fault for component control.
  CHECK(wait_until([&] {
    auto faults = with_token({"--json", "faults"}).out;
    auto pos = faults.find("\"component\":\"control\"");
    return pos != std::string::npos
           && json_value(faults, "type", faults.rfind("{\"id\"", pos)) == "security_violation";
  }));
  attack("", port, [&] { return with_token({"--timeout", "1s", "status"}).status == 0; },
         n.proc->pid());
  CHECK(n.proc->running());
}

TEST_CASE("faultctl gives up within --timeout + 0.5s against a port that accepts and never answers") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  auto addr = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  temp_dir files;
  write_file(files.file("t"), "0123456789abcdef0123456789abcdef\n");
  ::chmod(files.file("t").c_str(), 0600);
  auto t0 = std::chrono::steady_clock::now();
  auto r = run({faultctl_bin(), "--node", addr, "--token-file", files.file("t"), "--timeout", "1s",
                "status"},
               std::chrono::seconds(10));
  auto took = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  CHECK(r.status == 1);
  CHECK(r.err.find("no reply") != std::string::npos);
  CHECK_MESSAGE(took < std::chrono::milliseconds(1500),
                "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms");
}
