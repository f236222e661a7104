#pragma once

// A hybrid logical clock: the version of every write to the replicated map.
//
// A version is one uint64: the upper 48 bits are wall-clock milliseconds,
// the lower 16 a counter. It never goes backwards on a node, it is above
// every version the node has seen from others (so a write made after
// reading another node's write is ordered after it, whatever the two wall
// clocks say), and it stays close to real time so that "the later write
// wins" means what an operator expects. Ties between two nodes' writes with
// the same version are broken by node id (see replica_map).

#include <cstdint>

#include "faultd/time.hpp"

namespace faultd::replica {

class hlc {
public:
  /// REQUIRES: `clock` outlives the hlc.
  explicit hlc(const clock_source& clock) : clock_(&clock) {}

  /// A version for a local write: above every version issued or observed.
  uint64_t next();

  /// Takes in a version written elsewhere (call before applying it).
  void observe(uint64_t version);

  /// The last version issued or observed.
  uint64_t last() const { return last_; }

  /// The wall-clock milliseconds of the current time, as versions hold them.
  int64_t wall_ms() const;

  static uint64_t pack(int64_t ms, uint16_t counter) {
    return (static_cast<uint64_t>(ms) << 16) | counter;
  }
  static int64_t ms_of(uint64_t version) { return static_cast<int64_t>(version >> 16); }

private:
  const clock_source* clock_;
  uint64_t last_ = 0;
};

} // namespace faultd::replica
