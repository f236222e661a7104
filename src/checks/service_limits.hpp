#pragma once

// Per-service resource limits (`limits: {memory, cpu, fds}`), as monit has
// them: what a service's whole process tree uses, against what it may use.
// A plain class with no /proc in it: the resource detector measures (see
// process::measure_tree) and feeds the numbers in.
//
// Each limited resource has a health_tracker (failure_threshold samples over
// the limit to count, success_threshold below to recover). The service is
// over its limits while any of them counts: one resource_exhaustion fault
// (severity high, component = the service, so a strategy can act on the
// culprit) opens when the first resource crosses, is raised again when
// another joins, and clears once every resource is back under its limit.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checks/health_tracker.hpp"
#include "faultd/config.hpp"
#include "faultd/domain.hpp"
#include "faultd/time.hpp"

namespace faultd::checks {

/// One measurement of a service's tree; a missing value is not judged.
struct service_usage {
  std::optional<uint64_t> memory_bytes;
  std::optional<double> cpu_percent;  ///< of one core, since the previous sample
  std::optional<uint64_t> fds;
  size_t processes = 0;
};

/// CPU percent of one core used between two readings of cumulative ticks
/// `elapsed` apart (`hz` ticks a second); nullopt if no time passed or the
/// counter went backwards (another process tree).
std::optional<double> cpu_percent_between(uint64_t ticks_before, uint64_t ticks_after,
                                          duration elapsed, long hz);

/// "512MiB", "1.5GiB", "800KiB", "12B".
std::string format_bytes(uint64_t bytes);

class service_limit_monitor {
public:
  /// REQUIRES: `clock` outlives the monitor.
  service_limit_monitor(std::string node, const clock_source& clock);

  /// Feeds one sample of `service`; returns the fault event it caused, if any.
  std::optional<fault_event> observe(const std::string& service, const service_limits& limits,
                                     const service_usage& usage);

  /// Forgets a service (it stopped: a new process starts with a clean slate).
  void forget(const std::string& service);

  /// The resources of `service` over their limit now.
  std::set<std::string> over(const std::string& service) const;

private:
  struct per_service {
    std::map<std::string, health_tracker> trackers;  ///< "memory", "cpu", "fds"
    std::set<std::string> over;
  };
  std::string node_;
  const clock_source* clock_;
  std::map<std::string, per_service> services_;
};

} // namespace faultd::checks
