// The peer port with cluster.tls: nodes of one CA join, a node of another CA
// cannot (a security_violation on both sides), hostile bytes never reach
// BASP; and the peer port's rules at --check-config: TLS without readable
// certificates and plaintext off loopback exit 2.

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/node_process.hpp"
#include "support/raw_client.hpp"
#include "support/support.hpp"
#include "support/tls.hpp"

using namespace faultd;
using namespace faultd::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string tls_yaml(uint16_t port, uint16_t seed, const cluster_tls& t) {
  return "  listen: 127.0.0.1:" + std::to_string(port) + "\ncluster:\n  seeds: [127.0.0.1:"
         + std::to_string(seed) + "]\n  heartbeat_interval: 50ms\n  tls:\n    certificate: "
         + t.certificate + "\n    key: " + t.key + "\n    ca: " + t.ca
         + "\n    handshake_timeout: 1s\nservices: []\nfault_detection:\n  resources: {enabled: false}\n  security: "
           "{enabled: false}\n";
}

std::string members(node_process& n) { return n.ctl({"--json", "members"}).out; }

/// A BASP 0.17 header (32 bytes, network order) whose payload length says
/// 2 GiB: CAF allocates it before any handshake when it reads plaintext.
std::string huge_basp_header() {
  std::string h(32, '\0');
  h[0] = 1; // client_handshake
  h[4] = '\x7f';
  h[5] = h[6] = h[7] = '\xff';
  return h;
}

