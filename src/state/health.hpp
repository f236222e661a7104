#pragma once

// The health board: the latest health of every service's checks, written by
// the check actors and read by the service actor (faultctl status), by
// recovery actions (restart_service waits until the restarted service's
// checks pass) and by embedding applications. Thread-safe.
//
// reset(service) marks a service's checks unknown and bumps its generation:
// a check actor that sees a new generation forgets its hysteresis, so
// "healthy" after a restart means healthy *since* the restart.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "faultd/status.hpp"

namespace faultd::state {

class health_board {
public:
  /// Declares a service and its checks (all unknown).
  void declare(const std::string& service, const std::vector<check_status>& checks);

  /// Forgets a service (removed from the config by a reload).
  void forget(const std::string& service);

  /// Records one check's latest status. Ignored if `generation` is older
  /// than the service's current one (a result from before a reset).
  void update(const std::string& service, const check_status& cs, uint64_t generation);

  /// The service's checks, sorted by name (empty if unknown service).
  std::vector<check_status> checks(const std::string& service) const;

  /// The service's current generation (0 at start).
  uint64_t generation(const std::string& service) const;

  /// Marks every check of `service` unknown; returns the new generation.
  uint64_t reset(const std::string& service);

  /// "healthy" if every check is healthy (or there are none), "unhealthy"
  /// if any is, "unknown" otherwise.
  std::string summary(const std::string& service) const;

  /// Calls `fn` (on the resetting thread, outside the lock) after every
  /// reset of `service`: check actors use it to re-check at once instead
  /// of at their next interval. `fn` must not block.
  void on_reset(const std::string& service, std::function<void()> fn);

  /// Waits until summary(service) is "healthy" or `deadline` passes.
  bool wait_healthy(const std::string& service, std::chrono::steady_clock::time_point deadline);

private:
  struct entry {
    uint64_t generation = 0;
    std::map<std::string, check_status> checks;
    std::vector<std::function<void()>> on_reset;
  };
  std::string summary_locked(const entry& e) const;

  mutable std::mutex mtx_;
  std::condition_variable changed_;
  std::map<std::string, entry> services_;
};

} // namespace faultd::state
