#pragma once

// The threads recovery actions run on.
//
// An executor may block as long as it likes, and a custom one may ignore its
// deadline. So the incident supervisor never calls it itself: it starts the
// call here, on a thread of its own, and waits for the outcome as a message,
// with a timer. When the timer fires first the supervisor releases the
// worker (counted as a failed attempt) and goes on; the call runs on to its
// end and its outcome is dropped.
//
// A worker belongs to the execution and the step it runs (its key), not to
// the supervisor that started it: when that supervisor stops (it crashed,
// or the recovery manager was restarted) the worker runs on unowned, and the
// supervisor that resumes the execution attaches to it instead of running
// the action a second time. An outcome that arrives while nobody owns the
// worker is kept for the next owner.
//
// Thread-safe. Not an actor: owners receive outcomes through a callback
// (the supervisor's sends a message to itself).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actions/executor.hpp"

namespace faultd::actions {

/// Which step of which execution a worker runs.
struct worker_key {
  std::string execution_id;
  bool rollback = false; ///< false: the action's execute(); true: its rollback()
  size_t index = 0;      ///< the action's position in the strategy
};

/// A worker's outcome, as delivered to its owner.
struct worker_outcome {
  bool ok = false;
  std::string error;         ///< why it failed ("" when ok)
  std::string rollback_data; ///< execute(): what rollback() needs
  std::string note;          ///< execute(): one line of what was done
};

class action_workers : public std::enable_shared_from_this<action_workers> {
public:
  using clock = std::chrono::steady_clock;
  /// Called (under the board's lock: keep it short, e.g. send a message)
  /// with the worker's ticket and outcome.
  using deliver_fn = std::function<void(uint64_t ticket, const worker_outcome&)>;
  /// The call a worker makes.
  using work_fn = std::function<worker_outcome()>;

  /// A worker's ticket and the deadline it was started with.
  struct attached {
    uint64_t ticket = 0;
    clock::time_point deadline;
  };

  /// Runs `work` on a new thread for `key`, owned by `owner` (any id unique
  /// to the owner) which `deliver` tells of the outcome. An exception
  /// thrown by `work` is a failed outcome naming it. Returns the ticket.
  /// REQUIRES: the board is owned by a std::shared_ptr (the thread keeps it).
  uint64_t start(const worker_key& key, clock::time_point deadline, uint64_t owner,
                 deliver_fn deliver, work_fn work);

  /// A worker started for exactly `key` and not released yet becomes
  /// `owner`'s: a running one delivers to it when it ends, a finished one
  /// delivers at once. nullopt if there is none.
  std::optional<attached> attach(const worker_key& key, uint64_t owner, deliver_fn deliver);

  /// Whether a worker for exactly `key` is waiting to be released (running,
  /// or finished with an outcome nobody took yet).
  bool pending(const worker_key& key) const;

  /// The owner has the outcome, or stopped waiting for it (timeout): the
  /// board forgets the worker; a running one runs on, its outcome dropped.
  /// Only the worker's current owner releases it (a stale one is ignored).
  void release(uint64_t ticket, uint64_t owner);

  /// `owner` stops: its workers run on with nobody to tell until a new
  /// owner attaches.
  void detach(uint64_t owner);

  /// Worker threads still running (released or not).
  size_t running() const;

  /// Waits until no worker thread runs or `until` passes; true if none runs.
  bool wait_idle(clock::time_point until) const;

private:
  struct entry {
    worker_key key;
    clock::time_point deadline;
    uint64_t owner = 0;
    deliver_fn deliver;
    std::optional<worker_outcome> outcome;
  };

  void finished(uint64_t ticket, worker_outcome out);

  mutable std::mutex mtx_;
  mutable std::condition_variable idle_;
  std::map<uint64_t, entry> entries_; // GUARDED_BY(mtx_)
  uint64_t next_ticket_ = 1;          // GUARDED_BY(mtx_)
  size_t running_ = 0;                // GUARDED_BY(mtx_)
};

/// Runs `ex`'s execute (or, with key.rollback, its rollback with
/// `rollback_data`) as a worker's call, turning its result into an outcome.
/// A null `ex` fails with "no executor registered for <type>".
action_workers::work_fn executor_call(std::shared_ptr<action_executor> ex, recovery_action a,
                                      action_context ctx, bool rollback,
                                      std::string rollback_data);

} // namespace faultd::actions
