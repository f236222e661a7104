#pragma once

// The TLS peer port's admission rules for connections still in their
// handshake: a cap on how many may wait at once (in all, and from one host)
// and a deadline for each.
//
// libcaf_openssl builds a whole SSL context for every accepted connection
// (~70 kB) and gives a handshake no deadline, so 1,000 connections that
// never send a byte would hold 70 MB of faultd for as long as the attacker
// likes. The gate refuses a connection beyond the caps before any SSL state
// exists, and names the connections whose handshake is overdue so that
// they are shut down. A plain class on an injected time, not thread-safe:
// the glue that sees accept() and the handshake (tls_gate in
// actors/membership) serializes the calls.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace faultd::membership {

struct gate_limits {
  size_t max_pending = 64;         ///< connections in their handshake, in all
  size_t max_pending_per_host = 16; ///< ... from one address
  std::chrono::steady_clock::duration timeout = std::chrono::seconds{5};

  /// The limits for `max_pending` in all: a quarter of it from one address,
  /// so one host cannot take every place.
  static gate_limits of(size_t max_pending, std::chrono::steady_clock::duration timeout) {
    return gate_limits{max_pending, max_pending / 4 > 0 ? max_pending / 4 : 1, timeout};
  }
};

class handshake_gate {
public:
  using time_point = std::chrono::steady_clock::time_point;

  enum class verdict { admitted, refused_full, refused_host };

  explicit handshake_gate(gate_limits limits) : limits_(limits) {}

  /// A connection just accepted from `host` (its address without the port;
  /// `peer` is HOST:PORT, kept to recognize the socket later). An admitted
  /// one is pending until done(), drop_fd() or expire() lets it go.
  verdict admit(int fd, const std::string& host, const std::string& peer, time_point now);

  /// The first handshake step of the connection on `fd` runs with `ssl`.
  void bind(int fd, const void* ssl);

  /// The handshake of `ssl` finished (or failed: the connection is closed);
  /// whether the gate had named it overdue (its end was the gate's doing).
  bool done(const void* ssl);

  /// One the gate must stop watching: an fd whose handshake never started.
  void drop_fd(int fd);

  struct overdue {
    int fd = -1;
    std::string peer;
  };

  /// Pending connections past their deadline, each named once; they stay
  /// counted as pending (their socket is still open) until done(), or, if
  /// nothing ever reports on them, one more timeout later.
  std::vector<overdue> expire(time_point now);

  size_t pending() const { return entries_.size(); }
  uint64_t refused() const { return refused_; }
  uint64_t timed_out() const { return timed_out_; }
  const gate_limits& limits() const { return limits_; }

private:
  struct entry {
    int fd = -1;
    const void* ssl = nullptr;
    std::string host;
    std::string peer;
    time_point since;
    bool overdue = false;
  };

  gate_limits limits_;
  std::vector<entry> entries_; // small (≤ max_pending): a vector is enough
  uint64_t refused_ = 0;
  uint64_t timed_out_ = 0;
};

} // namespace faultd::membership
