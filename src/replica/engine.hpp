#pragma once

// The replication protocol of one node, without an actor system: the
// state-sync actor feeds it local writes, peers' messages and ticks, and
// sends what it puts in its outbox. The scale simulation runs many of these
// over a simulated network. A plain class, not thread-safe.
//
// Propagation (state.proto has the messages):
//  - **Push gossip.** A local write goes to `fanout` random alive peers as
//    a PUSH; a peer that applies it as new passes it on at once to `fanout`
//    random peers of its own (not back to the sender or the writer). One
//    push per node leaves about e^-fanout of a large cluster unreached (5%
//    at fanout 3), to wait for anti-entropy; so, as memberlist retransmits
//    a broadcast ~log(N) times, each node that took a rumor (the writer
//    too) pushes it again at each of its next `rumor_rounds` ticks to
//    `fanout` peers it has not sent it to yet (by default
//    ceil(log10(nodes + 1)): 1 for 3 nodes, 4 for 1,000). A rumor is
//    dropped early once superseded or once no peer is left that it was not
//    sent to or received from. Every node applies a given version at most
//    once and passes on only what it applied, so the rumor dies out.
//  - **Anti-entropy, push-pull over digests.** A DIGEST carries this node's
//    256 bucket sums; the peer answers with VERSIONS, the versions of its
//    keys in the buckets that differ (several messages when they do not fit
//    one); the initiator then sends the entries where it is newer or the
//    peer lacks them (ENTRIES), and asks with WANT for the rest, which come
//    back as ENTRIES. Only what differs moves. With `report` set the
//    exchange only compares: nothing moves, and report_of() gives the
//    counts.
//  - **No flooding.** Entries travel in chunks under max_message_size
//    through a send window per peer (outbox.hpp): at most `window` chunks
//    unacknowledged, each ACKed by the receiver, retried after `timeout`.
//  - **Nothing unverified is stored.** Each received entry is checked by
//    replica_map::apply (checksum, key, origin, clock); a rejected entry is
//    dropped and listed in take_rejections().

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "replica/outbox.hpp"
#include "replica/replica_map.hpp"
#include "replica/wire.hpp"

namespace faultd::replica {

struct engine_params {
  map_params map;
  uint32_t fanout = 3;
  /// Ticks at which a taken rumor is pushed again (0: ceil(log10(nodes+1))).
  uint32_t rumor_rounds = 0;
  size_t max_message_size = 1 << 20;
  window_params window;
};

/// A message for a peer.
struct envelope {
  std::string to;
  state_message msg;
};

/// An entry a peer sent that was not stored.
struct rejection {
  std::string from;
  std::string key;
  apply_result why = apply_result::bad_entry;
};

/// What a report exchange with one peer found.
struct peer_comparison {
  std::string id;
  uint64_t keys = 0;    ///< the peer's keys (recent deletes' tombstones included)
  uint64_t agree = 0;   ///< same version on both
  uint64_t differ = 0;  ///< both have it, versions differ
  uint64_t missing = 0; ///< one of the two lacks it
};

struct engine_counters {
  uint64_t messages_out = 0;
  uint64_t messages_in = 0;
  uint64_t applied = 0;
  uint64_t stale = 0;
  uint64_t rejected = 0;
  uint64_t exchanges = 0;
};

class engine {
public:
  /// REQUIRES: `clock` outlives the engine.
  engine(engine_params p, const clock_source& clock, uint64_t seed);

  replica_map& map() { return map_; }
  const replica_map& map() const { return map_; }
  const engine_params& params() const { return p_; }

  /// The peers gossip may go to (alive members but this node); windows of
  /// peers no longer listed are dropped.
  void set_peers(std::vector<std::string> peers);
  const std::vector<std::string>& peers() const { return peers_; }

  /// A local write: stored, listed in take_changed(), pushed.
  status put(const std::string& key, std::string value, state_entry& written);

  /// A local delete (a tombstone); false if the key is absent.
  bool erase(const std::string& key);

  /// Takes in an entry that is already stored elsewhere on this node (the
  /// node's own state.db at start); nothing is sent.
  apply_result load(const state_entry& e);

  /// A message from a peer.
  void receive(const state_message& m);

  /// Sends again what was not acknowledged in time, and pushes each live
  /// rumor to `fanout` more peers.
  void tick();

  /// Rumors still to be pushed again.
  size_t rumors() const { return rumors_.size(); }

  /// Starts an anti-entropy exchange with `peer` (with `report`: compare
  /// only); returns its id.
  uint64_t start_exchange(const std::string& peer, bool report = false);

  /// A report exchange's result once every part of the answer arrived.
  std::optional<peer_comparison> report_of(uint64_t exchange) const;
  void forget_report(uint64_t exchange);

  std::vector<envelope> take_outbox();
  /// Entries stored since the last call (to persist), in order.
  std::vector<state_entry> take_changed();
  std::vector<rejection> take_rejections();

  const engine_counters& counters() const { return counters_; }
  /// Chunks given up after their retries, over all peers.
  uint64_t dropped_chunks() const;

private:
  /// A fresh entry this node still pushes at its next ticks.
  struct rumor {
    uint64_t version = 0;
    uint32_t left = 0;            ///< ticks to go
    std::set<std::string> known;  ///< the writer, the sender, peers pushed to
  };

  struct pending_report {
    std::string peer;
    uint32_t parts_seen = 0;
    uint32_t parts = 0;
    uint64_t keys = 0;
    std::set<uint32_t> listed;
    comparison sum;
    bool done = false;
  };

  state_message make(msg_kind kind) const;
  void send(const std::string& to, state_message m);
  void queue_entries(const std::string& to, std::vector<state_entry> entries, bool rumor);
  void flush(const std::string& to);
  void spread(const std::vector<state_entry>& fresh, const std::string& from);
  void push_rumors();
  uint32_t rumor_rounds() const;
  bool everyone_knows(const rumor& r) const;
  std::vector<std::string> pick(size_t n, const std::set<std::string>& except);
  void on_entries(const state_message& m);
  void on_digest(const state_message& m);
  void on_versions(const state_message& m);
  void on_want(const state_message& m);
  size_t budget() const;

  engine_params p_;
  const clock_source* clock_;
  replica_map map_;
  std::mt19937_64 rng_;
  std::vector<std::string> peers_;
  std::map<std::string, send_window> windows_;
  std::map<uint64_t, pending_report> reports_;
  std::map<std::string, rumor> rumors_;  ///< by key
  uint64_t next_exchange_ = 1;
  std::vector<envelope> outbox_;
  std::vector<state_entry> changed_;
  std::vector<rejection> rejections_;
  engine_counters counters_;
  uint64_t dropped_chunks_ = 0;
};

} // namespace faultd::replica
