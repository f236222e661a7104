#pragma once

// What a failed storage write means: a full disk or faultd out of file
// descriptors is resource exhaustion of the node itself (an incident, not
// only a log line), and is worth retrying once space or fds come back; a
// write the database refuses for good (a constraint, a damaged file) is not.

#include <optional>
#include <string>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"

namespace faultd::storage {

struct failure_kind {
  bool transient = false;        ///< retry the same write later
  fault_type type = fault_type::software_error;
  fault_severity severity = fault_severity::high;
  std::string component;         ///< "resource:disk:<dir>", "resource:fds" or "storage"
  std::string resource;          ///< "disk", "fds" or ""
};

/// Classifies a store status (its message carries "(sqlite rc N)" and the
/// errno text). `db_dir` names the disk in the component.
failure_kind classify_failure(const status& st, const std::string& db_dir);

/// The fault event for a failure at `at` (its node is left for the sender).
fault_event failure_fault(const failure_kind& k, const status& st, timestamp at);

} // namespace faultd::storage
