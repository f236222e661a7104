#pragma once

// The state machine of one managed service as a plain class: it decides,
// the supervisor (supervisor.cpp) acts on the OS. Inputs are commands (start,
// stop) and what the OS reported (spawned, spawn failed, adopted, exited, a
// deadline passed); each returns the steps to take, in order. Time comes
// from an injected clock_source (its steady_now() for deadlines), so the
// machine is tested on a manual clock with no process in sight.
//
//   unmanaged (empty command): no transitions
//   stopped/exited/failed --start--> starting --spawned--> running
//                                        \--spawn failed--> failed
//   (a restart by policy) starting --spawn failed--> backoff (storm guard)
//   (a new faultd) --adopted--> running
//   running --exit, policy restarts, guard quiet--> starting (at once)
//   running --exit, policy restarts, guard engaged--> backoff --deadline--> starting
//   running --exit, policy does not restart--> exited
//   running --stop--> stopping: SIGCONT, then stop_signal, to the whole tree;
//                     SIGKILL to the tree at the stop_grace deadline
//   stopping --exit--> stopped (never restarted until the next start)
//   backoff --stop--> stopped
//
// Whenever the main process has exited, what is left of its tree (group
// members, descendants that called setsid) is swept with SIGKILL, before a
// restart, so a restarted service never races its own leftovers.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "faultd/config.hpp"
#include "faultd/time.hpp"
#include "process/restart_tracker.hpp"

namespace faultd::process {

/// Where a service stands.
enum class service_state : uint8_t {
  unmanaged, starting, running, backoff, stopped, exited, failed, stopping
};

/// "unmanaged", "starting", "running", "backoff", "stopped", "exited", "failed", "stopping".
std::string_view to_string(service_state s);

enum class event_kind : uint8_t {
  started,            ///< pid
  exited,             ///< pid, exit_code or signal, was_expected, will_restart
  restart_scheduled,  ///< delay (zero = at once)
  storm,              ///< restarts_in_period, delay: the storm guard delays a restart
  spawn_failed,       ///< error
  stopped,            ///< an explicit stop (or shutdown) completed
  adopted,            ///< pid: a process of faultd's previous incarnation, supervised again
};

/// "started", "exited", "restart-scheduled", "storm", "spawn-failed", "stopped", "adopted".
std::string_view to_string(event_kind k);

/// Something that happened to a service. Fields not listed for a kind are
/// left at their defaults.
struct event {
  event_kind kind = event_kind::started;
  std::string service;
  timestamp at;                   ///< from the machine's clock_source
  uint32_t restarts = 0;          ///< restarts of the service so far
  int pid = 0;                    ///< started, exited, adopted
  std::optional<int> exit_code;   ///< exited normally
  std::optional<int> signal;      ///< killed by a signal (neither: status unknown)
  bool was_expected = false;      ///< exited because of stop()/restart()/remove()/shutdown
  bool will_restart = false;      ///< exited: the restart policy restarts it
  duration delay{0};              ///< restart_scheduled, storm
  uint32_t restarts_in_period = 0;///< storm
  std::string error;              ///< spawn_failed: what failed and errno text

  /// One line for logs: "exited service=db pid=12 signal=9 expected=false restarts=1".
  std::string to_string() const;
};

/// How a process ended; neither field set = unknown (an adopted process,
/// which is not faultd's child, so its status may be gone).
struct exit_info {
  std::optional<int> code;
  std::optional<int> signal;
  bool clean() const { return code && *code == 0; }
};

/// A copy of one service's state.
struct service_snapshot {
  std::string name;
  service_state state = service_state::stopped;
  int pid = 0;               ///< 0 when not running
  uint32_t restarts = 0;     ///< automatic restarts plus restart() calls
  std::string last_exit;     ///< "exit 1", "signal 9", "unknown", "" if it never exited
  std::optional<int> exit_code;   ///< of the last exit
  std::optional<int> exit_signal; ///< of the last exit
  std::optional<timestamp> started_at;  ///< of the current/last run
  bool adopted = false;      ///< the current process was started by a previous faultd
  std::string token;         ///< FAULTD_INSTANCE of the current process tree
  std::vector<std::string> command;
};

/// One thing the supervisor must do.
struct step {
  enum kind_t : uint8_t {
    spawn,        ///< start the process; report spawned() or spawn_failed()
    signal_tree,  ///< send `sig` to the running process's group and tree
    sweep_tree,   ///< SIGKILL what is left of the tree of `pid`/`token` (its main process is gone)
    notify,       ///< deliver `ev` to listeners
  };
  kind_t kind = notify;
  int sig = 0;
  int pid = 0;
  std::string token;
  event ev;
};

class service_machine {
public:
  using steady_point = std::chrono::steady_clock::time_point;

  /// REQUIRES: `clock` outlives the machine.
  service_machine(service_config cfg, const clock_source& clock, random_source random);

  const service_config& config() const { return cfg_; }
  service_state state() const { return state_; }
  int pid() const { return pid_; }
  const std::string& token() const { return token_; }
  bool stopping() const { return state_ == service_state::stopping; }
  uint32_t restarts() const { return restarts_; }
  service_snapshot snapshot() const;

  /// Start it (REQUIRES: a command, and no process: pid() == 0). An
  /// operator's start forgets the restart history, except during a
  /// backoff, which it only cuts short.
  std::vector<step> start(bool by_operator);

  /// Counts a restart asked for by someone (restart()).
  void count_restart() { ++restarts_; }

  /// Stop it: to `stopping` when a process runs, else straight to stopped.
  std::vector<step> stop();

  /// The spawn succeeded: `pid` runs with FAULTD_INSTANCE=`token`.
  std::vector<step> spawned(int pid, std::string token);
  std::vector<step> spawn_failed(const std::string& error);

  /// A process of the previous faultd, started at `started_at`, now watched.
  std::vector<step> adopted(int pid, std::string token, timestamp started_at);

  /// The main process exited. During a shutdown nothing is restarted.
  std::vector<step> exited(const exit_info& x, bool shutting_down);

  /// A deadline (stop grace, backoff end) may have passed.
  std::vector<step> deadline_passed();

  /// The earliest pending deadline.
  std::optional<steady_point> next_deadline() const;

private:
  event make_event(event_kind k) const;
  step notify(event e) const;

  service_config cfg_;
  const clock_source* clock_;
  restart_tracker tracker_;
  service_state state_;
  int pid_ = 0;
  std::string token_;
  bool adopted_ = false;
  uint32_t restarts_ = 0;
  std::string last_exit_;
  std::optional<int> exit_code_;
  std::optional<int> exit_signal_;
  std::optional<timestamp> started_at_;
  std::optional<steady_point> restart_due_;  ///< backoff ends
  std::optional<steady_point> kill_due_;     ///< stop grace ends
  bool automatic_ = false;                   ///< the pending spawn is a restart by policy
};

} // namespace faultd::process
