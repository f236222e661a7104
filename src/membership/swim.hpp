#pragma once

// SWIM membership (Das, Gupta, Motivala 2002) as memberlist and Serf run it,
// for clusters too large for the full mesh of member_table (members.hpp),
// where every node heartbeats every other: here the load per node is
// constant in N.
//
//  - Probes: one member per probe_interval, round robin over a shuffled
//    list (reshuffled each pass, so each member is probed once per pass).
//    PING, expecting an ACK within probe_timeout; without one, a second
//    PING and PING_REQ to `indirect_probes` random members, which PING the
//    target on the origin's behalf and forward its ACK. No ACK by the end of
//    the interval: the target is suspect.
//  - Suspicion (with Lifeguard's confirmations): a suspect that does not
//    refute in time is dead. The time runs from suspicion_mult × max(1,
//    log10 N) × probe_interval when suspicion_mult - 2 other nodes confirm
//    it (their own probes failed too) up to suspicion_max_mult times that
//    for a suspicion nobody confirms, so one node's bad link gives the
//    member long to refute while a crash that everyone sees is buried
//    fast. A member refutes a suspicion (or a death) of itself by raising
//    its incarnation.
//  - Dissemination: every state change is queued and piggybacked on every
//    outgoing message (up to max_piggyback records, least sent first, and
//    among those the newest, as memberlist orders its queue), each
//    record retransmit_mult × ceil(log10(N + 1)) times; every gossip_interval
//    the queue is also sent to `gossip_fanout` random members. The queue is
//    bounded (max_queue_depth): when changes come faster than they can be
//    sent, the most-sent records go first.
//  - Push-pull: every push_pull_interval the whole member list is exchanged
//    with one random member (repairs whatever dissemination missed); a
//    joining node does one with its seed.
//  - Healing: a member that sends anything while it is dead here (a frozen
//    process that thawed, the far side of a healed partition) is told so
//    and refutes; every reconnect_interval one dead member is pinged, so
//    two sides that buried each other find out.
//  - Admission (admit): a JOIN under the id of a live member whose own
//    process still holds its link is a duplicate, refused; a process that
//    comes back under a buried id needs a higher incarnation. Messages of
//    another process than the one admitted under an id are not that
//    member's (speaks_for).
//
// Record precedence (per member, as in SWIM): alive(i) beats suspect(j) and
// alive(j) when i > j; suspect(i) beats alive(j) when i >= j and suspect(j)
// when i > j; dead(i) and left(i) beat alive or suspect when i >= j. A dead
// member comes back only with a higher incarnation (it rejoined).
//
// A plain class: messages are peer_message (wire.hpp) addressed by member
// id; the caller sends them and feeds in what arrives. Virtual or real
// time through the clock; randomness from the seed. Not thread-safe.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "faultd/time.hpp"
#include "membership/members.hpp"
#include "membership/wire.hpp"

namespace faultd::membership {

struct swim_params {
  duration probe_interval = millis_d(1000); ///< memberlist's LAN defaults
  duration probe_timeout = millis_d(500);
  size_t indirect_probes = 3;
  duration gossip_interval = millis_d(200);
  size_t gossip_fanout = 3;
  size_t retransmit_mult = 4;
  size_t suspicion_mult = 4;
  size_t suspicion_max_mult = 6;
  duration push_pull_interval = seconds_d(30);
  size_t max_piggyback = 16;
  /// Records waiting to be disseminated, at most (as Serf's queue depth
  /// check): past it, the most-sent ones are dropped (push-pull repairs).
  size_t max_queue_depth = 4096;
  /// A dead member is pinged every this often (one per interval).
  duration reconnect_interval = seconds_d(10);
  /// Members known at most: records of more new ids are ignored.
  size_t max_members = 16384;
};

/// How far above the known one an incarnation may jump (incarnations are
/// milliseconds of the wall clock at start, plus one per refutation): more
/// is a forgery, ignored (2^40 ms is 35 years).
inline constexpr uint64_t max_incarnation_jump = uint64_t{1} << 40;

/// A message to send to member `to` (its address in `address`).
struct swim_out {
  std::string to;
  std::string address;
  peer_message msg;
};

class swim_node {
public:
  /// REQUIRES: `clock` outlives the node.
  swim_node(std::string id, std::string address, swim_params params, const clock_source& clock,
            uint64_t seed, uint64_t incarnation = 0);

