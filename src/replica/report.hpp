#pragma once

// What the state-sync actor answers its local callers (faultctl through the
// control actor, the registry, recovery actions), and how a consistency
// report is summed up.

#include <cstdint>
#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "replica/engine.hpp"
#include "replica/store.hpp"

namespace faultd::replica {

/// `faultctl state report`: this node's keys compared with every alive
/// member's, by digest exchanges made for the report.
struct state_report {
  /// Agreeing keys over all keys compared, over every peer that answered,
  /// in percent (100 when there is nothing to compare).
  double consistency_percentage = 100.0;
  std::vector<peer_comparison> nodes;   ///< the peers that answered, by id
  std::vector<std::string> unanswered;  ///< alive peers that did not answer in time
};

state_report make_report(std::vector<peer_comparison> nodes, std::vector<std::string> unanswered);

/// The one reply type of the state-sync actor's local interface.
struct state_result {
  status st;
  std::vector<state_entry> entries;     ///< get, put: one; list: many
  state_report report;                  ///< report
  std::vector<snapshot_info> snapshots; ///< snapshot: the new one; snapshots: all
  uint64_t count = 0;   ///< del: 1 if it deleted; restore: keys written; sync: peers asked
  uint64_t deleted = 0; ///< restore: keys deleted
};

} // namespace faultd::replica
