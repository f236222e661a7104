// How long until the survivors of a three-node cluster list a crashed or a
// hung node dead, for faultd and for Serf (Debian's `serf`, default LAN
// profile), measured the same way in the same run; and how many bytes of
// heartbeat traffic an idle faultd node sends.
//
// Detection, per trial and per runner: a fresh scratch directory, three
// nodes on 127.0.0.1 (free ports picked by binding port 0), joined through
// the first one; faultd with its default cluster timing (no
// heartbeat_interval, phi_threshold, ... in the configs), Serf with its
// default LAN profile. Once every node lists the two others alive (and
// 1s more, so that the failure detectors have some history), the bench takes
// t0 (steady clock) and sends SIGKILL ("sigkill": a crash) or SIGSTOP
// ("sigstop": a hang) to the second node, never the seed. Two threads then
// query the two survivors, each its own, every ~5ms (`faultctl --json
// members` / `serf members -format=json`) until the victim is listed `dead`
// (faultd) or `failed` (Serf's word for it). A survivor's time is the end of
// the first query that listed the victim dead (so one query late at most:
// query_p50_ms says how long one takes); the trial's figure is the later of
// the two survivors. More than 30s counts as a failure. Afterwards the
// victim gets SIGCONT and SIGKILL, the survivors SIGTERM (SIGKILL after
// 10s). Each case prints the median, min and max of its trials.
//
// Heartbeat traffic, once per run: three faultd nodes up and idle (2s after
// they all list each other alive), `ss -tin` sampled at the start and the end
// of a 10s window for the established TCP sockets from or to the three peer
// ports; the growth of each socket's bytes_sent (bytes_acked where the kernel
// has no bytes_sent), summed, divided by 3 nodes and the window's length.
// TCP payload only (no TCP/IP headers). Without `ss` it prints an error line
// and the run does not fail for it.
//
//   bench_membership [--trials N] [--only faultd|serf] [--keep]
//                    [--faultd PATH] [--faultctl PATH] [--serf PATH]
//
// --trials: trials per case and runner (default 5). --keep leaves the
// scratch directories (configs, daemon output) behind. --serf defaults to
// `serf` in PATH; without it the Serf runner prints an error line and is
// skipped. Nothing here listens or connects anywhere but 127.0.0.1.
//
// Prints one JSON object per line, and a readable summary per case on
// stderr; exit status 1 if a runner failed. Every daemon started runs in its
// own process group and dies with the bench (PR_SET_PDEATHSIG, and a
// SIGINT/SIGTERM/SIGHUP handler that kills them all).

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "faultd/time.hpp"

extern char** environ;