  const std::string& id() const { return id_; }
  const std::string& address() const { return address_; }
  uint64_t incarnation() const { return incarnation_; }

  /// Joins through a member at `address` (id unknown until it answers): a
  /// push-pull with it, sent again every probe_interval until a member
  /// answers one (a lost JOIN or WELCOME does not leave the node alone).
  std::vector<swim_out> join(const std::string& seed_address);
  /// The same through several seeds, the next one at each retry.
  std::vector<swim_out> join(const std::vector<std::string>& seed_addresses);
  /// Whether a join is still waiting for its WELCOME.
  bool joining() const { return !seeds_.empty(); }

  /// Whether process `nonce` (at `address`) may join as `id` now.
  /// `other_link`: another process holds the id (its link is up, or it is
  /// live at another address): a live member's id is refused to any other
  /// process then.
  /// Accepted: the nonce is this member's from now on (the caller then
  /// passes the message to receive()).
  join_verdict admit(const std::string& id, const std::string& address, uint64_t incarnation,
                     uint64_t nonce, bool other_link);
  /// False when `id` was admitted as another process than `nonce`.
  bool speaks_for(const std::string& id, uint64_t nonce) const;

  /// `id`'s link broke and its port refuses connections: dead now.
  void crashed(const std::string& id, const std::string& reason);

  /// Raises this node's incarnation above `seen` (a peer buried or
  /// suspected it at that one) and tells the cluster.
  void refute(uint64_t seen);

  /// Runs whatever is due now: probes, their timeouts, suspicion timeouts,
  /// gossip and push-pull rounds.
  std::vector<swim_out> tick();

  /// When tick() next has something to do.
  std::chrono::steady_clock::time_point next_due() const;

  /// A message arrived; returns the answers and forwards it causes.
  std::vector<swim_out> receive(const peer_message& m);

  /// This node is leaving: a LEAVE to `gossip_fanout` members, and the
  /// change queued for whatever it still sends.
  std::vector<swim_out> leave();

  /// State changes since the last call (for logs, faults and measurements).
  std::vector<member_change> take_changes();

  std::optional<member_record> find(const std::string& id) const;
  /// This node, then every member by id (`connected` left false; phi 0:
  /// SWIM has no phi, `last_heard` is the last message straight from it).
  std::vector<member_view> view() const;
  /// Members other than this node that are alive or suspect.
  size_t live_peers() const { return live_.size(); }
  /// Records waiting in the dissemination queue.
  size_t queued() const { return queue_.size(); }

private:
  struct member {
    member_record rec;
    std::optional<std::chrono::steady_clock::time_point> suspect_since;
    std::set<std::string> confirmers;  ///< nodes whose probes failed (suspect only)
    std::chrono::steady_clock::time_point deadline;  ///< its entry in deadlines_
    uint64_t nonce = 0;  ///< the process admitted under this id (0: none yet)
    std::optional<std::chrono::steady_clock::time_point> last_heard;
    std::optional<std::chrono::steady_clock::time_point> told;  ///< it is dead, last said
    duration stall_credit{0};  ///< this node's stalls added to its suspicion
  };
  struct probe {
    std::string target;
    uint64_t seq = 0;
    std::chrono::steady_clock::time_point started;
    bool indirect_sent = false;
    bool acked = false;
  };
  /// An indirect probe this node runs for another.
  struct relay {
    std::string origin;
    uint64_t origin_seq = 0;
    std::chrono::steady_clock::time_point until;
  };
  struct queued_record {
    member_record rec;
    size_t sent = 0;
    uint64_t age = 0;  ///< descending: the newest record has the smallest
  };
  /// Times sent, then newest first (as memberlist's queue), then id.
  using queue_key = std::tuple<size_t, uint64_t, std::string>;

