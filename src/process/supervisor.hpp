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
// The per-service state machine lives in service_machine.hpp (a plain class
// tested on a manual clock); this file is its OS side.
//
// Across faultd's own crash: every running service is recorded in
// <data_dir>/run (run_state.hpp). A new faultd adopts the live processes of
// its predecessor (pid + start time + boot id, then pidfd_open) instead of
// starting second copies, and ends the recorded processes of services that
// are no longer configured. faultd is a child subreaper, and every process
// of a service carries FAULTD_INSTANCE=<token> in its environment, so the
// service's whole tree (also children that called setsid) is ended when the
// service stops or restarts.

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "faultd/config.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"
#include "process/restart_tracker.hpp"
#include "process/service_machine.hpp"

namespace faultd::process {

/// Receives events ON the supervisor thread. It must return quickly and must
/// not block or wait for the supervisor's futures (that would deadlock the
/// loop); hand the event to another thread or actor instead.
using event_listener = std::function<void(const event&)>;

struct supervisor_options {
  /// Each service's stdout+stderr go to <log_dir>/<name>.log (created if
  /// missing), rotated by size (the service's log_max_size and log_keep).
  /// "" = /dev/null.
  std::string log_dir;
  /// Where running services are recorded for adoption by the next faultd
  /// (see run_state.hpp). "" = no records, no adoption.
  std::string run_dir;
  /// Where an operator's stop is remembered (<held_dir>/<name>), so that the
  /// next faultd does not start that service either until an operator's
  /// start or restart. "" = not remembered across faultd restarts.
  std::string held_dir;
  /// Become the child subreaper of the process (orphaned descendants of
  /// services are reparented to faultd, which reaps them).
  bool subreaper = true;
  /// Timestamps of events, the storm guard's time and the deadlines; its
  /// steady_now() must be CLOCK_MONOTONIC's time (the timerfd waits on it),
  /// as system_clock_source()'s is. Must outlive the supervisor.
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
/// A service is its process tree: when its main process exits, whatever
/// remains of the tree is SIGKILLed before the restart, so a restarted
/// service never races its own leftovers.
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

  /// Adds a service and starts it unless its command is empty. If a live
  /// process of the service from a previous faultd is recorded, it is
  /// adopted instead (and restarted when its command changed). Completes
  /// once it runs (ok), failed to spawn (spawn_failed), or was refused
  /// (bad_request: empty or duplicate name).
  std::future<status> add(service_config cfg);

  /// Ends the recorded processes of a previous faultd whose services are
  /// not in `keep` (removed from the config while faultd was down): the
  /// stop signal, then SIGKILL after the default grace. Completes when they
  /// are gone.
  std::future<status> retire_others(std::set<std::string> keep);

  /// Starts a stopped, exited or failed service (forgetting its restart
  /// history); ends a backoff wait at once. Ok at once if already running.
  /// Completes when it runs or failed to spawn.
  std::future<status> start(const std::string& name);

  /// SIGCONT and the stop signal to the service's process tree, SIGKILL
  /// after stop_grace; no restart follows, and (with held_dir) the next
  /// faultd does not start it either, until start() or restart(). Completes
  /// when the process has been reaped and its tree is gone.
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