namespace {

using clk = std::chrono::steady_clock;
using clock_ms = std::chrono::milliseconds;

constexpr auto start_limit = std::chrono::seconds(20);    ///< the seed answering
constexpr auto converge_limit = std::chrono::seconds(30); ///< all alive everywhere
constexpr auto settle = std::chrono::seconds(1);          ///< after that, before the kill
constexpr auto detection_cap = std::chrono::seconds(30);  ///< longer: the trial failed
constexpr auto poll_gap = clock_ms(5);                    ///< between two queries
constexpr auto stop_grace = std::chrono::seconds(10);     ///< SIGTERM, then SIGKILL
constexpr auto traffic_settle = std::chrono::seconds(2);
constexpr auto traffic_window = std::chrono::seconds(10);
constexpr size_t victim = 1;                 ///< the second node, not the seed
constexpr size_t observers[] = {0, 2};       ///< the survivors queried

double ms_between(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// "590ms", "6.5s": faultd's own formatting.
std::string human_ms(double ms) {
  return faultd::human_duration(faultd::duration(std::llround(ms * 1e6)));
}

std::string human(clk::duration d) {
  return faultd::human_duration(std::chrono::duration_cast<faultd::duration>(d));
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
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

std::string json_array(const std::vector<double>& xs) {
  std::string s = "[";
  char buf[384];
  for (size_t i = 0; i < xs.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%s%.3f", i == 0 ? "" : ",", xs[i]);
    s += buf;
  }
  return s + "]";
}

// -- child processes ----------------------------------------------------------

/// Daemons still running, for the signal handler (0: a free slot).
std::atomic<int> g_daemons[32];

void register_daemon(int pid) {
  for (auto& slot : g_daemons) {
    int expected = 0;
    if (slot.compare_exchange_strong(expected, pid))
      return;
  }
}

void unregister_daemon(int pid) {
  for (auto& slot : g_daemons) {
    int expected = pid;
    if (slot.compare_exchange_strong(expected, 0))
      return;
  }
}

/// SIGINT/SIGTERM/SIGHUP: kill every daemon (and its group), then leave.
/// Scratch directories stay behind.
void on_fatal_signal(int sig) {
  for (auto& slot : g_daemons) {
    int pid = slot.load();
    if (pid > 0) {
      ::kill(-pid, SIGCONT);
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  }
  ::_exit(128 + sig);
}

/// A daemon under test: its own process group, output to a log file, and
/// SIGKILLed when the bench dies.
class daemon_process {
public:
  daemon_process(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(SIGKILL));
      if (::getppid() != parent)
        ::_exit(126);
      int in = ::open("/dev/null", O_RDONLY);
      if (in > 0) {
        ::dup2(in, 0);
        ::close(in);
      }
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (pid_ > 0) {
      ::setpgid(pid_, pid_); // also here: no window where kill(-pid) misses it
      register_daemon(pid_);
    }
    if (log_fd >= 0)
      ::close(log_fd);
  }
  ~daemon_process() { kill_now(); }
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  bool started() const { return pid_ > 0; }
  int pid() const { return pid_; }

  bool alive() {
    if (pid_ <= 0 || reaped_)
      return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      unregister_daemon(pid_);
      return false;
    }
    return true;
  }

  void send(int sig) const {
    if (pid_ > 0 && !reaped_)
      ::kill(pid_, sig);
  }

  /// SIGCONT (a stopped one), SIGKILL to the whole group, reaped.
  void kill_now() {
    if (pid_ <= 0 || reaped_)
      return;
    unregister_daemon(pid_);
    ::kill(-pid_, SIGCONT);
    ::kill(pid_, SIGCONT);
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

private:
  int pid_ = -1;
  bool reaped_ = false;
};

/// SIGTERM to all (SIGCONT first), up to `stop_grace` to exit, then SIGKILL.
void stop_all(const std::vector<daemon_process*>& ds) {
  for (auto* d : ds) {
    d->send(SIGCONT);
    d->send(SIGTERM);
  }
  auto deadline = clk::now() + stop_grace;
  for (;;) {
    bool any = false;
    for (auto* d : ds)
      if (d->alive())
        any = true;
    if (!any || clk::now() >= deadline)
      break;
    std::this_thread::sleep_for(clock_ms(10));
  }
  for (auto* d : ds) {
    if (d->alive()) {
      std::fprintf(stderr, "bench-daemon-stop-timeout pid=%d\n", d->pid());
      d->kill_now();
    }
  }
}

struct run_output {
  int status = -1; ///< exit code; -1: not started, killed or timed out
  std::string out; ///< stdout (stderr goes to /dev/null)
};

/// Runs a short command (faultctl, serf members, ss), thread-safe.
run_output run_capture(const std::vector<std::string>& argv, clock_ms timeout) {
  run_output r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return r;
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return r;
  }
  auto deadline = clk::now() + timeout;
  bool timed_out = false;
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<clock_ms>(deadline - clk::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno != EINTR) {
      timed_out = true;
      break;
    }
    if (pr <= 0)
      continue;
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n > 0)
      r.out.append(buf, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(fds[0]);
  if (timed_out)
    ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!timed_out && WIFEXITED(st))
    r.status = WEXITSTATUS(st);
  return r;
}

/// `name` itself if it has a slash, else the first executable in PATH
/// (then the sbin directories); "" if none.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? name : std::string{};
  const char* env = std::getenv("PATH");
  std::string path = env != nullptr && *env != '\0' ? env : "/usr/bin:/bin";
  path += ":/usr/sbin:/sbin";
  size_t from = 0;
  for (;;) {
    size_t end = path.find(':', from);
    std::string dir = path.substr(from, end == std::string::npos ? std::string::npos : end - from);
    if (dir.empty())
      dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (end == std::string::npos)
      return {};
    from = end + 1;
  }
}

// -- scratch files, ports -----------------------------------------------------

/// --keep: leave the scratch directories (configs, daemon output) for a look.
bool keep_scratch = false;

