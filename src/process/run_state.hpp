#pragma once

// The running services of one faultd, recorded in <data_dir>/run/<service>
// so that the next faultd (after kill -9, an OOM kill or a crash) finds the
// processes its predecessor started and adopts them instead of starting a
// second copy. A record names a process by pid *and* start time *and* boot
// id: a recycled pid or a reboot never matches.
//
// Written on every start (write to a temporary file, then rename, so a
// reader sees the old record or the new one, never half of one), removed
// when the process is reaped. No fsync: the records matter across a crash
// of faultd, not across a crash of the machine (which ends the services
// too, and changes the boot id).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "faultd/error.hpp"

namespace faultd::process {

struct run_record {
  std::string service;
  int pid = 0;
  uint64_t start_ticks = 0;   ///< /proc/<pid>/stat starttime
  std::string boot_id;
  std::string token;          ///< FAULTD_INSTANCE of the process tree
  std::string command_hash;   ///< SHA-256 of the argv it runs (config changes)
  int stop_signal = 15;
};

/// SHA-256 over the argv, NUL-separated.
std::string command_hash(const std::vector<std::string>& argv);

/// The text form (one `key=value` per line) and back.
std::string format_run_record(const run_record& r);
std::optional<run_record> parse_run_record(const std::string& text);

class run_dir {
public:
  /// `dir` is created on first write. "" = recording off (every call is a no-op).
  explicit run_dir(std::string dir) : dir_(std::move(dir)) {}

  status write(const run_record& r) const;
  void remove(const std::string& service) const;
  /// The record of one service, if there is a readable one.
  std::optional<run_record> read(const std::string& service) const;
  /// Every readable record; unreadable or malformed files are skipped
  /// (and reported in `bad`, by file name, if given).
  std::vector<run_record> read_all(std::vector<std::string>* bad = nullptr) const;
  const std::string& path() const { return dir_; }

private:
  std::string file_of(const std::string& service) const;
  std::string dir_;
};

/// True if `r` still names a live process of this boot: same boot id, and
/// /proc/<pid>/stat exists, is not a zombie and has the recorded start time.
bool still_running(const run_record& r, const std::string& proc_root = "/proc");

} // namespace faultd::process
