#pragma once

// Starting one managed process: clone(CLONE_VM | CLONE_VFORK) + exec (the
// posix_spawn technique: no page-table copy, so starting is cheap even from
// a big daemon) with only async-signal-safe calls in the child, and exec
// failures reported to the parent as errno through a close-on-exec pipe (so
// "command not found" is an error, not an exit 127).

#include <map>
#include <string>
#include <vector>

#include "faultd/error.hpp"
#include "faultd/util.hpp"

namespace faultd::process {

/// What to start and how.
struct spawn_request {
  std::vector<std::string> argv;            ///< argv[0] is looked up in PATH unless it has a '/'
  std::map<std::string, std::string> env;   ///< added to (or overriding) faultd's environment
  std::string working_dir;                  ///< "" = faultd's working directory
  std::string log_path;                     ///< stdout+stderr appended here; "" = /dev/null
  std::string user;                         ///< run as this user ("" = don't change)
  std::string group;                        ///< and group ("" = the user's primary group)
};

/// A started process: its pid and a pidfd that becomes readable when it exits.
struct spawn_result {
  status result;     ///< ok, or spawn_failed / io with the reason
  int pid = -1;
  int pidfd = -1;    ///< owned by the caller (close it after reaping)
};

/// Starts `req` as a child of the calling thread.
///
/// The child gets its own process group (pgid = pid), default signal
/// dispositions and an empty signal mask, stdin from /dev/null, stdout and
/// stderr appended to log_path, no other inherited fds, and (with `user` /
/// `group`) the user's uid, gid and supplementary groups. It does not die
/// with faultd: a restarted faultd adopts it (see run_state.hpp).
/// Returns only after the child has exec'd or failed to; a failure (unknown
/// command, bad working_dir, unopenable log, unknown user, a privilege drop
/// that is not permitted) is errc::spawn_failed with the errno text, and the
/// failed child is already reaped.
///
/// The caller must reap the child (waitpid/waitid) once pidfd is readable.
spawn_result spawn_process(const spawn_request& req);

/// faultd::resolve_command (faultd/util.hpp), which config validation uses too.
using faultd::resolve_command;

} // namespace faultd::process
