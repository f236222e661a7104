#include "process/spawn.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultd/util.hpp"

extern char** environ;

#if defined(__SANITIZE_ADDRESS__)
#define FAULTD_SPAWN_WITH_FORK 1
#else
#define FAULTD_SPAWN_WITH_FORK 0
#endif

namespace faultd::process {

namespace {

/// Which step of the child failed (sent through the error pipe with errno).
enum child_stage : int32_t {
  stage_setpgid = 1,
  stage_fds = 3,
  stage_chdir = 4,
  stage_exec = 5,
  stage_groups = 6,
  stage_gid = 7,
  stage_uid = 8,
};

struct child_report {
  int32_t stage;
  int32_t err;
};

const char* stage_name(int32_t stage) {
  switch (stage) {
    case stage_setpgid: return "setpgid";
    case stage_fds: return "redirect-output";
    case stage_chdir: return "chdir";
    case stage_exec: return "exec";
    case stage_groups: return "setgroups";
    case stage_gid: return "setgid";
    case stage_uid: return "setuid";
    default: return "child";
  }
}

/// Everything the child needs, prepared before clone so that the child never
/// allocates.
struct child_plan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* working_dir;  ///< nullptr = stay
  int stdin_fd;
  int out_fd;
  int report_fd;
  bool drop_privileges;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t group_count;
};

[[noreturn]] void child_fail(int report_fd, int32_t stage, int err) {
  child_report r{stage, err};
  // Nothing else can be done if the parent stopped listening.
  ssize_t n = ::write(report_fd, &r, sizeof(r));
  (void)n;
  ::_exit(127);
}

/// Moves fd above 0..2 so that the dup2 calls below cannot clobber it.
int lift_fd(int fd) {
  if (fd > 2)
    return fd;
  return ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/// dup2 that also clears FD_CLOEXEC when from == to (dup2 would not).
bool move_to(int from, int to) {
  if (from == to)
    return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
}

/// Runs in the cloned child: async-signal-safe calls only. It shares the
/// parent's memory (CLONE_VM) while the parent thread waits (CLONE_VFORK),
/// so it must not allocate or touch anything but its own stack.
[[noreturn]] void run_child(const child_plan& p) {
  int report = lift_fd(p.report_fd);
  if (report < 0)
    ::_exit(127);  // no way left to tell the parent
  if (::setpgid(0, 0) != 0)
    child_fail(report, stage_setpgid, errno);
  // Raw system calls: glibc's setuid() and friends would broadcast the
  // change to every thread of the process, and this child shares faultd's
  // memory (CLONE_VM), thread list included. The child is a process of its
  // own, so the raw calls change exactly it.
  if (p.drop_privileges) {
    if (::syscall(SYS_setgroups, p.group_count, p.groups) != 0)
      child_fail(report, stage_groups, errno);
    if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0)
      child_fail(report, stage_gid, errno);
    if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0)
      child_fail(report, stage_uid, errno);
  }

  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for reserved signals
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  int in = lift_fd(p.stdin_fd);
  int out = lift_fd(p.out_fd);
  if (in < 0 || out < 0 || !move_to(in, 0) || !move_to(out, 1) || !move_to(out, 2))
    child_fail(report, stage_fds, errno);

  if (p.working_dir != nullptr && ::chdir(p.working_dir) != 0)
    child_fail(report, stage_chdir, errno);

  // Every fd above stderr is closed by exec, the report pipe included.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    long max = ::sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < max; ++fd)
      ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  }

  ::execve(p.path, p.argv, p.envp);
  child_fail(report, stage_exec, errno);
}

[[maybe_unused]] int child_entry(void* arg) {
  run_child(*static_cast<const child_plan*>(arg));
}

/// The child's stack: big enough for execve and the few calls before it.
constexpr size_t child_stack_size = 256 * 1024;

/// An fd closed on scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};


} // namespace

