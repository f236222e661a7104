#include "actors/membership/tls_watch.hpp"

#include <atomic>
#include <mutex>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "actors/membership/interpose.hpp"
#include "actors/membership/tls_gate.hpp"
#include "faultd/util.hpp"

namespace faultd::tls_watch {

namespace {

std::mutex mtx;
std::vector<failure> pending;
std::atomic<uint64_t> failures_total{0};

/// What is kept with an SSL object from its first handshake step on: the
/// peer's address (one that sends its alert and resets cannot be asked
/// later), and whether its failure was noted (libcaf_openssl may call the
/// handshake again after it failed).
struct seen {
  std::string peer;
  bool noted = false;
};

void free_seen(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<seen*>(ptr);
}

int seen_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_seen);
  return index;
}

/// Null only if OpenSSL cannot keep it (then nothing is noted).
seen* seen_of(SSL* ssl) {
  auto* p = static_cast<seen*>(SSL_get_ex_data(ssl, seen_index()));
  if (p == nullptr) {
    p = new seen{peer_address_text(SSL_get_fd(ssl)), false};
    if (SSL_set_ex_data(ssl, seen_index(), p) != 1) {
      delete p;
      return nullptr;
    }
  }
  return p;
}

/// The SSL_get_error of a handshake step that returned `ret`.
int step_error(SSL* ssl, int ret) { return ret == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, ret); }

bool waiting(int err) { return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE; }

/// Notes a handshake step that ended in an error (`err`), once per
/// connection.
void note(SSL* ssl, int err, bool accepting, seen* s) {
  if (err == SSL_ERROR_NONE || s == nullptr || s->noted || waiting(err))
    return;
  s->noted = true;
  // Closed before a single handshake byte: a port probe (membership's own,
  // after a link broke, or a load balancer's), not a refused peer.
  if (SSL_in_before(ssl) && ERR_peek_error() == 0)
    return;
  failure f;
  f.accepting = accepting;
  f.peer = s->peer;
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
  static fn next = faultd::next_definition<fn>("SSL_accept");
  auto* seen = faultd::tls_watch::seen_of(ssl);
  int ret = next(ssl);
  int err = faultd::tls_watch::step_error(ssl, ret);
  // One the handshake gate shut down for being overdue is counted there.
  if (faultd::tls_gate::step(ssl, !faultd::tls_watch::waiting(err)) && seen != nullptr)
    seen->noted = true;
  faultd::tls_watch::note(ssl, err, true, seen);
  return ret;
}

int SSL_connect(SSL* ssl) {
  using fn = int (*)(SSL*);
  static fn next = faultd::next_definition<fn>("SSL_connect");
  auto* seen = faultd::tls_watch::seen_of(ssl);
  int ret = next(ssl);
  faultd::tls_watch::note(ssl, faultd::tls_watch::step_error(ssl, ret), false, seen);
  return ret;
}

} // extern "C"