/// A temporary directory, removed with its contents at exit (unless --keep).
class scratch_dir {
public:
  scratch_dir() {
    char tmpl[] = "/tmp/faultd-membership-XXXXXX";
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
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
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

/// The last non-empty line of a daemon's output, for error messages.
std::string log_tail(const std::string& path) {
  std::ifstream in{path};
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      last = line;
  if (last.size() > 300)
    last = last.substr(last.size() - 300);
  return last.empty() ? "(no output)" : last;
}

/// `n` distinct free TCP ports on 127.0.0.1 (`udp_too`: free for UDP as
/// well, as Serf binds both), or none. All are held until all are found.
std::vector<uint16_t> pick_ports(size_t n, bool udp_too) {
  std::vector<int> held;
  std::vector<uint16_t> ports;
  for (int attempt = 0; attempt < 100 && ports.size() < n; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t < 0)
      break;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
        || ::getsockname(t, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(t);
      continue;
    }
    held.push_back(t); // held even when its UDP twin is taken: not picked again
    if (udp_too) {
      int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (u < 0)
        continue;
      if (::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(u);
        continue;
      }
      held.push_back(u);
    }
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : held)
    ::close(fd);
  if (ports.size() != n)
    ports.clear();
  return ports;
}

// -- membership lists -----------------------------------------------------------

using member_states = std::map<std::string, std::string>;

/// Minimal JSON reading: for every object in `json` with string fields
/// `id_key` and `state_key`, id -> state. Nested objects and arrays are
/// their own scopes; non-string values are skipped.
member_states parse_members(const std::string& json, const std::string& id_key,
                            const std::string& state_key) {
  member_states out;
  std::vector<std::map<std::string, std::string>> scopes; // open objects, innermost last
  std::string key;                                        // awaiting its value
  size_t i = 0;
  const size_t n = json.size();
  while (i < n) {
    char c = json[i];
    if (c == '{') {
      scopes.emplace_back();
      key.clear();
      ++i;
    } else if (c == '}') {
      if (!scopes.empty()) {
        const auto& o = scopes.back();
        auto id = o.find(id_key);
        auto st = o.find(state_key);
        if (id != o.end() && st != o.end())
          out[id->second] = st->second;
        scopes.pop_back();
      }
      key.clear();
      ++i;
    } else if (c == '"') {
      std::string s;
      ++i;
      while (i < n && json[i] != '"') {
        if (json[i] == '\\' && i + 1 < n)
          ++i;
        s += json[i++];
      }
      ++i; // the closing quote
      size_t j = i;
      while (j < n && std::isspace(static_cast<unsigned char>(json[j])))
        ++j;
      if (j < n && json[j] == ':') {
        key = std::move(s);
        i = j + 1;
      } else {
        if (!key.empty() && !scopes.empty())
          scopes.back()[key] = std::move(s);
        key.clear();
      }
    } else {
      if (c == '[' || c == ',')
        key.clear();
      ++i;
    }
  }
  return out;
}

/// Three nodes of one runner. procs[i] is node ids[i].
struct cluster {
  std::vector<std::string> ids;
  std::vector<std::string> logs;
  std::vector<uint16_t> peer_ports;
  std::string dead_word; ///< "dead" (faultd), "failed" (Serf)
  /// Node i's member list (id -> state); nullopt if the query failed.
  std::function<std::optional<member_states>(size_t)> members;
  std::vector<std::unique_ptr<daemon_process>> procs; // last: killed first
};

std::string exited_message(const cluster& c, size_t i) {
  return c.ids[i] + " exited: " + log_tail(c.logs[i]) + " (rerun with --keep to read " + c.logs[i]
         + ")";
}

/// Empty if every node still runs.
std::string check_running(cluster& c) {
  for (size_t i = 0; i < c.procs.size(); ++i)
    if (!c.procs[i]->alive())
      return exited_message(c, i);
  return {};
}

/// Until node i answers a member query.
std::string wait_answering(cluster& c, size_t i) {
  auto deadline = clk::now() + start_limit;
  for (;;) {
    if (!c.procs[i]->alive())
      return exited_message(c, i);
    if (c.members(i))
      return {};
    if (clk::now() >= deadline)
      return c.ids[i] + " did not answer within " + human(start_limit) + ": " + log_tail(c.logs[i]);
    std::this_thread::sleep_for(clock_ms(20));
  }
}

/// Until every node lists the others alive.
std::string wait_converged(cluster& c) {
  auto deadline = clk::now() + converge_limit;
  for (;;) {
    if (auto e = check_running(c); !e.empty())
      return e;
    std::string missing; // what is still not so, for the error
    for (size_t i = 0; i < c.ids.size() && missing.empty(); ++i) {
      auto states = c.members(i);
      if (!states) {
        missing = c.ids[i] + " did not answer";
        break;
      }
      for (size_t j = 0; j < c.ids.size() && missing.empty(); ++j) {
        if (j == i)
          continue;
        auto it = states->find(c.ids[j]);
        if (it == states->end())
          missing = c.ids[i] + " does not list " + c.ids[j];
        else if (it->second != "alive")
          missing = c.ids[i] + " lists " + c.ids[j] + " " + it->second;
      }
    }
    if (missing.empty())
      return {};
    if (clk::now() >= deadline)
      return "the nodes did not all list each other alive within " + human(converge_limit) + " ("
             + missing + ")";
    std::this_thread::sleep_for(clock_ms(50));
  }
}

struct tools {
  std::string faultd, faultctl, serf, ss;
};

/// Starts n1 (the seed), waits for it to answer, then n2 and n3.
std::string start_faultd(const tools& t, const scratch_dir& dir, cluster& c) {
  auto ports = pick_ports(3, false);
  if (ports.size() != 3)
    return "no free ports on 127.0.0.1";
  c.ids = {"n1", "n2", "n3"};
  c.peer_ports = ports;
  c.dead_word = "dead";
  std::vector<std::string> configs, nodes;
  for (size_t i = 0; i < 3; ++i) {
    const auto& id = c.ids[i];
    std::ostringstream yaml;
    yaml << "node:\n"
         << "  id: " << id << "\n"
         << "  listen: 127.0.0.1:" << ports[i] << "\n"
         << "  data_dir: " << dir.file(id) << "\n"
         << "cluster:\n"
         << "  seeds: [127.0.0.1:" << ports[0] << "]\n"
         << "services: []\n"
         << "fault_detection:\n"
         << "  resources: {enabled: false}\n"
         << "  security: {enabled: false}\n";
    configs.push_back(dir.file(id + ".yaml"));
    if (!write_text(configs.back(), yaml.str()))
      return "cannot write " + configs.back();
    c.logs.push_back(dir.file(id + ".out"));
    nodes.push_back("unix:" + dir.file(id) + "/control.sock");
  }
  std::string faultctl = t.faultctl;
  c.members = [faultctl, nodes](size_t i) -> std::optional<member_states> {
    auto r = run_capture({faultctl, "--node", nodes[i], "--timeout", "2s", "--json", "members"},
                         clock_ms(5000));
    if (r.status != 0)
      return std::nullopt;
    return parse_members(r.out, "id", "state");
  };
  for (size_t i = 0; i < 3; ++i) {
    std::vector<std::string> argv{t.faultd, "--config", configs[i]};
    c.procs.push_back(std::make_unique<daemon_process>(argv, c.logs[i]));
    if (!c.procs.back()->started())
      return "cannot start " + t.faultd + ": " + std::strerror(errno);
    if (i == 0)
      if (auto e = wait_answering(c, 0); !e.empty())
        return e;
  }
  return {};
}

/// Starts s1, waits for its RPC port, then s2 and s3 joining s1.
std::string start_serf(const tools& t, const scratch_dir& dir, cluster& c) {
  auto ports = pick_ports(6, true); // 3 bind (TCP+UDP), 3 RPC
  if (ports.size() != 6)
    return "no free ports on 127.0.0.1";
  c.ids = {"s1", "s2", "s3"};
  c.peer_ports.assign(ports.begin(), ports.begin() + 3);
  c.dead_word = "failed";
  std::vector<std::string> rpc;
  for (size_t i = 0; i < 3; ++i) {
    rpc.push_back("-rpc-addr=127.0.0.1:" + std::to_string(ports[3 + i]));
    c.logs.push_back(dir.file(c.ids[i] + ".out"));
  }
  std::string serf = t.serf;
  c.members = [serf, rpc](size_t i) -> std::optional<member_states> {
    auto r = run_capture({serf, "members", rpc[i], "-format=json"}, clock_ms(5000));
    if (r.status != 0)
      return std::nullopt;
    return parse_members(r.out, "name", "status");
  };
  for (size_t i = 0; i < 3; ++i) {
    std::vector<std::string> argv{t.serf,
                                  "agent",
                                  "-node=" + c.ids[i],
                                  "-bind=127.0.0.1:" + std::to_string(ports[i]),
                                  rpc[i],
                                  "-log-level=warn"};
    if (i > 0)
      argv.push_back("-join=127.0.0.1:" + std::to_string(ports[0]));
    c.procs.push_back(std::make_unique<daemon_process>(argv, c.logs[i]));
    if (!c.procs.back()->started())
      return "cannot start " + t.serf + ": " + std::strerror(errno);
    if (i == 0)
      if (auto e = wait_answering(c, 0); !e.empty())
        return e;
  }
  return {};
}

using starter = std::string (*)(const tools&, const scratch_dir&, cluster&);

// -- detection trials -------------------------------------------------------------

struct watch_result {
  double detected_ms = -1; ///< -1: not within detection_cap
  std::vector<double> query_ms;
};

/// Queries one survivor until it lists the victim dead (or the cap).
void watch_for_death(const cluster& c, size_t observer, clk::time_point t0, watch_result& out) {
  const std::string& target = c.ids[victim];
  for (;;) {
    auto q0 = clk::now();
    auto states = c.members(observer);
    auto q1 = clk::now();
    out.query_ms.push_back(ms_between(q0, q1));
    if (states) {
      auto it = states->find(target);
      if (it != states->end() && it->second == c.dead_word) {
        out.detected_ms = ms_between(t0, q1);
        return;
      }
    }
    if (q1 - t0 >= detection_cap)
      return;
    std::this_thread::sleep_for(poll_gap);
  }
}

/// One trial: a fresh cluster, `sig` to the victim, the later survivor's time.
std::optional<double> run_trial(const tools& t, starter start, int sig,
                                 std::vector<double>& query_ms, std::string& error) {
  scratch_dir dir; // declared first: removed after every node is gone
  if (dir.path().empty()) {
    error = "mkdtemp failed";
    return std::nullopt;
  }
  cluster c; // its destructor SIGKILLs whatever still runs, on every path
  error = start(t, dir, c);
  if (error.empty())
    error = wait_converged(c);
  if (!error.empty())
    return std::nullopt;
  std::this_thread::sleep_for(settle);
  if (error = check_running(c); !error.empty())
    return std::nullopt;

  watch_result seen[2];
  auto t0 = clk::now();
  if (::kill(c.procs[victim]->pid(), sig) != 0) {
    error = std::string{"kill: "} + std::strerror(errno);
    return std::nullopt;
  }
  std::thread first{[&] { watch_for_death(c, observers[0], t0, seen[0]); }};
  std::thread second{[&] { watch_for_death(c, observers[1], t0, seen[1]); }};
  first.join();
  second.join();

  c.procs[victim]->kill_now(); // SIGCONT, SIGKILL
  std::vector<daemon_process*> survivors;
  std::string exited;
  for (size_t i : observers) {
    if (!c.procs[i]->alive() && exited.empty())
      exited = exited_message(c, i);
    survivors.push_back(c.procs[i].get());
  }
  stop_all(survivors);

  double worst = 0;
  for (size_t k = 0; k < 2; ++k) {
    query_ms.insert(query_ms.end(), seen[k].query_ms.begin(), seen[k].query_ms.end());
    if (seen[k].detected_ms < 0 && error.empty())
      error = c.ids[observers[k]] + " did not list " + c.ids[victim] + " " + c.dead_word
              + " within " + human(detection_cap) + (exited.empty() ? "" : " (" + exited + ")");
    worst = std::max(worst, seen[k].detected_ms);
  }
  if (!error.empty())
    return std::nullopt;
  return worst;
}

struct case_result {
  std::string runner; ///< faultd | serf
  std::string name;   ///< sigkill | sigstop
  std::vector<double> samples_ms;
  std::vector<double> query_ms;
  std::string error;
};

case_result run_case(const tools& t, const std::string& runner, starter start,
                     const std::string& name, int sig, int trials) {
  case_result r{runner, name, {}, {}, {}};
  for (int i = 0; i < trials; ++i) {
    std::string error;
    auto ms = run_trial(t, start, sig, r.query_ms, error);
    if (!ms) {
      r.error = "trial " + std::to_string(i + 1) + ": " + error;
      std::fprintf(stderr, "%s %s %d/%d: failed: %s\n", runner.c_str(), name.c_str(), i + 1,
                   trials, error.c_str());
      break;
    }
    r.samples_ms.push_back(*ms);
    std::fprintf(stderr, "%s %s %d/%d: %s\n", runner.c_str(), name.c_str(), i + 1, trials,
                 human_ms(*ms).c_str());
  }
  return r;
}

void print_case(const case_result& r) {
  if (!r.error.empty() || r.samples_ms.empty()) {
    std::printf("{\"bench\":\"membership\",\"runner\":\"%s\",\"case\":\"%s\",\"error\":\"%s\","
                "\"samples_ms\":%s}\n",
                r.runner.c_str(), r.name.c_str(),
                json_escape(r.error.empty() ? "no measurements" : r.error).c_str(),
                json_array(r.samples_ms).c_str());
  } else {
    std::printf("{\"bench\":\"membership\",\"runner\":\"%s\",\"case\":\"%s\",\"trials\":%zu,"
                "\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,\"samples_ms\":%s,"
                "\"query_p50_ms\":%.3f}\n",
                r.runner.c_str(), r.name.c_str(), r.samples_ms.size(), median(r.samples_ms),
                *std::min_element(r.samples_ms.begin(), r.samples_ms.end()),
                *std::max_element(r.samples_ms.begin(), r.samples_ms.end()),
                json_array(r.samples_ms).c_str(), median(r.query_ms));
  }
  std::fflush(stdout);
}

void print_runner_error(const std::string& runner, const std::string& error) {
  std::printf("{\"bench\":\"membership\",\"runner\":\"%s\",\"error\":\"%s\"}\n", runner.c_str(),
              json_escape(error).c_str());
  std::fflush(stdout);
}

// -- heartbeat traffic --------------------------------------------------------------

/// "127.0.0.1:7101" or "[::1]:7101", not "rto:204".
bool is_address(const std::string& tok) {
  size_t colon = tok.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == tok.size())
    return false;
  for (size_t i = colon + 1; i < tok.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(tok[i])))
      return false;
  if (tok[0] == '[')
    return tok[colon - 1] == ']';
  for (size_t i = 0; i < colon; ++i)
    if (!std::isdigit(static_cast<unsigned char>(tok[i])) && tok[i] != '.')
      return false;
  return true;
}

