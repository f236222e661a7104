#pragma once

// What a managed process's life means for the fault pipeline: which of the
// supervisor's events become fault events (raised or cleared), with which
// severity. The restart policy a service declares is law here too: an exit
// the policy accepts (a one-shot job that finished, `restart: never`) is no
// outage to recover from.
//
//   exit, policy restarts it          -> service_unavailable, high
//   exit 0, policy does not restart   -> the service's fault cleared (it completed)
//   other exit under `never`          -> service_unavailable, medium, "not restarted"
//   running (again)                   -> cleared (ignored when nothing is open)
//   restart storm (guard engaged)     -> service_unavailable, critical
//   spawn failed (bad command)        -> service_unavailable, critical
//   expected exits (stop, shutdown), adoption: nothing

#include <optional>
#include <string>

#include "faultd/config.hpp"
#include "faultd/domain.hpp"
#include "process/service_machine.hpp"

namespace faultd::process {

/// The fault event for `e` of a service configured as `cfg`, or nullopt
/// when it means nothing to the pipeline. The event's id is left empty for
/// the caller to fill.
std::optional<fault_event> fault_of(const event& e, const service_config& cfg,
                                    const std::string& node_id);

/// A spawn that failed because faultd itself ran out of file descriptors,
/// processes or memory is also the node's exhaustion: a resource_exhaustion
/// fault for "resource:fds" / "resource:processes" / "resource:memory"
/// (critical), or nullopt for any other event.
std::optional<fault_event> node_fault_of(const event& e, const std::string& node_id);

/// "signal 9", "exit 1" or "unknown".
std::string exit_text(const event& e);

} // namespace faultd::process