/// Whether the other end closed `fd` within `wait`.
bool closed_by_node(int fd, std::chrono::milliseconds wait) {
  auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 50) > 0) {
      char buf[4096];
      auto n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("with cluster.tls nodes of one CA join, another CA's node is refused and reported") {
  temp_dir certs;
  make_ca(certs.path(), "cluster");
  make_ca(certs.path(), "other");
  auto p1 = free_port();
  auto p2 = free_port();
  auto p3 = free_port();
  node_process n1{tls_yaml(p1, p1, make_node_cert(certs.path(), "cluster", "n1")), "n1"};
  node_process n2{tls_yaml(p2, p1, make_node_cert(certs.path(), "cluster", "n2")), "n2"};
  REQUIRE(wait_until([&] {
    return contains(members(n1), "\"id\":\"n2\"") && contains(members(n2), "\"id\":\"n1\"");
  }));
  auto n1_log = read_file(n1.dir.file("faultd.out"));
  CHECK_MESSAGE(contains(n1_log, "tls=true"), n1_log);

  node_process n3{tls_yaml(p3, p1, make_node_cert(certs.path(), "other", "n3")), "n3"};
  // The intruder's attempts are security faults on the seed...
  REQUIRE_MESSAGE(wait_until([&] {
    auto f = n1.ctl({"--json", "faults"}).out;
    return contains(f, "security_violation") && contains(f, "TLS handshake from 127.0.0.1:");
  }), (read_file(n1.dir.file("faultd.out")) + read_file(n3.dir.file("faultd.out"))));
  // ...and on the intruder, which trusts nobody of the cluster either.
  REQUIRE(wait_until([&] {
    auto f = n3.ctl({"--json", "faults"}).out;
    return contains(f, "security_violation")
           && contains(f, "TLS handshake to 127.0.0.1:" + std::to_string(p1));
  }));
  CHECK_FALSE(contains(members(n1), "\"id\":\"n3\""));
  CHECK_FALSE(contains(members(n3), "\"id\":\"n1\""));

  SUBCASE("hostile bytes on the TLS peer port never reach BASP: the node stays up and small") {
    std::mt19937 rng{7};
    auto ok_now = [&](const char* phase) {
      CHECK_MESSAGE(n1.ctl({"--timeout", "1s", "status"}).status == 0,
                    "faultctl did not answer within 1s after: " << phase);
    };
    // 200 connections of random bytes, half of them behind a BASP header
    // whose payload length says 2 GiB.
    for (int i = 0; i < 100; ++i) {
      raw_client c{"", p1};
      c.send(huge_basp_header() + random_bytes(rng, 800));
    }
    for (int i = 0; i < 100; ++i) {
      raw_client c{"", p1};
      c.send(random_bytes(rng, 1 + rng() % 4096));
    }
    ok_now("random bytes");
    // 200 mutated frames: a real ClientHello with bits flipped.
    auto hello = client_hello();
    for (int i = 0; i < 200; ++i) {
      raw_client c{"", p1};
      auto m = hello;
      for (int k = 0; k < 3; ++k)
        m[rng() % m.size()] ^= static_cast<char>(1u << (rng() % 8));
      c.send(m);
    }
    ok_now("mutated ClientHellos");
    // Truncated frames and oversized record lengths, left open.
    std::vector<std::unique_ptr<raw_client>> held;
    for (int i = 0; i < 20; ++i) {
      held.push_back(std::make_unique<raw_client>("", p1));
      held.back()->send(hello.substr(0, 1 + rng() % (hello.size() - 1)));
    }
    for (int i = 0; i < 20; ++i) {
      held.push_back(std::make_unique<raw_client>("", p1));
      held.back()->send(std::string{"\x16\x03\x01\xff\xff", 5} + random_bytes(rng, 100));
    }
    ok_now("truncated ClientHellos and oversized record lengths");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(n1.ctl({"status"}).status == 0);
#if !defined(__SANITIZE_ADDRESS__) // ASan's shadow memory and quarantine are no measure
    auto kb = rss_kb(n1.proc->pid());
    CHECK(kb > 0);
    CHECK_MESSAGE(kb < 64 * 1024, "faultd RSS " << kb << " kB");
#endif
    auto view = members(n1);
    auto n2_alive = [&] {
      view = members(n1);
      return json_value(view.substr(view.find("\"id\":\"n2\"")), "state") == "alive";
    };
#if !defined(__SANITIZE_ADDRESS__)
    // The cluster link was never disturbed.
    CHECK_MESSAGE(n2_alive(), (view + read_file(n1.dir.file("faultd.out"))));
#else
    // Under ASan, with the rest of the suite running beside it, the 440
    // handshakes (libssl is not instrumented, but all the code around it
    // is) can hold the node's I/O thread for seconds, and n2 may be
    // suspected meanwhile (seen once: dead after 8.6s unheard). What must
    // hold there: the link comes back.
    CHECK_MESSAGE(wait_until(n2_alive, std::chrono::seconds(30)),
                  (view + read_file(n1.dir.file("faultd.out"))));
#endif
    auto log = read_file(n1.dir.file("data") + "/faultd.log");
    CHECK(contains(log, "peer-tls-handshake-failed"));
  }

  SUBCASE("1,000 idle connections and a slow client on the TLS peer port: refused or timed out") {
    struct rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    std::mt19937 rng{11};
    // A slow client: a ClientHello a byte every 200ms, which would keep a
    // handshake open forever without the gate's deadline.
    raw_client slow{"", p1};
    std::string hello = std::string{"\x16\x03\x01\x00\xc8\x01"} + random_bytes(rng, 200);
    std::vector<std::unique_ptr<raw_client>> idle;
    for (int i = 0; i < 1000; ++i)
      idle.push_back(std::make_unique<raw_client>("", p1));
    auto started = std::chrono::steady_clock::now();
    CHECK(n1.ctl({"--timeout", "1s", "status"}).status == 0);
    size_t sent = 0;
    bool slow_closed = false;
    while (!slow_closed && std::chrono::steady_clock::now() - started < std::chrono::seconds(4)) {
      if (sent < hello.size())
        slow.send(hello.substr(sent++, 1));
      slow_closed = closed_by_node(slow.fd, std::chrono::milliseconds(200));
    }
    CHECK_MESSAGE(slow_closed, "the slow client was not closed within 4s");
    CHECK(n1.ctl({"--timeout", "1s", "status"}).status == 0);
#if !defined(__SANITIZE_ADDRESS__)
    auto kb = rss_kb(n1.proc->pid());
    CHECK_MESSAGE(kb < 64 * 1024, "faultd RSS " << kb << " kB with 1000 idle connections");
#endif
    // Every idle connection is closed: refused at once or after the deadline.
    int open = 0;
    for (auto& c : idle)
      if (!closed_by_node(c->fd, std::chrono::milliseconds(open == 0 ? 2000 : 1)))
        ++open;
    CHECK_MESSAGE(open == 0, open << " of 1000 idle connections still open");
    auto view = members(n1);
    CHECK(json_value(view.substr(view.find("\"id\":\"n2\"")), "state") == "alive");
    auto out = read_file(n1.dir.file("faultd.out"));
    CHECK_MESSAGE(contains(out, "peer-tls-handshakes-limited refused="), out);
    // The flood is a security fault too (rate-limited, with its count).
    CHECK(wait_until([&] {
      return contains(n1.ctl({"--json", "faults"}).out, "idle-connection flood");
    }, std::chrono::seconds(15)));
  }
}

TEST_CASE("the peer port's rules are checked before anything starts: exit 2") {
  temp_dir dir;
  auto check = [&](const std::string& yaml) {
    write_file(dir.file("c.yaml"), "node:\n  id: x\n  data_dir: " + dir.file("data") + "\n" + yaml);
    auto r = run({faultd_bin(), "--config", dir.file("c.yaml"), "--check-config"});
    r.out += r.err; // what it said, wherever it said it
    return r;
  };
  auto wide = check("  listen: 0.0.0.0:7999\nservices: []\n");
  CHECK(wide.status == 2);
  CHECK_MESSAGE(contains(wide.out, "off loopback"), wide.out);
  auto allowed = check("  listen: 0.0.0.0:7999\ncluster:\n  insecure_plaintext: true\n"
                       "services: []\n");
  CHECK_MESSAGE(allowed.status == 0, allowed.out);
  auto no_cert = check("  listen: 0.0.0.0:7999\ncluster:\n  tls: {certificate: "
                       + dir.file("none.pem") + ", key: " + dir.file("none.key") + ", ca: "
                       + dir.file("none-ca.pem") + "}\nservices: []\n");
  CHECK(no_cert.status == 2);
  CHECK_MESSAGE(contains(no_cert.out, "none.pem cannot be read"), no_cert.out);
  // Not just --check-config: faultd itself refuses to start on it.
  write_file(dir.file("c.yaml"), "node:\n  id: x\n  data_dir: " + dir.file("data")
                                   + "\n  listen: 0.0.0.0:7999\nservices: []\n");
  auto start = run({faultd_bin(), "--config", dir.file("c.yaml")});
  CHECK(start.status == 2);
}