struct socket_counts {
  int64_t sent = -1;  ///< bytes_sent, -1: not shown
  int64_t acked = -1; ///< bytes_acked, -1: not shown
  int64_t value() const { return sent >= 0 ? sent : acked; }
};

/// "local peer" -> counters, from `ss -tinH` output: a socket is its two
/// adjacent addresses, followed (on the info line) by its counters.
std::map<std::string, socket_counts> parse_ss(const std::string& text) {
  std::map<std::string, socket_counts> out;
  std::istringstream in{text};
  std::string tok, pending, key;
  auto number = [](const std::string& s, size_t skip) {
    return static_cast<int64_t>(std::strtoll(s.c_str() + skip, nullptr, 10));
  };
  while (in >> tok) {
    if (is_address(tok)) {
      if (pending.empty()) {
        pending = tok;
      } else {
        key = pending + " " + tok;
        pending.clear();
        out[key] = socket_counts{};
      }
      continue;
    }
    pending.clear();
    if (key.empty())
      continue;
    if (tok.compare(0, 11, "bytes_sent:") == 0)
      out[key].sent = number(tok, 11);
    else if (tok.compare(0, 12, "bytes_acked:") == 0)
      out[key].acked = number(tok, 12);
  }
  return out;
}

std::optional<std::map<std::string, socket_counts>> ss_snapshot(const std::string& ss,
                                                                const std::vector<uint16_t>& ports) {
  std::string filter = "(";
  for (size_t i = 0; i < ports.size(); ++i) {
    auto p = std::to_string(ports[i]);
    filter += std::string{i == 0 ? " " : " or "} + "sport = :" + p + " or dport = :" + p;
  }
  filter += " )";
  auto r = run_capture({ss, "-tinH", "state", "established", filter}, clock_ms(5000));
  if (r.status != 0)
    return std::nullopt;
  return parse_ss(r.out);
}

