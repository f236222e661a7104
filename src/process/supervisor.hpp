#pragma once

// The managed-process supervisor: faultd starts each configured service
// itself and starts it again the moment it dies.
//
// One dedicated thread runs an epoll loop over
//   - one pidfd per running child (readable the instant the child exits:
//     no polling, no SIGCHLD handler),
//   - an eventfd that wakes it for commands from other threads,
//   - a timerfd (CLOCK_MONOTONIC, absolute) armed for the earliest delayed
//     restart or stop-grace deadline.
// All fork/exec, reaping and state changes happen on that thread; callers
// post commands and get a std::future<status> back.
//
// Per service state machine:
//
//   unmanaged (empty command)
//   stopped/exited/failed --start--> starting --exec ok--> running
//                                        \--exec failed--> failed  (spawn_failed; no retry)
//   running --exit, policy says restart, guard quiet--> starting (at once)
//   running --exit, policy says restart, guard engaged--> backoff --timer--> starting
//   running --exit, policy says no--> exited
//   running --stop--> (SIGTERM to the group; SIGKILL after stop_grace) --exit--> stopped
//   backoff --stop--> stopped

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "faultd/config.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"
#include "process/restart_tracker.hpp"

namespace faultd::process {

/// Where a service stands.
enum class service_state : uint8_t { unmanaged, starting, running, backoff, stopped, exited, failed };

/// "unmanaged", "starting", "running", "backoff", "stopped", "exited", "failed".
std::string_view to_string(service_state s);

enum class event_kind : uint8_t {
  started,            ///< pid
  exited,             ///< pid, exit_code or signal, was_expected
  restart_scheduled,  ///< delay (zero = at once)
  storm,              ///< restarts_in_period, delay: the storm guard delays a restart
  spawn_failed,       ///< error
  stopped,            ///< an explicit stop (or shutdown) completed
};

/// "started", "exited", "restart-scheduled", "storm", "spawn-failed", "stopped".
std::string_view to_string(event_kind k);

/// Something that happened to a service. Fields not listed for a kind are
/// left at their defaults.
struct event {
  event_kind kind = event_kind::started;
  std::string service;
  timestamp at;                   ///< from the supervisor's clock_source
  uint32_t restarts = 0;          ///< restarts of the service so far
  int pid = 0;                    ///< started, exited
  std::optional<int> exit_code;   ///< exited normally
  std::optional<int> signal;      ///< killed by a signal
  bool was_expected = false;      ///< exited because of stop()/restart()/remove()/shutdown
  duration delay{0};              ///< restart_scheduled, storm
  uint32_t restarts_in_period = 0;///< storm
  std::string error;              ///< spawn_failed: what failed and errno text

  /// One line for logs: "exited service=db pid=12 signal=9 expected=false restarts=1".
  std::string to_string() const;
};

/// Receives events ON the supervisor thread. It must return quickly and must
/// not block or wait for the supervisor's futures (that would deadlock the
/// loop); hand the event to another thread or actor instead.
using event_listener = std::function<void(const event&)>;

/// A copy of one service's state.
struct service_snapshot {
  std::string name;
  service_state state = service_state::stopped;
  int pid = 0;               ///< 0 when not running
  uint32_t restarts = 0;     ///< automatic restarts plus restart() calls
  std::string last_exit;     ///< "exit 1", "signal 9", "" if it never exited
  std::optional<timestamp> started_at;  ///< of the current/last run
  std::vector<std::string> command;
};

struct supervisor_options {
  /// Each service's stdout+stderr go to <log_dir>/<name>.log (created if
  /// missing). "" = /dev/null.
  std::string log_dir;
  /// Timestamps of events and the storm guard's time (timers themselves
  /// always run on the real monotonic clock). Must outlive the supervisor.
  const clock_source* clock = &system_clock_source();
  /// Jitter of backoff delays; empty = default_random_source().
  random_source random;
  /// Called for every event (see event_listener). May be empty.
  event_listener listener;
};

/// Starts, watches and restarts managed processes. Thread-safe: every
/// command may be called from any thread. Futures complete on the supervisor
/// thread; a command issued after shutdown() completes at once with
/// errc::unavailable.
///
/// Children are killed by group (kill(-pgid)): when a service's main process
/// exits, whatever remains of its process group is SIGKILLed before the
/// restart, so a restarted service never races its own leftovers.
class supervisor {
public:
  /// Starts the supervisor thread. If the thread cannot start (epoll,
  /// eventfd or timerfd failing), every command completes with errc::io and
  /// init_status() says why.
  explicit supervisor(supervisor_options opts = {});
  /// shutdown().
  ~supervisor();
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  /// Ok, or why the event loop could not be set up.
  const status& init_status() const { return init_status_; }

  /// Adds a service and starts it unless its command is empty. Completes
  /// once it runs (ok), failed to spawn (spawn_failed), or was refused
  /// (bad_request: empty or duplicate name).
  std::future<status> add(service_config cfg);

  /// Starts a stopped, exited or failed service (forgetting its restart
  /// history); ends a backoff wait at once. Ok at once if already running.
  /// Completes when it runs or failed to spawn.
  std::future<status> start(const std::string& name);

  /// SIGTERM to the service's process group, SIGKILL after stop_grace; no
  /// restart follows. Completes when the process has been reaped.
  std::future<status> stop(const std::string& name);

  /// stop() then start(), counted in `restarts`. Completes when the new
  /// process runs (or failed to spawn).
  std::future<status> restart(const std::string& name);

  /// stop() then forgets the service. Completes when it is gone.
  std::future<status> remove(const std::string& name);

  /// Copies of all services' states, sorted by name.
  std::vector<service_snapshot> snapshot() const;

  /// One service's state; nullopt if unknown.
  std::optional<service_snapshot> snapshot(const std::string& name) const;

  /// Stops every service (SIGTERM, grace, SIGKILL), then ends and joins the
  /// thread. Idempotent; must not be called from the listener.
  void shutdown();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
  status init_status_;
  std::thread thread_;
  std::mutex shutdown_mtx_;
};

} // namespace faultd::process
