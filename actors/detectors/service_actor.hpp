#pragma once

// The service actor: the managed-process detector and the node's view of
// its services. The process supervisor itself (src/process/supervisor.hpp:
// fork/exec, pidfd exit detection, restart policy, storm guard, on its own
// thread) belongs to the node context, so a crash of this actor leaves the
// managed processes alone; the supervisor's events reach whichever
// incarnation of "services" is current.
//
// What it reports to the analyzer (component = service name) is decided by
// process::fault_of (src/process/service_faults.hpp), where the restart
// policy is law: an exit the policy accepts is no outage.
//
// Interface:
//   (proc_atom, process::event) -> void     from the supervisor thread

#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"
#include "faultd/status.hpp"

namespace faultd {

caf::actor spawn_service_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

/// Every service's status as faultctl shows it, from the context's
/// thread-safe objects (callable from any thread).
std::vector<service_status> collect_service_status(const node_context& ctx);

} // namespace faultd
