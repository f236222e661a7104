#pragma once

// Resource measurements from /proc and statvfs (CPU, memory, disk, load,
// open file descriptors) and thresholds with hysteresis that turn them into
// resource_exhaustion fault events.
//
// Where the numbers come from:
// - CPU busy %: the first ("cpu") line of /proc/stat, compared between two
//   samples: busy = user+nice+system+irq+softirq+steal, idle = idle+iowait
//   (guest time is already inside user/nice); busy% = d(busy) / d(busy+idle).
//   The first sample has nothing to compare with and gives no value.
// - memory used %: (MemTotal - MemAvailable) / MemTotal from /proc/meminfo
//   (MemFree + Buffers + Cached stands in for MemAvailable on old kernels).
// - disk used %: statvfs, computed as df does: used / (used + available to
//   unprivileged users), used = blocks - free blocks.
// - load: the 1-minute load average of /proc/loadavg divided by the number of
//   online CPUs (sysconf(_SC_NPROCESSORS_ONLN)).
// - fds: entries of /proc/self/fd as a percentage of the RLIMIT_NOFILE soft
//   limit.
// The /proc root, the fd limit and the CPU count are injectable so tests can
// feed crafted files.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks/health_tracker.hpp"
#include "faultd/config.hpp"
#include "faultd/domain.hpp"
#include "faultd/time.hpp"

namespace faultd::checks {

/// Where the sampler reads from.
struct proc_source {
  /// Directory holding stat, meminfo, loadavg and self/fd.
  std::string proc_root = "/proc";
  /// The open-file limit; 0 = the RLIMIT_NOFILE soft limit of this process.
  uint64_t fd_limit = 0;
  /// Online CPUs; 0 = sysconf(_SC_NPROCESSORS_ONLN).
  unsigned cpu_count = 0;
};

/// Cumulative CPU time (in USER_HZ ticks) from /proc/stat's "cpu" line.
struct cpu_times {
  uint64_t busy = 0;
  uint64_t idle = 0;
  uint64_t total() const { return busy + idle; }
};

struct memory_usage {
  uint64_t total_kb = 0;
  uint64_t available_kb = 0;
  double used_percent = 0;
};

struct disk_usage {
  std::string path;
  uint64_t total_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t available_bytes = 0;  ///< to unprivileged users
  double used_percent = 0;
};

struct load_usage {
  double load1 = 0;    ///< 1-minute load average
  unsigned cpus = 1;
  double per_core = 0; ///< load1 / cpus
};

struct fd_usage {
  uint64_t open = 0;
  uint64_t limit = 0;
  double used_percent = 0;
};

/// Parses /proc/stat's aggregate "cpu" line; nullopt if absent or malformed.
std::optional<cpu_times> parse_proc_stat(std::string_view text);

/// Busy percent between two readings; nullopt when no time passed or the
/// counters went backwards (a different boot, a crafted file).
std::optional<double> cpu_busy_percent(const cpu_times& before, const cpu_times& after);

/// Parses /proc/meminfo; nullopt without MemTotal (> 0) or a way to get the
/// available memory.
std::optional<memory_usage> parse_meminfo(std::string_view text);

/// Parses the 1-minute load average from /proc/loadavg.
std::optional<double> parse_loadavg(std::string_view text);

/// statvfs of `path`; nullopt with `error` set when it fails.
std::optional<disk_usage> read_disk_usage(const std::string& path, std::string& error);

/// One sample of every resource. A reading that failed is nullopt (absent
/// from `disks`) and has a line in `errors`.
struct resource_sample {
  std::optional<double> cpu_percent;  ///< nullopt on the first sample
  std::optional<memory_usage> memory;
  std::vector<disk_usage> disks;
  std::optional<load_usage> load;
  std::optional<fd_usage> fds;
  std::vector<std::string> errors;
};

/// Reads the resources. Keeps the previous CPU reading to compute deltas, so
/// one sampler belongs to one owner. Never throws; failures are in `errors`.
class resource_sampler {
public:
  explicit resource_sampler(proc_source src = {}, std::vector<std::string> disk_paths = {});

  /// Reads everything once.
  resource_sample sample();

  /// CPU busy % since the previous call (nullopt on the first call or when
  /// unreadable, with `error` set in the latter case).
  std::optional<double> read_cpu(std::string& error);
  std::optional<memory_usage> read_memory(std::string& error);
  std::optional<load_usage> read_load(std::string& error);
  std::optional<fd_usage> read_fds(std::string& error);

  const proc_source& source() const { return src_; }

private:
  proc_source src_;
  std::vector<std::string> disk_paths_;
  std::optional<cpu_times> last_cpu_;
};

/// Thresholds with hysteresis for every resource, producing
/// resource_exhaustion events.
///
/// A value >= critical counts as critical, >= warning as warning, anything
/// lower as ok (a warning of 0 means "use critical"; a threshold with both 0
/// or enabled = false is not watched). Per resource a health_tracker with the
/// threshold's failure_threshold / success_threshold decides: failure_threshold
/// consecutive samples at or above warning open a fault (severity critical if
/// they were all critical, medium otherwise; a later run of criticals
/// escalates it to critical); success_threshold consecutive samples below
/// warning clear it (clears = true). Missing readings are skipped, not counted.
///
/// Components: "resource:cpu", "resource:memory", "resource:disk:<path>",
/// "resource:load", "resource:fds". Metrics: "value" (the measurement),
/// "warning", "critical", "consecutive_failures"; details: resource, message.
/// Source "resources".
class resource_monitor {
public:
  /// REQUIRES: `clock` outlives the monitor.
  resource_monitor(const resources_config& cfg, std::string node, const clock_source& clock);

  /// Feeds one sample; returns the events its transitions caused.
  std::vector<fault_event> observe(const resource_sample& s);

  /// Feeds one value of one resource directly ("cpu", "memory", "load", "fds"
  /// or "disk:<path>"); returns the event it caused, if any.
  std::optional<fault_event> observe_value(const std::string& resource, double value);

  /// The state of a resource's tracker (unknown if never observed).
  health_state state(const std::string& resource) const;

private:
  const resource_threshold* threshold_for(const std::string& resource) const;

  resources_config cfg_;
  std::string node_;
  const clock_source* clock_;
  std::map<std::string, health_tracker> trackers_;  ///< by resource name
};

} // namespace faultd::checks
