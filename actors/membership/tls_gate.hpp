#pragma once

// The handshake gate on the TLS peer port (src/membership/handshake_gate.hpp
// holds the rules; this is where they meet the sockets).
//
// This file defines accept() and SSL_free() for the process, as tls_watch
// defines SSL_accept: libcaf_io's accept() of the peer port's listening
// socket comes here first, and a connection beyond the caps is closed
// before libcaf_openssl builds any SSL state for it (CAF sees EAGAIN and
// waits for the next one). Every other accept() and SSL_free() passes
// through untouched. expire() shuts down the sockets whose handshake is
// overdue; libcaf_openssl then reads the end of stream and closes them.

#include <cstdint>
#include <string>

#include <openssl/ssl.h>

#include "membership/handshake_gate.hpp"

namespace faultd::tls_gate {

/// Guards the listening socket bound to `port` from now on.
void arm(uint16_t port, membership::gate_limits limits);

/// Stops guarding (the peer port is closing).
void disarm();

struct report {
  uint64_t refused = 0;    ///< since the last expire()
  uint64_t timed_out = 0;  ///< since the last expire()
  std::string last_peer;   ///< the most recent of them (HOST:PORT)
  size_t pending = 0;
  membership::gate_limits limits;
};

/// Shuts down the overdue handshakes; what was refused or closed since the
/// last call.
report expire();

/// A handshake step of libcaf_openssl's on the accepting side (from
/// tls_watch's SSL_accept): `over` when it finished or failed. Whether the
/// gate had shut this connection down (its failure is already counted).
bool step(SSL* ssl, bool over);

} // namespace faultd::tls_gate
