// How fast is a SIGKILLed managed service running again?
//
// Measures the same thing, the same way, for faultd and for supervisord:
// the managed service is this binary in helper mode (`--service STAMPFILE`),
// which on start appends "<pid> <CLOCK_REALTIME ns>\n" to the stamp file and
// then sleeps. The bench reads the newest pid, takes t0 = CLOCK_REALTIME,
// SIGKILLs it, waits (inotify, 10 s cap) for a line with another pid, and
// records stamp_ns - t0: death noticed, reaped, forked, exec'd, dynamically
// linked and main() entered.
//
//   bench_restart_latency [--kills N] [--inprocess] [--faultd PATH]
//                         [--only faultd|supervisord] [--keep]
//
// --keep leaves the scratch directories (configs, daemon logs) behind.
// A third line, runner "direct-spawn", is the floor: the bench starts the
// helper itself and waits for its stamp, so the helper's own exec and
// dynamic-linking time shows apart from what a supervisor adds.
//
// --inprocess measures faultd::process::supervisor inside this process
// instead of the real faultd binary (a fallback while the daemon cannot run
// managed services; its figures are labelled "faultd-inprocess").
//
// Prints one JSON object per line; exit status 1 if a runner failed.
// Kills are spaced 30 ms apart so that each supervisor has settled.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "faultd/config.hpp"
#include "faultd/log.hpp"
#include "process/supervisor.hpp"

extern char** environ;

namespace {

using clock_ms = std::chrono::milliseconds;

int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

/// Helper mode: stamp and sleep until killed.
[[noreturn]] void run_service(const char* stamp_path) {
  int64_t ns = realtime_ns();
  int fd = ::open(stamp_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    ::_exit(3);
  char line[64];
  int n = std::snprintf(line, sizeof(line), "%d %lld\n", static_cast<int>(::getpid()),
                        static_cast<long long>(ns));
  if (n <= 0 || ::write(fd, line, static_cast<size_t>(n)) != n)
    ::_exit(4);
  ::close(fd);
  for (;;)
    ::pause();
}

struct stamp {
  int pid = 0;
  int64_t ns = 0;
};

std::optional<stamp> last_stamp(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::optional<stamp> last;
  while (std::getline(in, line)) {
    stamp s;
    long long ns = 0;
    if (std::sscanf(line.c_str(), "%d %lld", &s.pid, &ns) == 2) {
      s.ns = ns;
      last = s;
    }
  }
  return last;
}

/// Watches the stamp file for a line whose pid differs from `not_pid`.
class stamp_watch {
public:
  explicit stamp_watch(std::string path) : path_(std::move(path)) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
      ::close(fd);
    ifd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd_ >= 0 && ::inotify_add_watch(ifd_, path_.c_str(), IN_MODIFY) < 0) {
      ::close(ifd_);
      ifd_ = -1;
    }
  }
  ~stamp_watch() {
    if (ifd_ >= 0)
      ::close(ifd_);
  }
  bool ok() const { return ifd_ >= 0; }

  /// The newest stamp with pid != not_pid, or nullopt after `timeout`.
  std::optional<stamp> wait_new(int not_pid, clock_ms timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto s = last_stamp(path_);
      if (s && s->pid != not_pid)
        return s;
      auto left = std::chrono::duration_cast<clock_ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{ifd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0) {
        char buf[4096];
        while (::read(ifd_, buf, sizeof(buf)) > 0) {
        }
      }
    }
  }

private:
  std::string path_;
  int ifd_ = -1;
};

