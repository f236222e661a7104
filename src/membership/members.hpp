#pragma once

// What one node knows of the cluster: every member's state (alive, suspect,
// dead, left) and incarnation, and the rules that change them
// (docs/ARCHITECTURE.md, "The cluster"; SWIM with Lifeguard's local health):
//
//  - Direct evidence: each connected peer sends a heartbeat every
//    heartbeat_interval; a phi-accrual detector per peer (phi_accrual.hpp)
//    says when silence is no longer plausible.
//  - Indirect probes before suspicion: when phi crosses the threshold the
//    member stays alive while up to `probe_fanout` other members are asked
//    to reach it (ping_req). An answer through any of them keeps it alive
//    (one lossy link does not kill a healthy node); none within the probe
//    window makes it suspect, and gossip tells the others.
//  - Confirmation: a suspect that is not heard from, directly or through a
//    probe, within suspect_timeout is dead. A crashed peer (its connection
//    reset and its port refuses) is dead at once.
//  - Incarnations: a node refutes a suspicion or death of itself by raising
//    its incarnation; a rumour (or a rejoin) with an incarnation not above
//    the one a member died with cannot bring it back.
//  - Local health (Lifeguard): when this node's own ticks run late (its CPU
//    is starved), it trusts its judgement less: the late tick suspects
//    nobody, the time it was stalled is not counted against its peers, and
//    probe and confirmation windows are stretched by (1 + health), health
//    rising by one per late tick (up to max_health) and falling by one per
//    ten on-time ticks.
//  - Gossip: a rumour of suspicion or death is not adopted for a member this
//    node hears directly and on time; the member itself refutes it.
//
// A plain class on an injected clock; not thread-safe (the membership actor
// owns it). Every call that changes states returns the changes.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/time.hpp"
#include "membership/phi_accrual.hpp"

namespace faultd::membership {

enum class member_state : uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };
std::string_view to_string(member_state s);

/// A member as gossip carries it.
struct member_record {
  std::string id;
  std::string address;
  member_state state = member_state::alive;
  uint64_t incarnation = 0;
  /// A suspicion's origin: the node whose own probe failed (swim.hpp counts
  /// independent ones as confirmations); "" otherwise.
  std::string suspected_by = {};
};

struct table_params {
  phi_config phi;                          ///< heartbeat_interval, threshold, ...
  duration probe_window = millis_d(300);   ///< indirect probes' time to answer
  duration suspect_timeout = millis_d(500); ///< suspect -> dead
  uint32_t max_health = 8;
  size_t retransmit = 4;                   ///< heartbeats that carry a change
};

/// One state change, for the log, the faults and gossip.
struct member_change {
  std::string id;
  std::string address;
  member_state from = member_state::alive;
  member_state to = member_state::alive;
  uint64_t incarnation = 0;
  bool is_new = false;   ///< first heard of
  bool crashed = false;  ///< dead because its port refused (not a silence)
  std::string reason;
};

/// A member as `faultctl members` shows it.
struct member_view {
  std::string id;
  std::string address;
  member_state state = member_state::alive;
  uint64_t incarnation = 0;
  double phi = 0;
  std::optional<duration> last_heard; ///< nullopt: never heard directly (or self)
  bool self = false;
  bool connected = false;
};

enum class join_result : uint8_t { accepted, refused_self, refused_duplicate, refused_stale };

struct join_verdict {
  join_result result = join_result::accepted;
  std::string reason;
  uint64_t known_incarnation = 0;
  std::vector<member_change> changes;
};

/// The admission rule both memberships share, for a JOIN under the known
/// member `known`: refused to another process when `held_elsewhere` (the
/// member is live and its own process still holds the id); a member that
/// died or left, or a new process under a known id (`met`: a process was
/// admitted before, `same_process`: it is that one), needs a higher
/// incarnation. Accepted otherwise (result accepted, nothing else set).
join_verdict judge_rejoin(const member_record& known, bool met, bool same_process,
                          bool held_elsewhere, uint64_t incarnation);

