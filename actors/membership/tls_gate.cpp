#include "actors/membership/tls_gate.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>

#include "actors/membership/interpose.hpp"
#include "faultd/util.hpp"

namespace faultd::tls_gate {

namespace {

// `armed` and `tracked` let every other accept() and SSL_free() of the
// process pass without taking the lock.
std::atomic<bool> armed{false};
std::atomic<size_t> tracked{0};
std::atomic<int> listen_fd{-1};
uint16_t guarded_port = 0;

std::mutex mtx; // guards everything below and `guarded_port`
std::unique_ptr<membership::handshake_gate> gate;
uint64_t refused_seen = 0;
uint64_t timed_out_seen = 0;
std::string last_peer;

uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

/// Whether `fd` is the guarded listening socket (found by its port once).
bool is_guarded(int fd) {
  int known = listen_fd.load();
  if (known >= 0)
    return fd == known;
  uint16_t port = 0;
  {
    std::lock_guard<std::mutex> guard{mtx};
    port = guarded_port;
  }
  int listening = 0;
  socklen_t len = sizeof(listening);
  if (port == 0 || local_port(fd) != port
      || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
    return false;
  listen_fd.store(fd);
  return true;
}

void sync_tracked() { tracked.store(gate ? gate->pending() : 0); }

/// Only the host of "HOST:PORT" / "[v6]:PORT".
std::string host_of(const std::string& peer) {
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

/// An accepted connection on the guarded port: admitted, or closed before
/// any SSL state exists for it (then false).
bool admit(int fd, const sockaddr* addr) {
  auto peer = addr != nullptr ? socket_address_text(addr) : peer_address_text(fd);
  std::lock_guard<std::mutex> guard{mtx};
  if (!gate)
    return true;
  auto v = gate->admit(fd, host_of(peer), peer, std::chrono::steady_clock::now());
  sync_tracked();
  if (v == membership::handshake_gate::verdict::admitted)
    return true;
  last_peer = std::move(peer);
  return false;
}

} // namespace

void arm(uint16_t port, membership::gate_limits limits) {
  std::lock_guard<std::mutex> guard{mtx};
  gate = std::make_unique<membership::handshake_gate>(limits);
  guarded_port = port;
  refused_seen = timed_out_seen = 0;
  last_peer.clear();
  listen_fd.store(-1);
  sync_tracked();
  armed.store(true);
}

void disarm() {
  armed.store(false);
  std::lock_guard<std::mutex> guard{mtx};
  gate.reset();
  guarded_port = 0;
  listen_fd.store(-1);
  sync_tracked();
}

report expire() {
  report r;
  std::lock_guard<std::mutex> guard{mtx};
  if (!gate)
    return r;
  for (auto& o : gate->expire(std::chrono::steady_clock::now())) {
    // Still the connection it was: SSL_free (which the socket's close
    // follows) takes this lock first, so an fd the gate holds is open, and
    // its other end proves it was not reused for another connection.
    if (peer_address_text(o.fd) == o.peer)
      ::shutdown(o.fd, SHUT_RDWR);
    last_peer = o.peer;
  }
  r.refused = gate->refused() - refused_seen;
  r.timed_out = gate->timed_out() - timed_out_seen;
  refused_seen = gate->refused();
  timed_out_seen = gate->timed_out();
  r.last_peer = last_peer;
  r.pending = gate->pending();
  r.limits = gate->limits();
  sync_tracked();
  return r;
}

bool step(SSL* ssl, bool over) {
  if (!armed.load() || tracked.load() == 0)
    return false;
  std::lock_guard<std::mutex> guard{mtx};
  if (!gate)
    return false;
  gate->bind(SSL_get_fd(ssl), ssl);
  bool closed_by_gate = over && gate->done(ssl);
  sync_tracked();
  return closed_by_gate;
}

} // namespace faultd::tls_gate

extern "C" {

int accept(int fd, sockaddr* addr, socklen_t* len) {
  using fn = int (*)(int, sockaddr*, socklen_t*);
  static fn next = faultd::next_definition<fn>("accept");
  int conn = next(fd, addr, len);
  if (conn < 0 || !faultd::tls_gate::armed.load() || !faultd::tls_gate::is_guarded(fd))
    return conn;
  if (faultd::tls_gate::admit(conn, addr != nullptr && len != nullptr && *len > 0 ? addr : nullptr))
    return conn;
  ::close(conn);
  errno = EAGAIN; // libcaf_io: nothing to accept now, try at the next event
  return -1;
}

void SSL_free(SSL* ssl) {
  using fn = void (*)(SSL*);
  static fn next = faultd::next_definition<fn>("SSL_free");
  if (ssl != nullptr && faultd::tls_gate::tracked.load() > 0) {
    std::lock_guard<std::mutex> guard{faultd::tls_gate::mtx};
    if (faultd::tls_gate::gate) {
      faultd::tls_gate::gate->done(ssl);
      faultd::tls_gate::sync_tracked();
    }
  }
  next(ssl);
}

} // extern "C"