struct result {
  std::string runner;
  std::vector<double> latencies_ms;
  std::string error;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

void print_result(const result& r, int kills) {
  if (!r.error.empty() || r.latencies_ms.empty()) {
    std::printf("{\"bench\":\"restart_latency\",\"runner\":\"%s\",\"error\":\"%s\"}\n", r.runner.c_str(),
                json_escape(r.error.empty() ? "no measurements" : r.error).c_str());
  } else {
    std::printf("{\"bench\":\"restart_latency\",\"runner\":\"%s\",\"kills\":%d,\"p50_ms\":%.3f,"
                "\"p99_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f}\n",
                r.runner.c_str(), kills, percentile(r.latencies_ms, 0.5), percentile(r.latencies_ms, 0.99),
                *std::min_element(r.latencies_ms.begin(), r.latencies_ms.end()),
                *std::max_element(r.latencies_ms.begin(), r.latencies_ms.end()));
  }
  std::fflush(stdout);
}

/// Kills the service `kills` times and records how long each restart took.
/// `alive` says whether the supervisor under test still runs.
void measure(stamp_watch& watch, int kills, result& r, const std::function<bool()>& alive) {
  auto first = watch.wait_new(0, clock_ms(10'000));
  if (!first) {
    r.error = alive() ? "service never started within 10s" : "supervisor exited before starting the service";
    return;
  }
  int pid = first->pid;
  for (int i = 0; i < kills; ++i) {
    // Let the supervisor settle (register the new child) before the next kill;
    // not part of the measurement.
    std::this_thread::sleep_for(clock_ms(30));
    int64_t t0 = realtime_ns();
    if (::kill(pid, SIGKILL) != 0) {
      r.error = "kill " + std::to_string(pid) + ": " + std::strerror(errno);
      return;
    }
    auto next = watch.wait_new(pid, clock_ms(10'000));
    if (!next) {
      r.error = "no restart within 10s after kill " + std::to_string(i + 1);
      return;
    }
    r.latencies_ms.push_back(static_cast<double>(next->ns - t0) / 1e6);
    pid = next->pid;
  }
}

/// --keep: leave the scratch directories (configs, daemon logs) for a look.
bool keep_scratch = false;

/// A temporary directory, removed with its contents at exit (unless --keep).
class scratch_dir {
public:
  scratch_dir() {
    char tmpl[] = "/tmp/faultd-bench-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr)
      path_ = tmpl;
  }
  ~scratch_dir() {
    if (!path_.empty() && keep_scratch) {
      std::fprintf(stderr, "bench-scratch-kept dir=%s\n", path_.c_str());
    } else if (!path_.empty()) {
      std::string cmd = "rm -rf '" + path_ + "'";
      if (std::system(cmd.c_str()) != 0)
        std::fprintf(stderr, "bench-cleanup-failed dir=%s\n", path_.c_str());
    }
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& n) const { return path_ + "/" + n; }

private:
  std::string path_;
};

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::trunc};
  out << text;
  return static_cast<bool>(out);
}

/// A daemon under test, started with output to a log file.
class daemon_process {
public:
  daemon_process(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (log >= 0)
      ::close(log);
  }
  ~daemon_process() { stop(); }

  bool alive() {
    if (pid_ <= 0 || reaped_)
      return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      reaped_ = true;
      status_ = st;
      return false;
    }
    return true;
  }

  /// SIGTERM, up to 15 s to exit, then SIGKILL to its whole group.
  void stop() {
    if (pid_ <= 0 || reaped_)
      return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (alive() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(clock_ms(10));
    if (!reaped_) {
      std::fprintf(stderr, "bench-daemon-stop-timeout pid=%d\n", pid_);
      ::kill(-pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
      reaped_ = true;
    }
  }
  int pid() const { return pid_; }

private:
  int pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

/// Kills whatever helper is still running (a supervisor that died first).
void kill_leftover(const std::string& stamp_path) {
  auto s = last_stamp(stamp_path);
  if (s && s->pid > 0)
    ::kill(s->pid, SIGKILL);
}

std::string self_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return {};
  buf[n] = '\0';
  return buf;
}

result run_faultd_binary(const std::string& faultd_bin, const std::string& self, int kills) {
  result r{"faultd", {}, {}};
  scratch_dir dir;
  if (dir.path().empty())
    return r.error = "mkdtemp failed", r;
  if (::access(faultd_bin.c_str(), X_OK) != 0)
    return r.error = "faultd binary not found at " + faultd_bin, r;
  std::string stamp_path = dir.file("stamps");
  stamp_watch watch{stamp_path};
  if (!watch.ok())
    return r.error = "inotify failed", r;
  std::ostringstream yaml;
  yaml << "node:\n"
       << "  id: bench\n"
       << "  data_dir: \"" << dir.file("data") << "\"\n"
       << "services:\n"
       << "  - name: svc\n"
       << "    command: [\"" << self << "\", \"--service\", \"" << stamp_path << "\"]\n"
       << "    restart:\n"
       << "      policy: always\n"
       << "      burst: 1000\n"
       << "      period: 60s\n";
  std::string config_path = dir.file("faultd.yaml");
  if (!write_text(config_path, yaml.str()))
    return r.error = "cannot write " + config_path, r;
  {
    daemon_process d{{faultd_bin, "--config", config_path}, dir.file("faultd.log")};
    measure(watch, kills, r, [&] { return d.alive(); });
    bool was_alive = d.alive();
    d.stop();
    if (!r.error.empty() && !was_alive)
      r.error += " (faultd exited; rerun with --keep to read " + dir.file("faultd.log") + ")";
  }
  kill_leftover(stamp_path);
  return r;
}

result run_faultd_inprocess(const std::string& self, int kills) {
  result r{"faultd-inprocess", {}, {}};
  scratch_dir dir;
  if (dir.path().empty())
    return r.error = "mkdtemp failed", r;
  std::string stamp_path = dir.file("stamps");
  stamp_watch watch{stamp_path};
  if (!watch.ok())
    return r.error = "inotify failed", r;
  faultd::log::set_level("warn");
  faultd::process::supervisor_options opts;
  opts.log_dir = dir.file("logs");
  faultd::process::supervisor sup{opts};
  if (!sup.init_status().ok())
    return r.error = sup.init_status().to_string(), r;
  faultd::service_config svc;
  svc.name = "svc";
  svc.command = {self, "--service", stamp_path};
  svc.restart.policy = faultd::restart_policy::always;
  svc.restart.burst = 1000;
  auto st = sup.add(svc).get();
  if (!st.ok())
    return r.error = st.to_string(), r;
  measure(watch, kills, r, [] { return true; });
  sup.shutdown();
  return r;
}

/// The floor no supervisor can beat: this process starts the helper itself
/// (posix_spawn, t0 taken just before) and waits for its stamp. The helper's
/// own exec + dynamic-linking time dominates it.
result run_direct(const std::string& self, int kills) {
  result r{"direct-spawn", {}, {}};
  scratch_dir dir;
  if (dir.path().empty())
    return r.error = "mkdtemp failed", r;
  std::string stamp_path = dir.file("stamps");
  stamp_watch watch{stamp_path};
  if (!watch.ok())
    return r.error = "inotify failed", r;
  std::string flag = "--service";
  char* args[] = {const_cast<char*>(self.c_str()), const_cast<char*>(flag.c_str()),
                  const_cast<char*>(stamp_path.c_str()), nullptr};
  int prev = 0;
  for (int i = 0; i < kills; ++i) {
    std::this_thread::sleep_for(clock_ms(30));
    pid_t pid = 0;
    int64_t t0 = realtime_ns();
    int rc = ::posix_spawn(&pid, self.c_str(), nullptr, nullptr, args, environ);
    if (rc != 0)
      return r.error = std::string{"posix_spawn: "} + std::strerror(rc), r;
    auto s = watch.wait_new(prev, clock_ms(10'000));
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!s)
      return r.error = "helper did not stamp within 10s", r;
    r.latencies_ms.push_back(static_cast<double>(s->ns - t0) / 1e6);
    prev = s->pid;
  }
  return r;
}

result run_supervisord(const std::string& self, int kills) {
  result r{"supervisord", {}, {}};
  scratch_dir dir;
  if (dir.path().empty())
    return r.error = "mkdtemp failed", r;
  std::string stamp_path = dir.file("stamps");
  stamp_watch watch{stamp_path};
  if (!watch.ok())
    return r.error = "inotify failed", r;
  std::ostringstream conf;
  conf << "[supervisord]\n"
       << "nodaemon=true\n"
       << "logfile=" << dir.file("supervisord.log") << "\n"
       << "pidfile=" << dir.file("supervisord.pid") << "\n"
       << "childlogdir=" << dir.path() << "\n"
       << "user=" << (::getuid() == 0 ? "root" : std::to_string(::getuid())) << "\n"
       << "[unix_http_server]\n"
       << "file=" << dir.file("supervisor.sock") << "\n"
       << "[program:svc]\n"
       << "command=" << self << " --service " << stamp_path << "\n"
       << "autorestart=true\n"
       << "startsecs=0\n"
       << "startretries=1000\n"
       << "stdout_logfile=" << dir.file("svc.log") << "\n"
       << "redirect_stderr=true\n";
  std::string conf_path = dir.file("supervisord.conf");
  if (!write_text(conf_path, conf.str()))
    return r.error = "cannot write " + conf_path, r;
  {
    daemon_process d{{"/usr/bin/supervisord", "-n", "-c", conf_path}, dir.file("supervisord.out")};
    measure(watch, kills, r, [&] { return d.alive(); });
    d.stop();
  }
  kill_leftover(stamp_path);
  return r;
}

void usage() {
  std::fprintf(stderr,
               "usage: bench_restart_latency [--kills N] [--inprocess] [--faultd PATH] "
               "[--only faultd|supervisord] [--keep]\n"
               "       bench_restart_latency --service STAMPFILE   (helper mode)\n");
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--service") == 0)
    run_service(argv[2]);

  int kills = 25;
  bool inprocess = false;
  std::string faultd_bin = FAULTD_BIN;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--kills" && i + 1 < argc) {
      kills = std::atoi(argv[++i]);
    } else if (a == "--keep") {
      keep_scratch = true;
    } else if (a == "--inprocess") {
      inprocess = true;
    } else if (a == "--faultd" && i + 1 < argc) {
      faultd_bin = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      usage();
      return 2;
    }
  }
  if (kills < 1 || (!only.empty() && only != "faultd" && only != "supervisord")) {
    usage();
    return 2;
  }
  // The managed service: the static stamp helper when it was built (the
  // default), else this binary in helper mode (slower to start: dynamic
  // loading of faultd's libraries).
  std::string self = STAMP_SERVICE_BIN;
  if (::access(self.c_str(), X_OK) != 0)
    self = self_path();
  if (self.empty()) {
    std::fprintf(stderr, "bench-self-path-failed\n");
    return 1;
  }
  // Helpers killed with SIGKILL are children of the supervisors, not ours;
  // a daemon we start dies before we reap it, so nothing else to set up.

  bool failed = false;
  std::optional<result> fd, sd, direct;
  if (only.empty()) {
    direct = run_direct(self, kills);
    print_result(*direct, kills);
  }
  if (only.empty() || only == "faultd") {
    fd = inprocess ? run_faultd_inprocess(self, kills) : run_faultd_binary(faultd_bin, self, kills);
    print_result(*fd, kills);
    failed |= !fd->error.empty();
  }
  if (only.empty() || only == "supervisord") {
    if (::access("/usr/bin/supervisord", X_OK) != 0) {
      std::printf("{\"bench\":\"restart_latency\",\"runner\":\"supervisord\",\"error\":\"not installed\"}\n");
      return failed ? 1 : 0;
    }
    sd = run_supervisord(self, kills);
    print_result(*sd, kills);
    failed |= !sd->error.empty();
  }
  if (fd && sd && fd->error.empty() && sd->error.empty()) {
    double f = percentile(fd->latencies_ms, 0.5);
    double s = percentile(sd->latencies_ms, 0.5);
    std::printf("{\"bench\":\"restart_latency\",\"speedup_p50\":%.1f", f > 0 ? s / f : 0.0);
    // What faultd adds on top of merely starting the helper.
    if (direct && direct->error.empty())
      std::printf(",\"faultd_over_direct_p50_ms\":%.3f", f - percentile(direct->latencies_ms, 0.5));
    std::printf("}\n");
  }
  return failed ? 1 : 0;
}
