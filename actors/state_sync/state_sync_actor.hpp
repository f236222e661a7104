#pragma once

// The state-sync actor (docs/ARCHITECTURE.md, "The cluster"): this node's copy
// of the replicated map, kept in step with every other node's.
//
//   local callers --(sget/sput/sdel/... atoms)--> state_sync --(state_atom, to, bytes)--> membership
//   peer front / membership --(state_atom, bytes)--> state_sync
//
// It owns a replica::engine (the protocol, src/replica/engine.hpp) and the
// node's <data_dir>/state.db (src/replica/store.hpp): every write, local or
// received, is committed there before a local caller is answered, and the
// map is loaded from it at start, so a restarted node keeps its state and
// catches up by anti-entropy. It runs detached (sqlite blocks).
//
// Every 100 ms it refreshes the engine's peers from the membership board
// (alive members), lets the send windows retry, and every
// state_sync.sync_interval starts one anti-entropy exchange with a random
// peer; a peer it had not seen alive (joined, thawed, restarted) gets one at
// once. A message from a node that is not a member, or that does not
// decode, is dropped and counted; a received entry that fails its checksum
// is dropped and raised as a data_inconsistency fault on "state_sync" (one
// fault per 10 s at most, with the count).
//
// Interface (type_ids.hpp): (state_atom, std::string) from peers; the
// local atoms sget, sput, sdel, slist, sreport, ssnap, ssnaps, srestore,
// ssync, each answered with a replica::state_result; (tick_atom) internal.

#include <memory>

#include <caf/fwd.hpp>

#include "actions/state_actions.hpp"
#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_state_sync_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

/// How recovery actions (state_sync, data_restore) reach the current
/// "state_sync" of `dir`: each call is a request that waits, at most until
/// its deadline, on the calling (worker) thread.
actions::state_access make_state_access(caf::actor_system& sys,
                                        std::shared_ptr<actor_directory> dir);

} // namespace faultd
