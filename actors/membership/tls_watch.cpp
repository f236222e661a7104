#include "actors/membership/tls_watch.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace faultd::tls_watch {

namespace {

std::mutex mtx;
std::vector<failure> pending;
std::atomic<uint64_t> failures_total{0};

std::string peer_of(SSL* ssl) {
  int fd = SSL_get_fd(ssl);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return "unknown";
  char host[INET6_ADDRSTRLEN] = {0};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    return std::string{host} + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    return "[" + std::string{host} + "]:" + std::to_string(port);
  }
  return "unknown";
}

/// Notes a handshake step that ended in an error (not one that merely
/// waits for more bytes).
void note(SSL* ssl, int ret, bool accepting, std::string peer) {
  int err = SSL_get_error(ssl, ret);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
    return;
  // Closed before a single handshake byte: a port probe (membership's own,
  // after a link broke, or a load balancer's), not a refused peer.
  if (SSL_in_before(ssl) && ERR_peek_error() == 0)
    return;
  failure f;
  f.accepting = accepting;
  f.peer = std::move(peer);
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    f.reason = std::string{"certificate verify failed: "} + X509_verify_cert_error_string(verify);
  } else if (auto e = ERR_peek_error(); e != 0) { // peek: CAF reads the queue after us
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    f.reason = buf;
  } else {
    f.reason = "connection closed during the handshake";
  }
  failures_total.fetch_add(1);
  std::lock_guard<std::mutex> guard{mtx};
  if (pending.size() < 64)
    pending.push_back(std::move(f));
}

/// The peer's address, kept with the SSL object from its first handshake
/// step on (a peer that sends its alert and resets cannot be asked later).
void free_peer(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}

int peer_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_peer);
  return index;
}

std::string remembered_peer(SSL* ssl) {
  auto* p = static_cast<std::string*>(SSL_get_ex_data(ssl, peer_index()));
  if (p == nullptr) {
    p = new std::string{peer_of(ssl)};
    if (SSL_set_ex_data(ssl, peer_index(), p) != 1) {
      auto copy = *p;
      delete p;
      return copy;
    }
  }
  return *p;
}

template <class Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

} // namespace

std::vector<failure> take(uint64_t& total) {
  total = failures_total.load();
  std::lock_guard<std::mutex> guard{mtx};
  std::vector<failure> out;
  out.swap(pending);
  return out;
}

} // namespace faultd::tls_watch

extern "C" {

int SSL_accept(SSL* ssl) {
  using fn = int (*)(SSL*);
  static fn next = faultd::tls_watch::real<fn>("SSL_accept");
    auto peer = faultd::tls_watch::remembered_peer(ssl);
  int ret = next(ssl);
  if (ret <= 0)
    faultd::tls_watch::note(ssl, ret, true, std::move(peer));
  return ret;
}

int SSL_connect(SSL* ssl) {
  using fn = int (*)(SSL*);
  static fn next = faultd::tls_watch::real<fn>("SSL_connect");
    auto peer = faultd::tls_watch::remembered_peer(ssl);
  int ret = next(ssl);
  if (ret <= 0)
    faultd::tls_watch::note(ssl, ret, false, std::move(peer));
  return ret;
}

} // extern "C"