struct traffic_result {
  std::string error;
  bool fatal = false; ///< the cluster failed, not the measuring tool
  double bytes_per_node_per_s = 0;
  double window_s = 0;
  int64_t bytes = 0;
  size_t sockets = 0;
  bool acked_only = false; ///< no bytes_sent: bytes_acked counted
};

traffic_result run_traffic(const tools& t) {
  traffic_result tr;
  if (t.ss.empty()) {
    tr.error = "ss (iproute2) not installed";
    return tr;
  }
  scratch_dir dir;
  if (dir.path().empty()) {
    tr.error = "mkdtemp failed";
    tr.fatal = true;
    return tr;
  }
  cluster c;
  tr.error = start_faultd(t, dir, c);
  if (tr.error.empty())
    tr.error = wait_converged(c);
  if (!tr.error.empty()) {
    tr.fatal = true;
    return tr;
  }
  std::this_thread::sleep_for(traffic_settle);
  auto before = ss_snapshot(t.ss, c.peer_ports);
  auto w0 = clk::now();
  if (!before) {
    tr.error = "ss -tinH state established failed";
  } else {
    std::this_thread::sleep_for(traffic_window);
    auto after = ss_snapshot(t.ss, c.peer_ports);
    auto w1 = clk::now();
    if (auto e = check_running(c); !e.empty()) {
      tr.error = e;
      tr.fatal = true;
    } else if (!after) {
      tr.error = "ss -tinH state established failed";
    } else if (after->empty()) {
      tr.error = "ss showed no connection between the nodes";
    } else {
      tr.window_s = std::chrono::duration<double>(w1 - w0).count();
      tr.sockets = after->size();
      for (const auto& [key, counts] : *after) {
        int64_t end = counts.value();
        if (end < 0)
          continue;
        if (counts.sent < 0)
          tr.acked_only = true;
        auto was = before->find(key);
        int64_t start = was == before->end() ? -1 : was->second.value();
        tr.bytes += (start >= 0 && end >= start) ? end - start : end; // new socket: all of it
      }
      tr.bytes_per_node_per_s = static_cast<double>(tr.bytes) / 3.0 / tr.window_s;
    }
  }
  std::vector<daemon_process*> all;
  for (auto& p : c.procs)
    all.push_back(p.get());
  stop_all(all);
  return tr;
}

