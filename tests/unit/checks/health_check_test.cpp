#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checks/health_check.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::checks;

namespace {

/// A socket listening on 127.0.0.1, port chosen by the kernel.
class listener {
public:
  explicit listener(int backlog = 16) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, backlog) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~listener() { ::close(fd_); }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// The next connection accepted on `l`, or -1 once `stop` is set.
int next_connection(const listener& l, const std::atomic<bool>& stop) {
  while (!stop) {
    pollfd p{l.fd(), POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0)
      continue;
    int c = ::accept(l.fd(), nullptr, nullptr);
    if (c >= 0)
      return c;
  }
  return -1;
}

/// A tiny HTTP/1.1 server on its own thread: answers every request with
/// `status` and a short body, then closes the connection.
class tiny_http_server {
public:
  explicit tiny_http_server(int status, std::string reason)
      : status_(status), reason_(std::move(reason)), thread_([this] { serve(); }) {}
  ~tiny_http_server() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return listener_.port(); }
  std::string url(const std::string& path = "/health") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  int requests() const { return requests_; }

private:
  void serve() {
    for (int c; (c = next_connection(listener_, stop_)) >= 0;) {
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0)
          break;
        req.append(buf, static_cast<size_t>(n));
      }
      ++requests_;
      std::string body = "state=" + std::to_string(status_) + "\n";
      std::string resp = "HTTP/1.1 " + std::to_string(status_) + " " + reason_ + "\r\n"
                         + "Content-Type: text/plain\r\nContent-Length: "
                         + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      ssize_t off = 0;
      while (off < static_cast<ssize_t>(resp.size())) {
        ssize_t n = ::write(c, resp.data() + off, resp.size() - static_cast<size_t>(off));
        if (n <= 0)
          break;
        off += n;
      }
      ::close(c);
    }
  }

  int status_;
  std::string reason_;
  listener listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

/// A line-protocol server on its own thread (redis' PING): reads a line,
/// answers `answer` to it, then closes the connection.
class tiny_line_server {
public:
  explicit tiny_line_server(std::string answer)
      : answer_(std::move(answer)), thread_([this] { serve(); }) {}
  ~tiny_line_server() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return listener_.port(); }
  std::string last_request() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return request_;
  }

private:
  void serve() {
    for (int c; (c = next_connection(listener_, stop_)) >= 0;) {
      std::string req;
      char buf[256];
      while (req.find('\n') == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0)
          break;
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> guard{mtx_};
        request_ = req;
      }
      if (!answer_.empty())
        (void) ::write(c, answer_.data(), answer_.size());
      ::close(c);
    }
  }

  std::string answer_;
  listener listener_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mtx_;
  std::string request_;
  std::thread thread_;
};

/// True when `pid` no longer runs: gone, or a zombie of some other parent.
bool process_dead(int pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH)
    return true;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size()
         && line[close_paren + 2] == 'Z';
}

std::vector<std::string> sh(const std::string& script) {
  return {"/bin/sh", "-c", script};
}

} // namespace

TEST_CASE("tcp check succeeds against a listening socket") {
  listener l;
  auto r = run_tcp_check("127.0.0.1", l.port(), millis_d(2000));
  CHECK(r.outcome == check_outcome::ok);
  CHECK(r.code == 0);
  CHECK(r.latency_ms >= 0);
  CHECK(r.message.find("connected") != std::string::npos);
}

TEST_CASE("tcp check fails when nothing listens on the port") {
  auto port = test::free_port();
  auto r = run_tcp_check("127.0.0.1", port, millis_d(2000));
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == ECONNREFUSED);
  CHECK(r.message.find("connection refused") != std::string::npos);
}

TEST_CASE("tcp check reports an unresolvable host as critical") {
  auto r = run_tcp_check("no-such-host.invalid", 80, millis_d(2000));
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.message.find("cannot resolve") != std::string::npos);
}

TEST_CASE("tcp check times out when the listener's accept queue is full") {
  // A listener with backlog 0 that never accepts: once its queue holds a
  // connection, the kernel drops further SYNs and connects hang.
  listener l(0);
  std::vector<int> fillers;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(l.port());
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    (void) ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
  }
  auto r = run_tcp_check("127.0.0.1", l.port(), millis_d(300));
  for (int fd : fillers)
    ::close(fd);
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == ETIMEDOUT);
  CHECK(r.message.find("timed out after 300ms") != std::string::npos);
}

