#pragma once

// Helpers for faultd's tests: temporary directories, free loopback ports,
// waiting on a condition (never on a fixed sleep), running a command and
// capturing what it printed, and the paths of the built binaries.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace faultd::test {

/// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  /// path() + "/" + name
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
uint16_t free_port();

/// Polls `pred` every millisecond until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Writes `text` to `path` (truncating); throws on failure.
void write_file(const std::string& path, const std::string& text);

/// Reads a whole file ("" if missing).
std::string read_file(const std::string& path);

/// Result of running a command to completion.
struct run_result {
  int status = -1;    ///< exit status, or 128+signal
  std::string out;    ///< stdout
  std::string err;    ///< stderr
};

/// Runs argv (no shell), waits at most `timeout`, kills it after that.
run_result run(const std::vector<std::string>& argv,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// A process started in the background (own process group); killed with
/// SIGKILL on destruction unless it already exited.
class child_process {
public:
  /// Starts argv with stdout+stderr appended to `log_path` ("" = /dev/null).
  child_process(const std::vector<std::string>& argv, const std::string& log_path = "");
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  int pid() const { return pid_; }
  /// Sends a signal to the process.
  void signal(int sig);
  /// Waits for exit; returns status (exit code or 128+signal), -1 on timeout.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();

private:
  int pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

/// Paths of the built executables and of the source tree.
std::string faultd_bin();
std::string faultctl_bin();
std::string source_dir();

} // namespace faultd::test