/// The false-positive soak: 3 nodes for `seconds`; n1 (the observer) pinned
/// to CPU 1 at nice 19 beside busy loops of stress-ng at nice 0 on the same
/// CPU, n2 and n3 on CPU 0. Every second each node's member list is read;
/// any healthy node marked dead (or suspect) anywhere is counted, and so is
/// every "to=dead" in the nodes' logs.
struct soak_result {
  std::string error;
  int seconds = 0;
  int samples = 0;
  int dead_seen = 0;     ///< samples in which some node listed another dead
  int suspect_seen = 0;  ///< ... suspect
  int dead_logged = 0;   ///< member-state-changed ... to=dead lines
  int max_local_health = 0;
};

int count_in(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

soak_result run_soak(const tools& t, int seconds) {
  soak_result out;
  out.seconds = seconds;
  auto stress = find_program("stress-ng");
  auto taskset = find_program("taskset");
  auto renice = find_program("renice");
  if (stress.empty() || taskset.empty() || renice.empty()) {
    out.error = "the soak needs stress-ng, taskset and renice";
    return out;
  }
  scratch_dir dir;
  cluster c;
  out.error = start_faultd(t, dir, c);
  if (out.error.empty())
    out.error = wait_converged(c);
  if (!out.error.empty())
    return out;
  for (size_t i = 0; i < 3; ++i) {
    auto pid = std::to_string(c.procs[i]->pid());
    run_capture({taskset, "-a", "-p", "-c", i == 0 ? "1" : "0", pid}, clock_ms(5000));
  }
  run_capture({renice, "-n", "19", "-g", std::to_string(c.procs[0]->pid())}, clock_ms(5000));
  daemon_process load({stress, "--cpu", "2", "--taskset", "1", "--timeout",
                       std::to_string(seconds + 5) + "s", "--quiet"},
                      dir.file("stress-ng.out"));
  auto end = clk::now() + std::chrono::seconds(seconds);
  std::string faultctl = t.faultctl;
  while (clk::now() < end) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (auto e = check_running(c); !e.empty()) {
      out.error = e;
      break;
    }
    ++out.samples;
    bool dead = false, suspect = false;
    for (size_t i = 0; i < 3; ++i) {
      auto node = "unix:" + dir.file(c.ids[i]) + "/control.sock";
      auto r = run_capture({faultctl, "--node", node, "--timeout", "5s", "--json", "members"},
                           clock_ms(8000));
      dead |= r.out.find("\"state\":\"dead\"") != std::string::npos;
      suspect |= r.out.find("\"state\":\"suspect\"") != std::string::npos;
      auto h = r.out.find("\"local_health\":");
      if (h != std::string::npos)
        out.max_local_health = std::max(out.max_local_health, std::atoi(r.out.c_str() + h + 15));
    }
    out.dead_seen += dead ? 1 : 0;
    out.suspect_seen += suspect ? 1 : 0;
  }
  load.kill_now();
  for (auto& log : c.logs) {
    std::ifstream in{log};
    std::stringstream text;
    text << in.rdbuf();
    out.dead_logged += count_in(text.str(), "to=dead");
  }
  std::vector<daemon_process*> all;
  for (auto& p : c.procs)
    all.push_back(p.get());
  stop_all(all);
  return out;
}

