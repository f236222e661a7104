#pragma once

// The control endpoint: faultd's side of the control protocol (frame.hpp),
// on a Unix socket or a TCP port, served by one thread of its own (epoll).
// Not an actor: it hands every request to a callback and takes replies from
// any thread, so it can be tested without an actor system.
//
// Every port faces an attacker. Per connection: frames above max_frame (64
// KiB on TCP until a request carried the token), a payload that is not a
// ControlRequest, a frame that takes longer than read_timeout to arrive (a
// slow client), replies left unread for 2 x read_timeout, and no traffic for
// idle_timeout close the connection; at most max_in_flight requests are
// handed on (the rest wait in the decoder, reading pauses), and reading also
// pauses while more than max_frame of replies are unsent. Overall: at most
// max_connections at once (at the cap, the connection idle the longest is
// closed to make room; if none is idle the new one is), and at most
// max_buffered bytes of unfinished frames and unsent replies (past it, the
// connection holding the most is closed). Each closing is counted (stats())
// and logged (logger "control").
//
// Authentication: on TCP every request must carry the endpoint's token
// (read from the envelope without parsing the body, compared in constant
// time); one that does not is answered "unauthorized", the connection
// closed, and `on_refused` called. A Unix socket is guarded by its file mode
// (0600, or 0660 with a group) and needs no token; it is refused in a
// directory others may write to that is not sticky.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "faultd/config.hpp"
#include "faultd/error.hpp"

namespace faultd::control {

struct server_limits {
  size_t max_frame = 4u << 20;
  size_t max_connections = 128;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds idle_timeout{60000};
  size_t max_in_flight = 16;
  size_t max_buffered = 16u << 20;
};

/// What the endpoint has seen since it started.
struct server_stats {
  uint64_t accepted = 0;
  uint64_t open = 0;
  uint64_t requests = 0;
  uint64_t closed_malformed = 0;    ///< a frame that is not a ControlRequest
  uint64_t closed_oversized = 0;    ///< a length above max_frame
  uint64_t closed_slow = 0;         ///< a frame not complete within read_timeout
  uint64_t closed_idle = 0;         ///< no traffic within idle_timeout
  uint64_t closed_capacity = 0;     ///< evicted or refused at max_connections / max_buffered
  uint64_t unauthorized = 0;        ///< requests refused for a missing or wrong token
};

struct server_options {
  control_address address;
  /// Required on TCP (start() refuses TCP without one); ignored on Unix.
  std::string token;
  /// Unix socket only: the group that may connect too (mode 0660), or none (0600).
  std::optional<unsigned> group;
  server_limits limits;
};

class server {
public:
  /// (connection, request id, ControlRequest bytes). Called on the server's
  /// thread: hand the request on and return.
  using request_fn = std::function<void(uint64_t conn, uint64_t request_id, std::string payload)>;
  /// (peer, why) for a request refused as unauthorized.
  using refused_fn = std::function<void(const std::string& peer, const std::string& why)>;

  server(server_options opts, request_fn on_request, refused_fn on_refused = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens, then serves on a thread of its own. A Unix socket
  /// left by a dead faultd is replaced; one another process serves is not.
  status start();

  /// Sends the reply (a ControlResponse; its request id is set here) to
  /// the connection's request `request_id`. Thread-safe; a connection that
  /// is gone by then is skipped.
  void reply(uint64_t conn, uint64_t request_id, std::string response);

  /// Closes the listener and every connection, and joins the thread.
  void stop();

  /// Where it listens ("unix:PATH", or "HOST:PORT" with the bound port).
  std::string bound_address() const;

  server_stats stats() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Constant-time comparison of a presented token with the expected one.
bool token_matches(const std::string& presented, const std::string& expected);

} // namespace faultd::control