TEST_CASE("tcp check with send and expect talks a line protocol") {
  tiny_line_server redis{"+PONG\r\n"};
  auto ok = run_tcp_check("127.0.0.1", redis.port(), millis_d(2000), "PING\r\n", "+PONG");
  CHECK(ok.ok());
  CHECK(ok.message == "127.0.0.1:" + std::to_string(redis.port()) + " answered \"+PONG\"");
  CHECK(ok.output == "+PONG\r\n");
  CHECK(redis.last_request() == "PING\r\n");
  // A server that answers something else is critical, and says what came.
  tiny_line_server wrong{"-ERR unknown command\r\n"};
  auto bad = run_tcp_check("127.0.0.1", wrong.port(), millis_d(2000), "PING\r\n", "+PONG");
  CHECK_FALSE(bad.ok());
  CHECK(bad.message.find("the peer closed the connection before \"+PONG\" (got \"-ERR unknown "
                         "command\\r\\n\")")
        != std::string::npos);
}

TEST_CASE("tcp check with expect fails when the answer never comes") {
  // Accepted by the kernel, never answered: a hung server.
  listener l;
  auto r = run_tcp_check("127.0.0.1", l.port(), millis_d(200), "PING\r\n", "+PONG");
  CHECK_FALSE(r.ok());
  CHECK(r.message.find("no \"+PONG\" in the answer") != std::string::npos);
  CHECK(r.message.find("(nothing came)") != std::string::npos);
  // Without send/expect the same server passes: what a tcp check alone sees.
  CHECK(run_tcp_check("127.0.0.1", l.port(), millis_d(200)).ok());
}

TEST_CASE("run_check dispatches a tcp check config") {
  listener l;
  check_config cfg;
  cfg.kind = check_kind::tcp;
  cfg.host = "127.0.0.1";
  cfg.port = l.port();
  CHECK(run_check(cfg).outcome == check_outcome::ok);
  cfg.port = test::free_port();
  CHECK(run_check(cfg).outcome == check_outcome::critical);
}

TEST_CASE("http check is ok when the server answers the expected status") {
  tiny_http_server srv(200, "OK");
  auto r = run_http_check(srv.url(), 200, millis_d(2000));
  CHECK(r.outcome == check_outcome::ok);
  CHECK(r.code == 200);
  CHECK(r.output == "state=200\n");
  CHECK(r.latency_ms > 0);
  CHECK(srv.requests() == 1);
}

TEST_CASE("http check is critical with the code when the server answers 503") {
  tiny_http_server srv(503, "Service Unavailable");
  check_config cfg;
  cfg.kind = check_kind::http;
  cfg.url = srv.url();
  cfg.expected_status = 200;
  auto r = run_check(cfg);
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == 503);
  CHECK(r.message == "HTTP 503, expected 200");
}

TEST_CASE("http check accepts a non-200 status when that is what is expected") {
  tiny_http_server srv(503, "Service Unavailable");
  auto r = run_http_check(srv.url(), 503, millis_d(2000));
  CHECK(r.outcome == check_outcome::ok);
  CHECK(r.code == 503);
}

TEST_CASE("http check is critical with curl's error when nothing listens") {
  auto url = "http://127.0.0.1:" + std::to_string(test::free_port()) + "/";
  auto r = run_http_check(url, 200, millis_d(2000));
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == 0);
  CHECK(r.message.find("Couldn't connect") != std::string::npos);
}

TEST_CASE("exec check maps exit codes as Nagios plugins do") {
  auto r0 = run_exec_check(sh("echo 'PING OK - 1ms'; exit 0"), millis_d(5000));
  CHECK(r0.outcome == check_outcome::ok);
  CHECK(r0.code == 0);
  CHECK(r0.message == "PING OK - 1ms");

  auto r1 = run_exec_check(sh("echo 'DISK WARNING' >&2; exit 1"), millis_d(5000));
  CHECK(r1.outcome == check_outcome::warning);
  CHECK(r1.code == 1);
  CHECK(r1.message == "DISK WARNING");

  auto r2 = run_exec_check(sh("exit 2"), millis_d(5000));
  CHECK(r2.outcome == check_outcome::critical);
  CHECK(r2.code == 2);

  auto r7 = run_exec_check(sh("exit 7"), millis_d(5000));
  CHECK(r7.outcome == check_outcome::critical);
  CHECK(r7.code == 7);
  CHECK(r7.message == "exit code 7");
}

TEST_CASE("exec check keeps only the first 4 KiB of the output") {
  auto r = run_exec_check(sh("head -c 100000 /dev/zero | tr '\\0' x; exit 0"), millis_d(5000));
  CHECK(r.outcome == check_outcome::ok);
  CHECK(r.output.size() == exec_output_cap);
  CHECK(r.output.find_first_not_of('x') == std::string::npos);
}

TEST_CASE("exec check kills and reaps a command that outlives its timeout") {
  auto r = run_exec_check(sh("echo $$; exec sleep 30"), millis_d(300));
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == -1);
  CHECK(r.message == "timed out after 300ms");
  int pid = std::stoi(r.output);
  REQUIRE(pid > 0);
  // Reaped, not a zombie: the pid is gone at once.
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
}

