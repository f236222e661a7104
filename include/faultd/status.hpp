#pragma once

// What a node reports about its managed services: the data behind
// `faultctl status` / `faultctl services`, also readable by an embedding
// application (degradation level and circuit state of each service).

#include <cstdint>
#include <string>
#include <vector>

#include "faultd/time.hpp"

namespace faultd {

/// Health of one check of a service.
struct check_status {
  std::string name;
  std::string kind;                  ///< tcp | http | exec
  std::string health = "unknown";    ///< healthy | unhealthy | unknown
  uint32_t consecutive_failures = 0;
  std::string last_error;
};

/// State of one configured service on this node.
struct service_status {
  std::string name;
  std::string state = "stopped";     ///< starting | running | backoff | stopping | stopped | exited | failed | unmanaged | standby | pending
  int pid = 0;                       ///< 0 when not running
  uint32_t restarts = 0;
  std::string health = "unknown";    ///< worst of its checks; "healthy" with no checks while running
  std::string degradation = "full";  ///< full | reduced | basic | minimal | ...
  std::string circuit = "closed";    ///< closed | open | half_open
  std::vector<std::string> command;
  std::vector<std::string> depends_on;
  std::vector<check_status> checks;
  std::string last_exit;             ///< "exit 1", "signal 9", "unknown", ""
  bool adopted = false;              ///< started by a previous faultd, supervised again
  bool maintenance = false;          ///< faultctl maintenance: no recovery, no alerts
  /// For a service with a home node: the node that runs it now ("" = every
  /// node runs it); the state is "standby" on the others.
  std::string runs_on;
  uint64_t epoch = 0;                ///< its placement's epoch (0: never moved)
};

/// A member of the cluster as this node sees it.
struct member_status {
  std::string id;
  std::string address;
  std::string state = "alive";       ///< alive | suspect | dead | left
  double phi = 0;                    ///< phi accrual of its silence (0: never heard directly)
  int64_t last_heard_ms = -1;        ///< how long ago it was heard directly; -1: never (this node)
  uint64_t incarnation = 0;
  bool self = false;                 ///< this node
  bool connected = false;            ///< a peer link to it is up
};

} // namespace faultd
