#pragma once

// What processes use, from /proc: the sum over one service's process tree
// (for its `limits:`), and the node's biggest consumers (named in the
// details of a node-wide memory or CPU fault, so the operator sees the
// culprit, not only the symptom).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace faultd::process {

struct tree_usage {
  uint64_t rss_bytes = 0;
  uint64_t cpu_ticks = 0;  ///< utime + stime of the live members, clock ticks
  uint64_t fds = 0;
  size_t processes = 0;
};

/// Sums the members of process_tree(root, token).
tree_usage measure_tree(int root, const std::string& token, const std::string& proc_root = "/proc");

/// Clock ticks per second (sysconf(_SC_CLK_TCK)).
long clock_ticks_per_second();

/// One process as the consumer list shows it.
struct consumer {
  int pid = 0;
  std::string name;     ///< command name
  std::string service;  ///< FAULTD_SERVICE of a managed service's process, else ""
  uint64_t rss_bytes = 0;
  double cpu_percent = 0;  ///< of one core since the previous scan (0 on the first)
  /// "mosquitto(pid 812, service broker)".
  std::string label() const;
};

/// Scans every process; keeps the previous scan to turn CPU ticks into
/// percentages. One owner (the resource detector).
class consumer_tracker {
public:
  explicit consumer_tracker(std::string proc_root = "/proc") : root_(std::move(proc_root)) {}

  /// Reads /proc once.
  void scan();

  /// The `n` largest by resident memory / by CPU since the previous scan,
  /// largest first, with their service looked up.
  std::vector<consumer> top_memory(size_t n) const;
  std::vector<consumer> top_cpu(size_t n) const;

private:
  struct seen {
    uint64_t start_ticks = 0;
    uint64_t cpu_ticks = 0;
  };
  std::string root_;
  std::vector<consumer> last_;
  std::map<int, seen> prev_;
  std::chrono::steady_clock::time_point prev_at_{};
  std::vector<consumer> top(size_t n, bool by_cpu) const;
};

} // namespace faultd::process