TEST_CASE("exec check kills the whole process group on timeout") {
  auto r = run_exec_check(sh("sleep 30 & echo $!; wait"), millis_d(300));
  CHECK(r.outcome == check_outcome::critical);
  int grandchild = std::stoi(r.output);
  REQUIRE(grandchild > 0);
  CHECK(test::wait_until([&] { return process_dead(grandchild); }));
}

TEST_CASE("exec check leaves no background process of a command that exited") {
  auto r = run_exec_check(sh("sleep 30 & echo $!; exit 0"), millis_d(5000));
  CHECK(r.outcome == check_outcome::ok);
  int grandchild = std::stoi(r.output);
  REQUIRE(grandchild > 0);
  CHECK(test::wait_until([&] { return process_dead(grandchild); }));
}

TEST_CASE("exec check of a missing command is critical") {
  auto r = run_exec_check({"/nonexistent/faultd-no-such-check"}, millis_d(5000));
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == 127);
  CHECK(r.message.find("cannot execute /nonexistent/faultd-no-such-check") != std::string::npos);
  CHECK(r.message.find("no such file or directory") != std::string::npos);

  auto empty = run_exec_check({}, millis_d(5000));
  CHECK(empty.outcome == check_outcome::critical);
}

TEST_CASE("exec check looks the command up in PATH") {
  auto r = run_exec_check({"true"}, millis_d(5000));
  CHECK(r.outcome == check_outcome::ok);
  auto f = run_exec_check({"false"}, millis_d(5000));
  CHECK(f.outcome == check_outcome::warning);
}

TEST_CASE("exec check of a command killed by a signal is critical") {
  auto r = run_exec_check(sh("kill -9 $$"), millis_d(5000));
  CHECK(r.outcome == check_outcome::critical);
  CHECK(r.code == -1);
  CHECK(r.message.find("killed by signal 9") != std::string::npos);
}

TEST_CASE("an application's check function: its result, a throw, or a run past its timeout") {
  check_config c;
  c.kind = check_kind::custom;
  c.custom_type = "queue_depth";
  c.timeout = std::chrono::milliseconds(50);
  auto ok = run_custom_check(
    [](const check_config& cfg) {
      check_result r;
      r.outcome = check_outcome::ok;
      r.message = "depth 3 of " + cfg.custom_type;
      return r;
    },
    c);
  CHECK(ok.ok());
  CHECK(ok.message == "depth 3 of queue_depth");
  CHECK(ok.latency_ms >= 0);
  auto threw = run_custom_check(
    [](const check_config&) -> check_result { throw std::runtime_error("queue unreachable"); }, c);
  CHECK(threw.outcome == check_outcome::critical);
  CHECK(threw.message == "queue_depth check threw: queue unreachable");
  auto slow = run_custom_check(
    [](const check_config&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
      check_result r;
      r.outcome = check_outcome::ok;
      r.message = "fine";
      return r;
    },
    c);
  CHECK(slow.outcome == check_outcome::critical);
  CHECK(slow.message.find("over its timeout of 50ms (fine)") != std::string::npos);
  CHECK(slow.latency_ms >= 120);
  // The plain dispatcher has no function for it.
  CHECK(run_check(c).message == "no check function for type queue_depth");
}

TEST_CASE("an application's check type names: letters, digits, _ and -, no built-in name") {
  CHECK(check_custom_check_name("queue_depth").ok());
  CHECK(check_custom_check_name("q-2").ok());
  const std::vector<std::string> bad = {"",        "tcp",     "mqtt", "custom",
                                        "has space", "dot.ted", std::string(65, 'x')};
  for (const auto& name : bad)
    CHECK_MESSAGE(!check_custom_check_name(name).ok(), name);
}

TEST_CASE("a guarded check function that hangs is critical after its timeout and is not called twice") {
  check_config c;
  c.kind = check_kind::custom;
  c.custom_type = "queue_depth";
  c.timeout = std::chrono::milliseconds(50);
  auto gate = std::make_shared<std::atomic<bool>>(false);
  auto calls = std::make_shared<std::atomic<int>>(0);
  guarded_check g{[gate, calls](const check_config&) {
    ++*calls;
    while (!*gate)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    check_result r;
    r.outcome = check_outcome::ok;
    r.message = "line one\nline two";
    return r;
  }};
  auto hung = g.run(c);
  CHECK(hung.outcome == check_outcome::critical);
  CHECK(hung.message == "did not return within 50ms");
  auto still = g.run(c);
  CHECK(still.outcome == check_outcome::critical);
  CHECK(still.message.find("has not returned") != std::string::npos);
  CHECK(*calls == 1);
  *gate = true;
  // Once the stuck call returned, the next run calls it again.
  check_result back;
  REQUIRE(faultd::test::wait_until([&] {
    back = g.run(c);
    return back.ok();
  }));
  CHECK(back.message == "line one");  // its first line only
  CHECK(*calls >= 2);
}