spawn_result spawn_process(const spawn_request& req) {
  spawn_result res;
  if (req.argv.empty() || req.argv[0].empty()) {
    res.result = status{errc::spawn_failed, "empty command"};
    return res;
  }

  // Environment: faultd's, with the service's additions winning.
  std::vector<std::string> env_strings;
  std::string path_var = "/usr/local/bin:/usr/bin:/bin";
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry{*e};
    auto eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    if (req.env.count(key) != 0)
      continue;
    if (key == "PATH" && eq != std::string::npos)
      path_var = entry.substr(eq + 1);
    env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : req.env) {
    env_strings.push_back(k + "=" + v);
    if (k == "PATH")
      path_var = v;
  }
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings = req.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  std::string path = resolve_command(req.argv[0], path_var);

  const std::string log_path = req.log_path.empty() ? "/dev/null" : req.log_path;
  fd_guard out{::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (out.fd < 0) {
    res.result = status{errc::spawn_failed, "open-log " + log_path + ": " + errno_text(errno)};
    return res;
  }
  fd_guard in{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) {
    res.result = status{errc::io, "open /dev/null: " + errno_text(errno)};
    return res;
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    res.result = status{errc::io, "pipe2: " + errno_text(errno)};
    return res;
  }
  fd_guard report_read{pipe_fds[0]};
  fd_guard report_write{pipe_fds[1]};

  // Identity: resolved here (getpwnam allocates; the child must not).
  bool drop = !req.user.empty() || !req.group.empty();
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  std::vector<gid_t> groups;
  if (!req.user.empty()) {
    auto* pw = ::getpwnam(req.user.c_str());
    if (pw == nullptr) {
      res.result = status{errc::spawn_failed, "unknown user " + req.user};
      return res;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    int n = 64;
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(req.user.c_str(), gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<size_t>(n));
      ::getgrouplist(req.user.c_str(), gid, groups.data(), &n);
    }
    groups.resize(static_cast<size_t>(n));
  }
  if (!req.group.empty()) {
    auto* gr = ::getgrnam(req.group.c_str());
    if (gr == nullptr) {
      res.result = status{errc::spawn_failed, "unknown group " + req.group};
      return res;
    }
    gid = gr->gr_gid;
    if (req.user.empty())
      groups = {gid};
    else if (std::find(groups.begin(), groups.end(), gid) == groups.end())
      groups.push_back(gid);
  }

  child_plan plan{path.c_str(),
                  argv.data(),
                  envp.data(),
                  req.working_dir.empty() ? nullptr : req.working_dir.c_str(),
                  in.fd,
                  out.fd,
                  report_write.fd,
                  drop,
                  uid,
                  gid,
                  groups.data(),
                  groups.size()};

  // clone(CLONE_VM | CLONE_VFORK) as posix_spawn does: unlike fork it copies
  // no page tables, which costs milliseconds in a big multi-threaded daemon.
  void* stack = ::mmap(nullptr, child_stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    res.result = status{errc::spawn_failed, "mmap child stack: " + errno_text(errno)};
    return res;
  }
  // Block every signal across the clone so that no handler of faultd's runs
  // in the child before it has reset the dispositions.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
#if FAULTD_SPAWN_WITH_FORK
  // Under AddressSanitizer a child sharing the parent's memory on a stack of
  // its own confuses the sanitizer's bookkeeping: fork instead (slower, same
  // behaviour otherwise).
  pid_t pid = ::fork();
  if (pid == 0)
    run_child(plan);
#else
  pid_t pid = ::clone(child_entry, static_cast<char*>(stack) + child_stack_size,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
#endif
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // The child has exec'd or exited by now (CLONE_VFORK): the stack is free.
  ::munmap(stack, child_stack_size);
  if (pid < 0) {
    res.result = status{errc::spawn_failed, "clone: " + errno_text(clone_errno)};
    return res;
  }
  // Also from this side, so the group exists whichever runs first; EACCES
  // (the child already exec'd) and ESRCH are fine.
  ::setpgid(pid, pid);

  ::close(report_write.fd);
  report_write.fd = -1;
  child_report report{0, 0};
  size_t got = 0;
  while (got < sizeof(report)) {
    ssize_t n = ::read(report_read.fd, reinterpret_cast<char*>(&report) + got, sizeof(report) - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  if (got > 0) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    std::string what = stage_name(report.stage);
    if (report.stage == stage_exec)
      what += " " + path;
    else if (report.stage == stage_chdir)
      what += " " + req.working_dir;
    else if (report.stage >= stage_groups)
      what += " to " + (req.user.empty() ? "group " + req.group : "user " + req.user);
    res.result = status{errc::spawn_failed,
                        got == sizeof(report) ? what + ": " + errno_text(report.err)
                                              : "child failed before exec (short report)"};
    return res;
  }

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    res.result = status{errc::io, "pidfd_open: " + errno_text(err)};
    return res;
  }
  res.pid = pid;
  res.pidfd = pidfd;
  return res;
}

} // namespace faultd::process
