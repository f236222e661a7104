#pragma once

// What faultd reads about processes from /proc: a process's identity (so a
// recorded pid is only trusted while it still names the same process), the
// members of a service's process tree, and a zombie's exit status. Plain
// functions over a /proc root that tests may point elsewhere.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace faultd::process {

/// The fields of /proc/<pid>/stat faultd uses.
struct proc_stat {
  int pid = 0;
  std::string comm;          ///< the command name (up to 15 characters)
  char state = '?';          ///< R, S, D, Z, T, ...
  int ppid = 0;
  int pgid = 0;
  int sid = 0;
  uint64_t utime_ticks = 0;  ///< user CPU, clock ticks
  uint64_t stime_ticks = 0;  ///< system CPU, clock ticks
  uint64_t start_ticks = 0;  ///< start time after boot, clock ticks
  uint64_t rss_pages = 0;
  std::optional<int> exit_code; ///< waitpid-style status (Linux >= 3.5), for zombies
};

/// Parses the text of a /proc/<pid>/stat file (the comm field may contain
/// spaces and parentheses). nullopt if malformed.
std::optional<proc_stat> parse_proc_stat(const std::string& text);

/// Reads /proc/<pid>/stat. nullopt if the process does not exist.
std::optional<proc_stat> read_proc_stat(int pid, const std::string& proc_root = "/proc");

/// This boot's id (/proc/sys/kernel/random/boot_id), "" if unreadable. A pid
/// recorded under another boot id names nothing.
std::string boot_id(const std::string& proc_root = "/proc");

/// The environment variable that marks every process of one service
/// instance; children inherit it, also the ones that call setsid().
inline constexpr const char* instance_env = "FAULTD_INSTANCE";

/// Where process_tree looks for token holders.
enum class token_scope : uint8_t {
  /// Every process on the machine (a tree faultd did not start itself:
  /// its escaped members were reparented to init, not to faultd).
  everywhere,
  /// Only faultd's own children: with faultd as the subreaper, a member of
  /// a tree it started is either a descendant of a live member or, once its
  /// parent died, faultd's child. Reads far fewer environments.
  reparented_to_self,
};

/// The members of a service's process tree, each with the stat it was found
/// with (so a later signal can be checked against the start time): the
/// members of process group `root` (zombies too), `root` and its
/// descendants by parent pid, and every process whose environment holds
/// FAULTD_INSTANCE=<token> (descendants that escaped by setsid), with their
/// descendants. REQUIRES: `root` is 0 (unknown) or names the tree's live or
/// not yet reaped main process: a reaped pid may already name a stranger.
/// Never includes the calling process. Sorted by pid.
std::vector<proc_stat> process_tree(int root, const std::string& token,
                                    token_scope scope = token_scope::everywhere,
                                    const std::string& proc_root = "/proc");

/// Open fds of a process (entries of /proc/<pid>/fd); nullopt if unreadable.
std::optional<uint64_t> count_fds(int pid, const std::string& proc_root = "/proc");

} // namespace faultd::process
