#pragma once

// Failed TLS handshakes on the peer port, for the security detector.
//
// libcaf_openssl closes a connection whose handshake fails (a certificate
// from another CA, plaintext or garbage sent to a TLS port) without telling
// anyone. faultd wants each attempt counted and raised as a
// security_violation (README, "Ports and trust"), so this file defines
// SSL_accept and SSL_connect itself: the dynamic linker binds
// libcaf_openssl's calls to these definitions in the executable, which call
// libssl's own (dlsym RTLD_NEXT) and note every handshake that ends in an
// error. Nothing else in the handshake changes.

#include <cstdint>
#include <string>
#include <vector>

namespace faultd::tls_watch {

struct failure {
  std::string peer;    ///< HOST:PORT of the other end, when known
  std::string reason;  ///< OpenSSL's verdict ("certificate verify failed: ...")
  bool accepting = false; ///< on our peer port (else: connecting out)
};

/// The failures since the last call (at most 64 are kept in between);
/// `total` is every failure since the process started.
std::vector<failure> take(uint64_t& total);

} // namespace faultd::tls_watch
