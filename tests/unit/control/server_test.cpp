// The control endpoint without an actor system: a handler that answers
// every request, and clients that misbehave.

#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <sys/un.h>
#include <unistd.h>

#include "control/client.hpp"
#include "control/codec.hpp"
#include "control/frame.hpp"
#include "control/server.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::control;

namespace {

/// A server that answers every request with an inject reply naming the
/// request's id, plus what it was told.
struct echo {
  test::temp_dir dir;
  std::unique_ptr<server> srv;
  std::atomic<int> refused{0};

  explicit echo(server_limits limits = {}, std::optional<control_address> tcp = std::nullopt,
                std::string token = "") {
    server_options o;
    if (tcp) {
      o.address = *tcp;
    } else {
      o.address.unix_path = dir.file("control.sock");
    }
    o.token = std::move(token);
    o.limits = limits;
    srv = std::make_unique<server>(
      std::move(o),
      [this](uint64_t conn, uint64_t id, std::string payload) {
        request r;
        auto st = decode_request(payload, r);
        srv->reply(conn, id, st.ok() ? encode_inject("ev", r.event.component)
                                     : encode_error(st.code(), st.message()));
      },
      [this](const std::string&, const std::string&) { ++refused; });
  }

  status start() { return srv->start(); }

  control_address address() const {
    auto a = parse_control_address(srv->bound_address());
    REQUIRE(a);
    return *a;
  }