/// A JOIN under this node's own id (`self_id`, at `self_address`) is
/// refused; anything else is accepted by this rule.
join_verdict judge_own_id(const std::string& id, const std::string& self_id,
                          const std::string& self_address);

struct tick_result {
  std::vector<member_change> changes;
  std::vector<std::string> probe; ///< members to reach through others now
  bool late = false;              ///< this tick ran late (local health fell)
};

class member_table {
public:
  /// REQUIRES: `clock` outlives the table.
  member_table(std::string self_id, std::string self_address, uint64_t incarnation,
               table_params params, const clock_source& clock);

  const std::string& self_id() const { return self_id_; }
  const std::string& self_address() const { return self_address_; }
  uint64_t incarnation() const { return incarnation_; }
  uint32_t local_health() const { return health_; }

  /// A peer introduced itself on a link (JOIN). `other_link` tells whether a
  /// link to a process that claimed this id before is still up.
  join_verdict join(const std::string& id, const std::string& address, uint64_t incarnation,
                    uint64_t nonce, bool other_link);

  /// A heartbeat (or any message) came straight from `id`.
  std::vector<member_change> heard(const std::string& id, uint64_t incarnation);

  /// Gossip from `from`. Sets `refuted` when it suspected or buried this
  /// node: the incarnation was raised and must be told to everyone.
  std::vector<member_change> gossip(const std::string& from,
                                    const std::vector<member_record>& records, bool& refuted);

  /// Whether a message of process `nonce` speaks for member `id`: false when
  /// `id` joined us as another process (a refused duplicate, or a process
  /// that has not rejoined yet). Unknown members and ones known from gossip
  /// only: true.
  bool speaks_for(const std::string& id, uint64_t nonce) const;

  /// The link to `id` is up or down.
  void set_connected(const std::string& id, bool up);
  bool connected(const std::string& id) const;

  /// The link to `id` broke and its port refused a new one: it is dead.
  std::vector<member_change> crashed(const std::string& id, const std::string& reason);

  /// `id` said it is leaving (SIGTERM).
  std::vector<member_change> left(const std::string& id, uint64_t incarnation);

  /// An indirect probe reached `id` through `via`.
  std::vector<member_change> probe_answered(const std::string& id, const std::string& via);

  /// Evaluates every member; `lateness` is how much later than planned this
  /// periodic tick runs.
  tick_result tick(duration lateness);

  /// What to piggyback on a heartbeat: this node and the members that
  /// changed lately (each for `retransmit` heartbeats), or everyone.
  std::vector<member_record> gossip_out(bool full);

  /// This node, then every member by id.
  std::vector<member_view> view() const;

  /// Members that a link should exist to (alive or suspect, not connected).
  std::vector<member_record> to_connect() const;

  /// Dead members (not left) worth trying again now and then.
  std::vector<member_record> dead_members() const;

  std::optional<member_record> find(const std::string& id) const;

  /// Alive members other than this node.
  std::vector<std::string> alive_peers() const;

  /// This node is leaving: its record says left from now on.
  void leave();

  /// Raises this node's incarnation to at least `at_least` + 1.
  void refute(uint64_t at_least);

private:
  struct member {
    member_record rec;
    uint64_t nonce = 0;
    bool connected = false;
    std::optional<phi_accrual_detector> detector;
    duration stall_credit{0};  ///< this node's own lateness since the last heartbeat
    std::optional<std::chrono::steady_clock::time_point> probing_since;
    std::optional<std::chrono::steady_clock::time_point> suspect_since;
    std::optional<std::chrono::steady_clock::time_point> reached_until; ///< via a probe
    size_t retransmit_left = 0;
  };

  member_change set_state(member& m, member_state to, std::string reason);
  double phi_of(const member& m) const;
  bool hears_directly(const member& m) const;
  duration stretched(duration d) const { return d * (1 + health_); }

  std::string self_id_;
  std::string self_address_;
  uint64_t incarnation_;
  member_state self_state_ = member_state::alive;
  size_t self_retransmit_ = 0;
  table_params params_;
  const clock_source* clock_;
  std::map<std::string, member> members_;
  uint32_t health_ = 0;
  uint32_t on_time_ = 0;
};

} // namespace faultd::membership
