#pragma once

// The service actor: the managed-process detector and the node's view of
// its services. It owns a process::supervisor (src/process/supervisor.hpp:
// fork/exec, pidfd exit detection, restart policy, storm guard — on its own
// thread) and one check actor per configured check.
//
// What it reports to the analyzer (component = service name):
//   process exited unexpectedly  -> service_unavailable, high
//   process running again        -> service_unavailable cleared
//   restart storm (guard engaged) -> service_unavailable, critical
//   spawn failed (bad command)   -> service_unavailable, critical
//
// Interface:
//   (services_atom) -> std::vector<service_status>
//   (health_atom, std::string service, check_status) -> void   from check actors
//   (proc_atom, process::event) -> void                        from the supervisor thread
//
// Runs detached: stopping it stops every managed service (SIGTERM to the
// process group, SIGKILL after the service's stop_grace).

#include <caf/fwd.hpp>

#include "faultd/config.hpp"

namespace faultd {

caf::actor spawn_service_actor(caf::actor_system& sys, const config& cfg, caf::actor analyzer);

} // namespace faultd
