#pragma once

// One faultd per data dir: an exclusive flock(2) on <data_dir>/faultd.lock,
// held for as long as the object lives (the kernel drops it when the process
// dies, also on SIGKILL, so a stale lock file never blocks a restart). The
// file holds the owner's pid, so the refusal names who holds it.

#include <string>

#include "faultd/error.hpp"

namespace faultd::process {

class data_dir_lock {
public:
  data_dir_lock() = default;
  ~data_dir_lock();
  data_dir_lock(data_dir_lock&& other) noexcept;
  data_dir_lock& operator=(data_dir_lock&& other) noexcept;
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;

  /// Takes the lock of `data_dir` (which must exist) without waiting.
  /// errc::unavailable "data dir D is in use by another faultd (pid N)" if
  /// another process (or another lock object) holds it; errc::io if the
  /// lock file cannot be opened or written.
  status acquire(const std::string& data_dir);

  bool held() const { return fd_ >= 0; }

  /// The lock file's path: <data_dir>/faultd.lock.
  static std::string path_of(const std::string& data_dir);

private:
  int fd_ = -1;
};

} // namespace faultd::process