  using time_point = std::chrono::steady_clock::time_point;

  time_point now() const { return clock_->steady_now(); }
  size_t cluster_size() const { return members_.size() + 1; }
  size_t retransmit_limit() const;
  /// The shortest suspicion (fully confirmed).
  duration suspicion_timeout() const;
  /// `m`'s suspicion, shortened by its confirmations.
  duration suspicion_timeout(const member& m) const;
  /// `by` (whose probe failed) suspects `m` too; spread if new.
  void confirm(member& m, const std::string& by);
  /// Puts `m`'s suspicion end in deadlines_ anew (or takes it out).
  void reschedule(member& m);

  /// Applies one record; true when it changed what this node knows.
  /// `spread_new`: a member first heard of here is disseminated (not when it
  /// came in a full list: push-pull repairs that itself).
  bool apply(const member_record& r, const std::string& from, bool spread_new = true);
  /// Keeps live_ (members alive or suspect) in step with a state change.
  void track_live(const std::string& id, bool live);
  void set_state(member& m, member_state to, uint64_t incarnation, const std::string& reason,
                 bool is_new = false, bool spread = true);
  void enqueue(const member_record& r);
  member_record self_record() const;
  std::vector<member_record> full_list() const;

  peer_message make(peer_kind kind);
  /// A JOIN (push-pull) or WELCOME carrying every member this node knows.
  swim_out with_full_list(peer_kind kind, std::string to, std::string address);
  swim_out to_member(const std::string& id, peer_message m);
  /// Attaches queued records (least sent, then newest, first) to `m`.
  void piggyback(peer_message& m);
  std::vector<std::string> random_live(size_t k, const std::string& except);

  void start_probe(std::vector<swim_out>& out);
  /// The probe of the ending interval: unanswered, its target is suspect.
  void check_probe();
  void expire_suspects();
  void gossip_round(std::vector<swim_out>& out);
  void push_pull(std::vector<swim_out>& out);
  void knock(std::vector<swim_out>& out);
  /// tick() ran `d` later than it should have (this node was stopped).
  void stalled(duration d);
  /// A buried member spoke: tell it (once per probe_timeout) so it refutes.
  void tell_buried(member& m, const peer_message& from, std::vector<swim_out>& out);

  std::string id_;
  std::string address_;
  swim_params params_;
  const clock_source* clock_;
  std::mt19937_64 rng_;
  uint64_t incarnation_;
  bool leaving_ = false;
  std::map<std::string, member> members_;
  std::map<std::string, queued_record> queue_;
  std::set<queue_key> by_sent_;  ///< queue_, least sent and newest first
  uint64_t next_age_ = std::numeric_limits<uint64_t>::max();
  std::vector<member_change> changes_;
  /// Every suspect's end, earliest first (next_due runs after every
  /// message, and under loss many members are suspect at once).
  std::set<std::pair<time_point, std::string>> deadlines_;
  std::vector<std::string> live_;  ///< members alive or suspect, any order
  std::map<std::string, size_t> live_pos_;
  std::vector<std::string> order_;  ///< this pass's probe order
  size_t next_in_order_ = 0;
  std::optional<probe> probe_;
  std::map<uint64_t, relay> relays_;  ///< by the seq of this node's own PING
  uint64_t seq_ = 0;
  time_point next_probe_;
  time_point next_gossip_;
  time_point next_push_pull_;
  std::vector<std::string> seeds_;  ///< until a WELCOME came
  size_t next_seed_ = 0;
  time_point next_join_;
  time_point next_knock_;
  std::optional<time_point> last_tick_;
};

} // namespace faultd::membership
