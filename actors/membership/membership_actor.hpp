#pragma once

// Membership (docs/ARCHITECTURE.md, "The cluster"): the node's view of the
// cluster, kept by one actor over CAF's BASP on the peer port.
//
//   peer front (published on node.listen)  --(peer_atom, bytes)-->  membership
//
// The front is what other nodes hold a handle to; it forwards every
// (peer_atom, std::string PeerMessage) to the current "membership" (held
// while it restarts) and drops anything else, counted and logged. The
// membership actor:
//  - joins through cluster.seeds: connects to a seed's peer port, sends
//    JOIN; the seed connects back to the address in it and answers WELCOME
//    (with every member it knows) or REFUSE (the id is taken: a
//    security_violation on the seed, and this node does not start);
//  - links to every member it learns of (a full mesh: handles only ever come
//    from connecting to a member's own address) and sends each a heartbeat
//    every heartbeat_interval, piggybacking recent changes (the full list
//    every tenth heartbeat);
//  - judges members with src/membership/members.hpp (phi, indirect probes,
//    suspicion, Lifeguard) and publishes the view on ctx->members;
//  - a link that breaks is reconnected at once: a port that refuses means
//    the node's process is gone (dead within milliseconds), anything else is
//    left to phi;
//  - reports a dead member as a fault on component "node:<id>"
//    (hardware_failure when its port refused, network_timeout when it went
//    silent), cleared when it is alive again; a member that leaves is no
//    fault;
//  - on stop (leave_atom) tells every member it leaves.
//
// Interface (type_ids.hpp): (peer_atom, std::string) from the front,
// (join_atom) -> std::string, (leave_atom) -> bool, (tick_atom) internal.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/node/context.hpp"

namespace faultd {

namespace membership {
class member_table;
class swim_node;
}

/// What outlives a restart of the membership actor.
struct membership_runtime {
  /// One of the two, by cluster.membership.
  std::shared_ptr<membership::member_table> table;
  std::shared_ptr<membership::swim_node> swim;
  uint64_t nonce = 0;                 ///< random per faultd process
  std::string incarnation_path;       ///< <data_dir>/incarnation
  caf::io::middleman_actor connector; ///< CAF's (or libcaf_openssl's) middleman actor
  bool tls = false;
};

/// The actor other nodes talk to; forwards peer messages to "membership".
caf::actor spawn_peer_front(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

caf::actor spawn_membership_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                                  std::shared_ptr<membership_runtime> rt);

} // namespace faultd