void usage() {
  std::fprintf(stderr, "usage: bench_membership [--trials N] [--only faultd|serf] [--keep]\n"
                       "                        [--soak SECONDS] (the false-positive soak only)\n"
                       "                        [--faultd PATH] [--faultctl PATH] [--serf PATH]\n");
}

} // namespace

int main(int argc, char** argv) {
  int trials = 5;
  int soak_seconds = 0;
  std::string only;
  std::string serf_arg = "serf";
  tools t;
  t.faultd = FAULTD_BIN;
  t.faultctl = FAULTCTL_BIN;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--trials" && i + 1 < argc) {
      trials = std::atoi(argv[++i]);
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--soak" && i + 1 < argc) {
      soak_seconds = std::atoi(argv[++i]);
    } else if (a == "--keep") {
      keep_scratch = true;
    } else if (a == "--faultd" && i + 1 < argc) {
      t.faultd = argv[++i];
    } else if (a == "--faultctl" && i + 1 < argc) {
      t.faultctl = argv[++i];
    } else if (a == "--serf" && i + 1 < argc) {
      serf_arg = argv[++i];
    } else {
      usage();
      return 2;
    }
  }
  if (trials < 1 || (!only.empty() && only != "faultd" && only != "serf")) {
    usage();
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    ::sigaction(sig, &sa, nullptr);
  t.serf = find_program(serf_arg);
  t.ss = find_program("ss");
  if (soak_seconds > 0) {
    auto r = run_soak(t, soak_seconds);
    std::printf("{\"bench\":\"membership\",\"runner\":\"faultd\",\"metric\":\"soak\","
                "\"seconds\":%d,\"samples\":%d,\"healthy_marked_dead\":%d,\"suspect_samples\":%d,"
                "\"dead_transitions_logged\":%d,\"max_local_health\":%d,\"error\":\"%s\"}\n",
                r.seconds, r.samples, r.dead_seen, r.suspect_seen, r.dead_logged,
                r.max_local_health, json_escape(r.error).c_str());
    std::fprintf(stderr, "soak %ds, observer starved: %d samples with a node marked dead, %d "
                         "with a suspect, %d deaths logged, local health up to %d\n",
                 r.seconds, r.dead_seen, r.suspect_seen, r.dead_logged, r.max_local_health);
    return r.error.empty() && r.dead_seen == 0 && r.dead_logged == 0 ? 0 : 1;
  }

  struct test_case {
    const char* name;
    int sig;
  };
  const test_case cases[] = {{"sigkill", SIGKILL}, {"sigstop", SIGSTOP}};
  bool failed = false;
  std::map<std::string, double> faultd_median, serf_median;

  bool run_faultd = only.empty() || only == "faultd";
  bool faultd_ok = run_faultd;
  if (run_faultd) {
    if (::access(t.faultd.c_str(), X_OK) != 0) {
      print_runner_error("faultd", "faultd binary not found at " + t.faultd);
      faultd_ok = false;
    } else if (::access(t.faultctl.c_str(), X_OK) != 0) {
      print_runner_error("faultd", "faultctl binary not found at " + t.faultctl);
      faultd_ok = false;
    }
    failed |= !faultd_ok;
    for (const auto& tc : cases) {
      if (!faultd_ok)
        break;
      auto r = run_case(t, "faultd", start_faultd, tc.name, tc.sig, trials);
      print_case(r);
      failed |= !r.error.empty();
      if (r.error.empty() && !r.samples_ms.empty())
        faultd_median[tc.name] = median(r.samples_ms);
    }
  }
  if (only.empty() || only == "serf") {
    if (t.serf.empty()) {
      print_runner_error("serf", serf_arg == "serf" ? "serf not installed"
                                                    : "serf not found at " + serf_arg);
    } else {
      for (const auto& tc : cases) {
        auto r = run_case(t, "serf", start_serf, tc.name, tc.sig, trials);
        print_case(r);
        failed |= !r.error.empty();
        if (r.error.empty() && !r.samples_ms.empty())
          serf_median[tc.name] = median(r.samples_ms);
      }
    }
  }
  if (faultd_ok) {
    auto tr = run_traffic(t);
    if (!tr.error.empty()) {
      std::printf("{\"bench\":\"membership\",\"runner\":\"faultd\",\"metric\":\"heartbeat_traffic\","
                  "\"error\":\"%s\"}\n",
                  json_escape(tr.error).c_str());
      failed |= tr.fatal;
    } else {
      std::printf("{\"bench\":\"membership\",\"runner\":\"faultd\",\"metric\":\"heartbeat_traffic\","
                  "\"bytes_per_node_per_s\":%.1f,\"window_s\":%.1f,\"bytes\":%lld,\"sockets\":%zu,"
                  "\"counter\":\"%s\"}\n",
                  tr.bytes_per_node_per_s, tr.window_s, static_cast<long long>(tr.bytes),
                  tr.sockets, tr.acked_only ? "bytes_acked" : "bytes_sent");
      std::fprintf(stderr, "heartbeat traffic: faultd %.0f bytes/s per node (%s window)\n",
                   tr.bytes_per_node_per_s, human_ms(tr.window_s * 1000).c_str());
    }
    std::fflush(stdout);
  }
  for (const auto& tc : cases) {
    auto f = faultd_median.find(tc.name);
    auto s = serf_median.find(tc.name);
    if (f == faultd_median.end() || s == serf_median.end())
      continue;
    double speedup = f->second > 0 ? s->second / f->second : 0.0;
    std::printf("{\"bench\":\"membership\",\"case\":\"%s\",\"faultd_median_ms\":%.3f,"
                "\"serf_median_ms\":%.3f,\"speedup\":%.1f}\n",
                tc.name, f->second, s->second, speedup);
    std::fprintf(stderr, "%s: faultd %s, serf %s (%.*fx)\n", tc.name, human_ms(f->second).c_str(),
                 human_ms(s->second).c_str(), speedup >= 10 ? 0 : 1, speedup);
  }
  std::fflush(stdout);
  return failed ? 1 : 0;
}