  /// One well-formed request through the real client.
  reply ask(const std::string& component, const std::string& token = "", uint64_t id = 9) {
    request r;
    r.cmd = command::inject;
    r.event.component = component;
    r.event.type = fault_type::software_error;
    r.request_id = id;
    r.token = token;
    std::string bytes;
    auto st = call(address(), encode_request(r), std::chrono::seconds(5), bytes);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    reply rep;
    REQUIRE(decode_reply(bytes, rep).ok());
    return rep;
  }
};

/// A raw connection to a Unix socket.
struct raw {
  int fd = -1;
  explicit raw(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  }
  ~raw() {
    if (fd >= 0)
      ::close(fd);
  }
  void send(const std::string& bytes) {
    (void) !::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  /// True once the server has closed its side (reads EOF or a reset).
  bool closed_by_server() {
    return test::wait_until([&] {
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    });
  }
};

} // namespace

TEST_CASE("a request through the endpoint is answered with its own request id") {
  echo e;
  REQUIRE(e.start().ok());
  auto rep = e.ask("gw", "", 77);
  CHECK(rep.ok);
  CHECK(rep.request_id == 77);
  CHECK(rep.json.find("\"incident_id\":\"gw\"") != std::string::npos);
  CHECK(e.srv->stats().requests == 1);
}

TEST_CASE("garbage, an oversized length and a payload that is no request close that connection only") {
  echo e;
  REQUIRE(e.start().ok());
  auto path = e.dir.file("control.sock");
  SUBCASE("random bytes") {
    std::mt19937 rng{1};
    for (int i = 0; i < 20; ++i) {
      raw r{path};
      std::string junk(64 + rng() % 64, '\0');
      for (auto& c : junk)
        c = static_cast<char>(rng());
      junk[0] = '\x7f'; // a length far above the maximum
      r.send(junk);
      CHECK(r.closed_by_server());
    }
    CHECK(e.srv->stats().closed_oversized == 20);
  }
  SUBCASE("a payload that is not a ControlRequest is answered, then closed") {
    raw r{path};
    r.send(encode_frame("\xff\xff\xff not protobuf"));
    CHECK(r.closed_by_server());
    CHECK(e.srv->stats().closed_malformed == 1);
  }
  CHECK(e.ask("still-serving").ok);
}

TEST_CASE("a slow client and an idle one are closed by their timeouts") {
  server_limits l;
  l.read_timeout = std::chrono::milliseconds(200);
  l.idle_timeout = std::chrono::milliseconds(300);
  echo e{l};
  REQUIRE(e.start().ok());
  raw slow{e.dir.file("control.sock")};
  slow.send(std::string{"\0\0", 2}); // half a header, then nothing
  raw idle{e.dir.file("control.sock")};
  CHECK(slow.closed_by_server());
  CHECK(idle.closed_by_server());
  CHECK(e.srv->stats().closed_slow == 1);
  CHECK(e.srv->stats().closed_idle == 1);
  CHECK(e.ask("after").ok);
}

TEST_CASE("at the connection cap the connection idle the longest makes room") {
  server_limits l;
  l.max_connections = 4;
  echo e{l};
  REQUIRE(e.start().ok());
  std::vector<std::unique_ptr<raw>> idle;
  for (int i = 0; i < 10; ++i)
    idle.push_back(std::make_unique<raw>(e.dir.file("control.sock")));
  CHECK(test::wait_until([&] { return e.srv->stats().closed_capacity >= 6; }));
  CHECK(e.srv->stats().open <= 4);
  CHECK(e.ask("legit").ok); // a legitimate client still gets in
  CHECK(idle.front()->closed_by_server());
}

TEST_CASE("a TCP endpoint requires its token and reports refusals") {
  auto tcp = parse_control_address("127.0.0.1:0");
  REQUIRE(tcp);
  SUBCASE("no token configured: refused at start") {
    echo e{server_limits{}, tcp};
    auto st = e.start();
    CHECK_FALSE(st.ok());
    CHECK(st.message().find("needs a token") != std::string::npos);
  }
  SUBCASE("the right token is served, a wrong or missing one is unauthorized") {
    std::string token = "0123456789abcdef0123456789abcdef";
    echo e{server_limits{}, tcp, token};
    REQUIRE(e.start().ok());
    CHECK(e.ask("ok", token).ok);
    auto wrong = e.ask("x", "0123456789abcdef0123456789abcdeX");
    CHECK_FALSE(wrong.ok);
    CHECK(wrong.code == errc::unauthorized);
    auto none = e.ask("x");
    CHECK(none.code == errc::unauthorized);
    CHECK(e.srv->stats().unauthorized == 2);
    CHECK(e.refused == 2);
  }
}

TEST_CASE("tokens compare by content only") {
  CHECK(token_matches("secret-token-123", "secret-token-123"));
  CHECK_FALSE(token_matches("secret-token-124", "secret-token-123"));
  CHECK_FALSE(token_matches("secret-token-12", "secret-token-123"));
  CHECK_FALSE(token_matches("secret-token-1234", "secret-token-123"));
  CHECK_FALSE(token_matches("", ""));
}

TEST_CASE("the client gives up at its timeout against an endpoint that never answers") {
  test::temp_dir dir;
  auto path = dir.file("mute.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(::listen(fd, 4) == 0); // accepts (in the backlog), never answers
  control_address a;
  a.unix_path = path;
  std::string out;
  auto st = call(a, encode_request(request{}), std::chrono::milliseconds(200), out);
  CHECK(st.code() == errc::timeout);
  CHECK(st.message().find("no reply") != std::string::npos);
  ::close(fd);
}

TEST_CASE("a control socket another process serves is not taken over - a stale one is replaced") {
  echo first;
  REQUIRE(first.start().ok());
  server_options o;
  o.address.unix_path = first.dir.file("control.sock");
  server second{o, [](uint64_t, uint64_t, std::string) {}};
  auto st = second.start();
  CHECK_FALSE(st.ok());
  CHECK(st.message().find("another process serves") != std::string::npos);
  first.srv->stop();
  // The file is gone with it; a socket file left by a killed process is
  // replaced (made here by binding without serving).
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, o.address.unix_path.c_str(), sizeof(sa.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  ::close(fd);
  server third{o, [](uint64_t, uint64_t, std::string) {}};
  CHECK(third.start().ok());
}

TEST_CASE("no more than max_in_flight requests are handed on, even when many arrive at once") {
  test::temp_dir dir;
  server_options o;
  o.address.unix_path = dir.file("control.sock");
  o.limits.max_in_flight = 4;
  std::mutex m;
  std::vector<std::pair<uint64_t, uint64_t>> held; // conn, request id: not answered yet
  std::unique_ptr<server> srv;
  srv = std::make_unique<server>(o, [&](uint64_t conn, uint64_t id, std::string) {
    std::lock_guard<std::mutex> g{m};
    held.emplace_back(conn, id);
  });
  REQUIRE(srv->start().ok());
  request r;
  r.cmd = command::status;
  std::string burst;
  for (int i = 0; i < 1000; ++i) {
    r.request_id = static_cast<uint64_t>(i + 1);
    burst += encode_frame(encode_request(r));
  }
  raw c{o.address.unix_path};
  c.send(burst);
  auto handed = [&] {
    std::lock_guard<std::mutex> g{m};
    return held.size();
  };
  REQUIRE(test::wait_until([&] { return handed() == 4; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(handed() == 4); // the other 996 wait in the connection's buffer
  // Answering them lets the next ones through, in order.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::pair<uint64_t, uint64_t>> now;
    {
      std::lock_guard<std::mutex> g{m};
      now.swap(held);
    }
    for (auto& [conn, id] : now)
      srv->reply(conn, id, encode_inject("e", "i"));
    REQUIRE(test::wait_until([&] { return handed() == 4; }));
  }
  CHECK(srv->stats().requests == 16);
}

TEST_CASE("a client that never reads its replies is not buffered for without end") {
  server_limits l;
  l.max_frame = 4096;
  l.read_timeout = std::chrono::milliseconds(100);
  echo e{l};
  REQUIRE(e.start().ok());
  raw c{e.dir.file("control.sock")};
  request r;
  r.cmd = command::inject;
  r.event.component = std::string(200, 'x');
  auto one = encode_frame(encode_request(r));
  // Keep sending (non-blocking) and never read.
  for (int i = 0; i < 20000 && e.srv->stats().closed_slow == 0; ++i)
    c.send(one);
  CHECK(test::wait_until([&] { return e.srv->stats().closed_slow >= 1; }));
  CHECK(e.ask("after").ok);
}

TEST_CASE("before its token a TCP client gets small frames only") {
  std::string token = "0123456789abcdef0123456789abcdef";
  auto tcp = parse_control_address("127.0.0.1:0");
  echo e{server_limits{}, tcp, token};
  REQUIRE(e.start().ok());
  auto port = e.address().tcp.port;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  std::string big = encode_frame(std::string(100 * 1024, 'a')); // no token yet
  (void) !::send(fd, big.data(), big.size(), MSG_NOSIGNAL);
  CHECK(test::wait_until([&] { return e.srv->stats().closed_oversized == 1; }));
  ::close(fd);
  CHECK(e.ask("ok", token).ok);
}

TEST_CASE("a control socket is 0600, or 0660 owned by control_group") {
  test::temp_dir dir;
  server_options o;
  o.address.unix_path = dir.file("private.sock");
  server owner_only{o, [](uint64_t, uint64_t, std::string) {}};
  REQUIRE(owner_only.start().ok());
  struct stat st{};
  REQUIRE(::stat(o.address.unix_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  o.address.unix_path = dir.file("group.sock");
  o.group = static_cast<unsigned>(::getgid());
  server grouped{o, [](uint64_t, uint64_t, std::string) {}};
  REQUIRE(grouped.start().ok());
  REQUIRE(::stat(o.address.unix_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(st.st_gid == ::getgid());
}
