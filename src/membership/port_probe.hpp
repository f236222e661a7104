#pragma once

// Is anything listening on a member's peer port? After its link breaks, a
// port that refuses a TCP connection means the node's process is gone (the
// kernel answers for a dead process at once), which makes it dead without
// waiting for phi. The probe opens a plain TCP connection and closes it
// before sending a byte (a TLS port sees no handshake, so no failure).

#include <string>

#include "faultd/config.hpp"
#include "faultd/time.hpp"

namespace faultd::membership {

enum class port_state : uint8_t { open, refused, unknown };

/// Blocks up to `timeout` (a host that drops packets: unknown).
port_state probe_port(const endpoint& e, duration timeout);

} // namespace faultd::membership
