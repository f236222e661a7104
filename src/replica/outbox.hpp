#pragma once

// How the state-sync actor sends to one peer without flooding it: entries
// are cut into chunks under `state_sync.max_message_size`, and a send
// window lets at most `window` chunks be unacknowledged at once (CAF
// mailboxes are unbounded: the receiver's ack is the only back pressure). A
// chunk not acknowledged within `timeout` is sent again, up to `retries`
// times; then it is dropped and counted, and anti-entropy repairs what it
// carried. The queue itself is bounded the same way: when it is full the
// oldest chunk is dropped. A plain class on an injected time.

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "faultd/domain.hpp"

namespace faultd::replica {

/// An upper bound of one entry's size inside a state message.
size_t encoded_size(const state_entry& e);

/// The room a state message needs besides its entries.
constexpr size_t message_overhead = 512;

/// Cuts `entries` into chunks whose encoded size stays under `max_bytes`
/// (an entry larger than that alone travels alone).
std::vector<std::vector<state_entry>> chunk(std::vector<state_entry> entries, size_t max_bytes);

struct window_params {
  size_t window = 4;             ///< chunks in flight, unacknowledged
  std::chrono::steady_clock::duration timeout = std::chrono::seconds{30};
  uint32_t retries = 3;          ///< sends again after a timeout
  size_t max_queued = 256;       ///< chunks waiting; beyond, the oldest is dropped
};

class send_window {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit send_window(window_params p) : p_(p) {}

  /// Queues a chunk; `rumor`: fresh writes the peer passes on (a PUSH),
  /// else entries that repair it (ENTRIES).
  void push(std::vector<state_entry> entries, bool rumor = false);

  struct outgoing {
    uint64_t seq = 0;                       ///< to echo in the ack
    const std::vector<state_entry>* entries = nullptr; ///< valid until the next call
    bool retry = false;
    bool rumor = false;
  };

  /// What to send now: timed-out chunks again, then new ones while the
  /// window has room.
  std::vector<outgoing> due(time_point now);

  /// The peer took chunk `seq`.
  void ack(uint64_t seq);

  /// Forgets everything (the peer is gone).
  void clear();

  size_t queued() const { return queue_.size(); }
  size_t in_flight() const { return flight_.size(); }
  uint64_t dropped() const { return dropped_; }

private:
  struct flying {
    uint64_t seq = 0;
    std::vector<state_entry> entries;
    bool rumor = false;
    time_point sent_at;
    uint32_t attempts = 0;
  };

  window_params p_;
  struct waiting {
    std::vector<state_entry> entries;
    bool rumor = false;
  };
  std::deque<waiting> queue_;
  std::deque<flying> flight_;
  uint64_t next_seq_ = 1;
  uint64_t dropped_ = 0;
};

} // namespace faultd::replica
