#include "process/supervisor.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include <spdlog/fmt/fmt.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "process/log_rotation.hpp"
#include "process/proc.hpp"
#include "process/run_state.hpp"
#include "process/spawn.hpp"

namespace faultd::process {

namespace {

using steady_point = std::chrono::steady_clock::time_point;
using reply_ptr = std::shared_ptr<std::promise<status>>;

constexpr uint64_t wake_key = 1;
constexpr uint64_t timer_key = 2;
constexpr uint64_t inotify_key = 3;

void reply(const reply_ptr& r, status st) {
  if (r)
    r->set_value(std::move(st));
}

std::string log_file_name(const std::string& service) {
  std::string n = service;
  std::replace(n.begin(), n.end(), '/', '_');
  return n + ".log";
}

int open_pidfd(int pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

/// A token for FAULTD_INSTANCE: 128 random bits in hex.
std::string make_token() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", gen(), gen());
}

/// Boot time from /proc/stat's btime, to turn start ticks into a timestamp.
timestamp started_at_of(uint64_t start_ticks) {
  static const int64_t btime = [] {
    FILE* f = std::fopen("/proc/stat", "r");
    long long bt = 0;
    if (f != nullptr) {
      char line[256];
      while (std::fgets(line, sizeof(line), f) != nullptr)
        if (std::sscanf(line, "btime %lld", &bt) == 1)
          break;
      std::fclose(f);
    }
    return static_cast<int64_t>(bt);
  }();
  static const long hz = ::sysconf(_SC_CLK_TCK);
  auto ns = btime * 1'000'000'000LL
            + static_cast<int64_t>(start_ticks) * (1'000'000'000LL / (hz > 0 ? hz : 100));
  return from_unix_nanos(ns);
}

} // namespace

struct supervisor::impl {
  /// One managed service; touched only on the loop thread.
  struct service {
    uint64_t id = 0;
    service_machine machine;
    int pidfd = -1;
    bool child = false;     ///< the process is faultd's child (else adopted)
    uint64_t start_ticks = 0; ///< of the current process (an adopted one's exit is checked against it)
    int inotify_wd = -1;
    bool retiring = false;  ///< a leftover of a previous faultd, removed once stopped
    std::vector<reply_ptr> stop_waiters;
    std::vector<std::function<void()>> after_stop;

    service(service_config c, const clock_source& clock, random_source random)
        : machine(std::move(c), clock, std::move(random)) {}
    const service_config& cfg() const { return machine.config(); }
  };

  supervisor_options opts;
  std::shared_ptr<spdlog::logger> log = faultd::log::get("process");
  int epfd = -1;
  int evfd = -1;
  int tfd = -1;
  int ifd = -1;
  std::unique_ptr<run_dir> records;

  std::mutex q_mtx;
  std::vector<std::function<void()>> queue;  ///< GUARDED_BY(q_mtx)
  bool accepting = true;                     ///< GUARDED_BY(q_mtx)
  status refusal{errc::unavailable, "process supervisor is shut down"};

  mutable std::mutex snap_mtx;
  std::map<std::string, service_snapshot> snaps;  ///< GUARDED_BY(snap_mtx)

  // Loop thread only.
  std::map<std::string, std::unique_ptr<service>> services;
  std::map<uint64_t, service*> by_id;
  std::map<int, service*> by_wd;
  /// Processes of service trees that faultd signalled and that may end up
  /// as its zombies (the subreaper inherits them when their parent dies):
  /// pid -> start time, so a recycled pid is never reaped by mistake.
  struct orphan {
    uint64_t start_ticks = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::map<int, orphan> orphans;
  uint64_t next_id = 16;
  bool shutting_down = false;

  ~impl() {
    for (int fd : {epfd, evfd, tfd, ifd})
      if (fd >= 0)
        ::close(fd);
  }

  status watch(int fd, uint64_t key) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key;
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
      return {errc::io, "epoll_ctl: " + errno_text(errno)};
    return {};
  }

  status init() {
    if (!opts.random)
      opts.random = default_random_source();
    if (opts.clock == nullptr)
      opts.clock = &system_clock_source();
    records = std::make_unique<run_dir>(opts.run_dir);
    if (!opts.log_dir.empty()) {
      auto err = make_dirs(opts.log_dir);
      if (!err.empty())
        log->warn("log-dir-unusable path={} error={}", opts.log_dir, err);
    }
    if (opts.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      log->warn("subreaper-unavailable error={}", errno_text(errno));
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
      return {errc::io, "epoll_create1: " + errno_text(errno)};
    evfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd < 0)
      return {errc::io, "eventfd: " + errno_text(errno)};
    tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tfd < 0)
      return {errc::io, "timerfd_create: " + errno_text(errno)};
    if (auto st = watch(evfd, wake_key); !st.ok())
      return st;
    if (auto st = watch(tfd, timer_key); !st.ok())
      return st;
    if (!opts.log_dir.empty()) {
      ifd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
      if (ifd < 0 || !watch(ifd, inotify_key).ok())
        log->warn("log-rotation-watch-unavailable error={}", errno_text(errno));
    }
    return {};
  }

  // -- commands ---------------------------------------------------------------

  std::future<status> post(std::function<void(const reply_ptr&)> fn) {
    auto r = std::make_shared<std::promise<status>>();
    auto f = r->get_future();
    {
      std::lock_guard<std::mutex> guard{q_mtx};
      if (!accepting) {
        r->set_value(refusal);
        return f;
      }
      queue.push_back([fn = std::move(fn), r] { fn(r); });
    }
    wake();
    return f;
  }

  void wake() {
    uint64_t one = 1;
    if (::write(evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
      log->error("supervisor-wake-failed error={}", errno_text(errno));
  }

  service* find(const std::string& name) {
    auto it = services.find(name);
    return it == services.end() ? nullptr : it->second.get();
  }

  service& insert(service_config cfg) {
    auto s = std::make_unique<service>(std::move(cfg), *opts.clock, opts.random);
    s->id = next_id++;
    auto* raw = s.get();
    by_id[raw->id] = raw;
    services[raw->cfg().name] = std::move(s);
    return *raw;
  }

  std::string log_path(const service& s) const {
    return opts.log_dir.empty() ? std::string{} : opts.log_dir + "/" + log_file_name(s.cfg().name);
  }

  void cmd_add(service_config cfg, const reply_ptr& r) {
    if (cfg.name.empty())
      return reply(r, {errc::bad_request, "service without a name"});
    if (services.count(cfg.name) != 0)
      return reply(r, {errc::bad_request, "service " + cfg.name + " already exists"});
    if (shutting_down)
      return reply(r, refusal);
    auto& s = insert(std::move(cfg));
    // Published at once, so it is known (fencing asks) before its process
    // runs; a managed one as "starting" until it is started, adopted or held,
    // never as "stopped", which no one asked for.
    publish(s, s.cfg().command.empty() ? std::nullopt
                                       : std::optional<service_state>{service_state::starting});
    if (s.cfg().command.empty())
      return reply(r, {});
    watch_log(s);
    std::string error;
    switch (try_adopt(s, error)) {
      case adoption::adopted:
        set_held(s.cfg().name, false);
        return reply(r, {});
      case adoption::failed:
        log->error("service-adopt-failed name={} error=\"{}\"", s.cfg().name, error);
        run(s, s.machine.spawn_failed(error));
        return reply(r, {errc::io, error});
      case adoption::none:
        break;
    }
    if (held(s.cfg().name)) {
      // An operator stopped it before this faultd started: it stays down.
      log->info("service-held name={} reason=\"stopped by an operator; faultctl start starts it\"",
                s.cfg().name);
      run(s, s.machine.stop());
      return reply(r, {});
    }
    start(s, false, r);
  }

  std::string held_path(const std::string& name) const { return opts.held_dir + "/" + name; }

  bool held(const std::string& name) const {
    return !opts.held_dir.empty() && ::access(held_path(name).c_str(), F_OK) == 0;
  }

  /// Remembers (or forgets) an operator's stop across faultd restarts.
  void set_held(const std::string& name, bool on) {
    if (opts.held_dir.empty())
      return;
    if (!on) {
      ::unlink(held_path(name).c_str());
      return;
    }
    if (auto err = make_dirs(opts.held_dir); !err.empty()) {
      log->warn("held-dir-unusable path={} error={}", opts.held_dir, err);
      return;
    }
    int fd = ::open(held_path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      log->warn("held-mark-failed name={} error={}", name, errno_text(errno));
      return;
    }
    static const char text[] = "stopped by an operator\n";
    (void) !::write(fd, text, sizeof(text) - 1);
    ::fsync(fd);
    ::close(fd);
  }

  /// Opens a pidfd on a recorded process and only then checks that the pid
  /// still names it (start time, boot, not exited): a pid recycled between
  /// the check and the open cannot be bound. -1 if it is gone.
  int open_recorded(const run_record& rec) {
    int fd = open_pidfd(rec.pid);
    if (fd < 0)
      return -1;
    pollfd pfd{fd, POLLIN, 0};
    if (!still_running(rec) || ::poll(&pfd, 1, 0) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  /// What try_adopt found.
  enum class adoption { none, adopted, failed };

  /// Adopts the live process a previous faultd recorded for `s`, if any.
  /// A process running an outdated command is adopted and restarted. If a
  /// live one cannot be watched (no fds left), nothing is started either:
  /// two copies would be worse than one unsupervised.
  adoption try_adopt(service& s, std::string& error) {
    auto rec = records->read(s.cfg().name);
    if (!rec)
      return adoption::none;
    int fd = open_recorded(*rec);
    if (fd < 0) {
      if (still_running(*rec)) {
        error = "cannot watch pid " + std::to_string(rec->pid) + " of the previous faultd: "
                + errno_text(errno);
        return adoption::failed;
      }
      records->remove(s.cfg().name);
      return adoption::none;
    }
    if (!watch(fd, s.id).ok()) {
      error = "cannot watch pid " + std::to_string(rec->pid) + " of the previous faultd: "
              + errno_text(errno);
      ::close(fd);
      return adoption::failed;
    }
    s.pidfd = fd;
    s.child = false;
    s.start_ticks = rec->start_ticks;
    run(s, s.machine.adopted(rec->pid, rec->token, started_at_of(rec->start_ticks)));
    if (rec->command_hash != command_hash(s.cfg().command)) {
      log->info("service-adopted-outdated name={} pid={}: restarting with the configured command",
                s.cfg().name, rec->pid);
      s.machine.count_restart();
      when_stopped(s, [this, name = s.cfg().name] {
        if (auto* again = find(name))
          start(*again, false, nullptr);
      });
    }
    return adoption::adopted;
  }

  void cmd_retire_others(const std::set<std::string>& keep, const reply_ptr& r) {
    auto pending = std::make_shared<size_t>(1);
    auto done = [r, pending](const status&) {
      if (--*pending == 0)
        reply(r, {});
    };
    for (auto& rec : records->read_all()) {
      if (keep.count(rec.service) != 0)
        continue;
      if (auto* known = find(rec.service); known != nullptr && !known->cfg().command.empty())
        continue;  // managed: add() adopted or replaced it
      int fd = open_recorded(rec);
      if (fd < 0) {
        records->remove(rec.service);
        continue;
      }
      // Under a name of its own: the service may still exist, unmanaged.
      const std::string name = "retired:" + rec.service;
      if (find(name) != nullptr) {
        ::close(fd);
        continue;
      }
      service_config cfg;
      cfg.name = name;
      cfg.command = {"(left by a previous faultd)"};
      cfg.stop_signal = rec.stop_signal;
      cfg.restart.policy = restart_policy::never;
      auto& s = insert(std::move(cfg));
      s.retiring = true;
      if (!watch(fd, s.id).ok()) {
        ::close(fd);
        forget(name);
        continue;
      }
      s.pidfd = fd;
      s.child = false;
      s.start_ticks = rec.start_ticks;
      log->warn("service-retiring name={} pid={}: no longer managed, ending it", rec.service,
                rec.pid);
      run(s, s.machine.adopted(rec.pid, rec.token, started_at_of(rec.start_ticks)));
      ++*pending;
      remove_when_stopped(name, [this, done, service = rec.service](const status& st) {
        records->remove(service);
        done(st);
      });
    }
    done({});
  }

  void cmd_start(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    if (s->cfg().command.empty())
      return reply(r, {errc::bad_request, "service " + name + " has no command"});
    set_held(name, false);
    if (s->machine.pid() > 0) {
      if (s->machine.stopping())  // start again once the stop completes
        s->after_stop.push_back([this, name, r] { cmd_start(name, r); });
      else
        reply(r, {});
      return;
    }
    start(*s, true, r);
  }

  void cmd_stop(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    if (!s->cfg().command.empty())
      set_held(name, true);
    if (s->machine.pid() > 0) {
      s->stop_waiters.push_back(r);
      run(*s, s->machine.stop());
      return;
    }
    run(*s, s->machine.stop());
    reply(r, {});
  }

  void cmd_restart(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    if (s->cfg().command.empty())
      return reply(r, {errc::bad_request, "service " + name + " has no command"});
    set_held(name, false);
    s->machine.count_restart();
    when_stopped(*s, [this, name, r] {
      auto* again = find(name);
      if (again == nullptr)
        return reply(r, {errc::not_found, "service " + name + " was removed"});
      start(*again, false, r);
    });
  }

  void cmd_remove(const std::string& name, const reply_ptr& r) {
    if (find(name) == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    remove_when_stopped(name, [r](const status& st) { reply(r, st); });
  }

  /// Stops `name` and forgets it, only once no process of it runs: a start
  /// queued before (a restart) may bring one up again in between, which is
  /// then stopped too.
  void remove_when_stopped(const std::string& name, std::function<void(const status&)> done) {
    auto* s = find(name);
    if (s == nullptr)
      return done({errc::not_found, "service " + name + " was removed"});
    if (s->machine.pid() > 0) {
      s->after_stop.push_back([this, name, done] { remove_when_stopped(name, done); });
      run(*s, s->machine.stop());
      return;
    }
    run(*s, s->machine.stop());
    forget(name);
    log->info("service-removed name={}", name);
    done({});
  }

  /// Drops a service that has no process (REQUIRES: pid() == 0).
  void forget(std::string name) {
    auto* gone = find(name);
    if (gone == nullptr)
      return;
    if (gone->inotify_wd >= 0) {
      ::inotify_rm_watch(ifd, gone->inotify_wd);
      by_wd.erase(gone->inotify_wd);
    }
    by_id.erase(gone->id);
    services.erase(name);
    std::lock_guard<std::mutex> guard{snap_mtx};
    snaps.erase(name);
  }

  void cmd_shutdown() {
    shutting_down = true;
    log->info("supervisor-shutdown services={}", services.size());
    for (auto& [name, s] : services)
      run(*s, s->machine.stop());
  }

  // -- acting on the machine's steps -------------------------------------------

  /// Runs `fn` once `s` has no process (at once if it has none now).
  void when_stopped(service& s, std::function<void()> fn) {
    if (s.machine.pid() > 0) {
      s.after_stop.push_back(std::move(fn));
      run(s, s.machine.stop());
    } else {
      run(s, s.machine.stop());
      fn();
    }
  }

  void start(service& s, bool by_operator, const reply_ptr& r) {
    if (shutting_down)
      return reply(r, refusal);
    run(s, s.machine.start(by_operator));
    auto st = s.machine.state();
    if (st == service_state::running)
      reply(r, {});
    else
      reply(r, {errc::spawn_failed, "service " + s.cfg().name + " failed to start: "
                                      + last_error});
  }

  /// What the last spawn failure said (for start()'s reply).
  std::string last_error;

  /// Carries out `steps` for `s`. Notifications are delivered after every
  /// other step (including those the spawn's own report adds), so whoever
  /// reacts to an exit finds the service already running again rather than
  /// a restart still in flight.
  void run(service& s, std::vector<step> steps) {
    std::vector<event> out;
    std::vector<std::pair<int, std::string>> sweeps;
    for (size_t i = 0; i < steps.size(); ++i) {
      auto& st = steps[i];
      switch (st.kind) {
        case step::spawn: {
          auto more = do_spawn(s);
          steps.insert(steps.end(), more.begin(), more.end());
          break;
        }
        case step::signal_tree:
          signal_tree(s, st.sig);
          break;
        case step::sweep_tree:
          // A child's tree was swept in on_exit, before it was reaped; an
          // adopted one (whose pid init may have reaped and recycled
          // already) is swept by its token alone, after the restart.
          if (!s.child)
            sweeps.emplace_back(0, st.token);
          break;
        case step::notify:
          out.push_back(std::move(st.ev));
          break;
      }
    }
    publish(s);
    for (auto& e : out)
      deliver(e);
    for (auto& [pid, token] : sweeps)
      sweep(s.cfg().name, pid, token, token_scope::everywhere);
    if (s.machine.pid() == 0 && !s.machine.stopping()
        && (!s.stop_waiters.empty() || !s.after_stop.empty()))
      finish_stop(s);
  }

  std::vector<step> do_spawn(service& s) {
    auto token = make_token();
    auto env = s.cfg().env;
    env[instance_env] = token;
    env["FAULTD_SERVICE"] = s.cfg().name;
    spawn_request req{s.cfg().command, std::move(env), s.cfg().working_dir, log_path(s),
                      s.cfg().user, s.cfg().group};
    auto res = spawn_process(req);
    if (res.result.ok() && !watch(res.pidfd, s.id).ok()) {
      res.result = status{errc::io, "epoll_ctl pidfd: " + errno_text(errno)};
      ::kill(-res.pid, SIGKILL);
      ::kill(res.pid, SIGKILL);
      siginfo_t si{};
      while (::waitid(P_PID, static_cast<id_t>(res.pid), &si, WEXITED) < 0 && errno == EINTR) {
      }
      ::close(res.pidfd);
    }
    if (!res.result.ok()) {
      last_error = res.result.message();
      return s.machine.spawn_failed(res.result.message());
    }
    s.pidfd = res.pidfd;
    s.child = true;
    s.start_ticks = record(s, res.pid, token);
    return s.machine.spawned(res.pid, token);
  }

  /// Records the running process for adoption; returns its start ticks.
  uint64_t record(const service& s, int pid, const std::string& token) {
    auto st = read_proc_stat(pid);
    uint64_t ticks = st ? st->start_ticks : 0;
    if (opts.run_dir.empty())
      return ticks;
    run_record rec;
    rec.service = s.cfg().name;
    rec.pid = pid;
    rec.start_ticks = ticks;
    rec.boot_id = boot_id();
    rec.token = token;
    rec.command_hash = command_hash(s.cfg().command);
    rec.stop_signal = s.cfg().stop_signal;
    if (auto w = records->write(rec); !w.ok())
      log->error("service-record-failed name={} error={}", s.cfg().name, w.to_string());
    return ticks;
  }

  /// True while the process behind `s`'s pidfd has not exited.
  bool still_alive(const service& s) const {
    if (s.pidfd < 0)
      return false;
    pollfd pfd{s.pidfd, POLLIN, 0};
    return ::poll(&pfd, 1, 0) == 0;
  }

  /// `sig` to the running process's group (each process once) and to every
  /// other member of its tree (descendants, and processes carrying its
  /// FAULTD_INSTANCE token). The main process is signalled through its
  /// pidfd, which cannot reach a stranger; the group only while the main
  /// process lives (an adopted one, not faultd's child, may already have
  /// been reaped by init and its pid recycled).
  void signal_tree(service& s, int sig) {
    int pid = s.machine.pid();
    if (pid <= 0)
      return;
    bool alive = s.child || still_alive(s);
    auto tree = process_tree(alive ? pid : 0, s.machine.token(),
                             s.child ? token_scope::reparented_to_self : token_scope::everywhere);
    if (::syscall(SYS_pidfd_send_signal, s.pidfd, sig, nullptr, 0) != 0 && errno != ESRCH)
      log->warn("service-signal-failed name={} pid={} error={}", s.cfg().name, pid,
                errno_text(errno));
    if (alive)
      ::kill(-pid, sig);
    for (const auto& st : tree) {
      if (st.pid == pid || (alive && st.pgid == pid))
        continue;  // already signalled above
      ::kill(st.pid, sig);
      track_orphan(st);
    }
    if (sig == SIGKILL)
      log->warn("service-stop-escalated name={} pid={} signal=SIGKILL", s.cfg().name, pid);
    else
      log->info("service-signalled name={} pid={} signal={} members={}", s.cfg().name, pid,
                signal_name(sig), tree.size());
  }

  /// SIGKILLs what is left of a tree (`root`: its main process, not yet
  /// reaped, or 0 when it is gone).
  void sweep(const std::string& name, int root, const std::string& token, token_scope scope) {
    auto left = process_tree(root, token, scope);
    size_t killed = 0;
    for (const auto& st : left) {
      if (st.pid == root || st.state == 'Z')
        continue;
      ::kill(st.pid, SIGKILL);
      track_orphan(st);
      ++killed;
    }
    for (const auto& st : left)
      if (st.state == 'Z' && st.pid != root)  // the root is reaped by on_exit
        track_orphan(st);
    if (killed > 0)
      log->info("service-leftovers-killed name={} count={}", name, killed);
    reap_orphans();
  }

  /// Remembers a tree member (as found before it was signalled) that may
  /// end up as faultd's zombie.
  void track_orphan(const proc_stat& st) {
    orphans.emplace(st.pid, orphan{st.start_ticks, std::chrono::steady_clock::now()});
  }

  /// Reaps the tracked processes that are now faultd's zombies; forgets
  /// those that are gone, were reaped elsewhere, or outlived a minute of
  /// tracking (re-checked on a short timer while any are left).
  void reap_orphans() {
    const int self = static_cast<int>(::getpid());
    auto now = std::chrono::steady_clock::now();
    for (auto it = orphans.begin(); it != orphans.end();) {
      auto st = read_proc_stat(it->first);
      if (!st || st->start_ticks != it->second.start_ticks
          || now - it->second.since > std::chrono::minutes(1)) {
        it = orphans.erase(it);
        continue;
      }
      if (st->state == 'Z' && st->ppid == self) {
        siginfo_t si{};
        ::waitid(P_PID, static_cast<id_t>(it->first), &si, WEXITED | WNOHANG);
        it = orphans.erase(it);
        continue;
      }
      ++it;
    }
  }

  /// The pidfd of `s` is readable: its process has exited.
  void on_exit(service& s) {
    int pid = s.machine.pid();
    exit_info x;
    if (s.child) {
      // While the zombie is not reaped its pid and pgid name nothing else:
      // end the rest of the tree now, before the restart, so the new
      // instance never races its own leftovers for a port or a lock.
      ::kill(-pid, SIGKILL);
      sweep(s.cfg().name, pid, s.machine.token(), token_scope::reparented_to_self);
      siginfo_t si{};
      int rc;
      do {
        rc = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG);
      } while (rc < 0 && errno == EINTR);
      if (rc == 0 && si.si_pid == 0)
        return;  // not exited after all (spurious wakeup)
      if (rc < 0)
        log->warn("service-reap-failed name={} pid={} error={}", s.cfg().name, pid,
                  errno_text(errno));
      else if (si.si_code == CLD_EXITED)
        x.code = si.si_status;
      else
        x.signal = si.si_status;
    } else if (auto st = read_proc_stat(pid);
               st && st->state == 'Z' && st->start_ticks == s.start_ticks && st->exit_code) {
      // Adopted: not faultd's child. Its status can be read while it is a
      // zombie, before its parent (init) reaps it; after that it is unknown.
      int status = *st->exit_code;
      if (WIFEXITED(status))
        x.code = WEXITSTATUS(status);
      else if (WIFSIGNALED(status))
        x.signal = WTERMSIG(status);
    }
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, s.pidfd, nullptr);
    ::close(s.pidfd);
    s.pidfd = -1;
    records->remove(s.cfg().name);
    run(s, s.machine.exited(x, shutting_down));
  }

  void finish_stop(service& s) {
    auto waiters = std::move(s.stop_waiters);
    s.stop_waiters.clear();
    auto then = std::move(s.after_stop);
    s.after_stop.clear();
    for (auto& w : waiters)
      reply(w, {});
    // These may remove `s`: it is not touched afterwards.
    for (auto& fn : then)
      fn();
  }

  void on_timer() {
    uint64_t expirations = 0;
    if (::read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
      log->error("timerfd-read-failed error={}", errno_text(errno));
    std::vector<service*> all;
    for (auto& [name, s] : services)
      all.push_back(s.get());
    for (auto* s : all)
      run(*s, s->machine.deadline_passed());
    reap_orphans();
  }

  void rearm_timer() {
    std::optional<steady_point> next;
    for (auto& [name, s] : services)
      if (auto due = s->machine.next_deadline(); due && (!next || *due < *next))
        next = due;
    if (!orphans.empty()) {
      auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
      if (!next || soon < *next)
        next = soon;
    }
    itimerspec spec{};
    if (next) {
      auto ns = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         next->time_since_epoch()).count());
      spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    }
    if (::timerfd_settime(tfd, TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
      log->error("timerfd-settime-failed error={}", errno_text(errno));
  }

  // -- log rotation -------------------------------------------------------------

  void watch_log(service& s) {
    if (ifd < 0 || opts.log_dir.empty())
      return;
    auto path = log_path(s);
    // The file must exist to be watched; the service appends to it.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0)
      ::close(fd);
    rotate(s);
    int wd = ::inotify_add_watch(ifd, path.c_str(), IN_MODIFY);
    if (wd < 0) {
      log->warn("log-watch-failed name={} error={}", s.cfg().name, errno_text(errno));
      return;
    }
    s.inotify_wd = wd;
    by_wd[wd] = &s;
  }

  void rotate(service& s) {
    bool rotated = false;
    auto st = rotate_if_larger(log_path(s), s.cfg().log_max_size, s.cfg().log_keep, &rotated);
    if (!st.ok())
      log->error("log-rotate-failed name={} error={}", s.cfg().name, st.to_string());
    else if (rotated)
      log->info("log-rotated name={} max_size={} keep={}", s.cfg().name, s.cfg().log_max_size,
                s.cfg().log_keep);
  }

  void on_inotify() {
    alignas(inotify_event) char buf[4096];
    std::set<service*> touched;
    for (;;) {
      ssize_t n = ::read(ifd, buf, sizeof(buf));
      if (n <= 0)
        break;
      for (ssize_t off = 0; off < n;) {
        auto* ev = reinterpret_cast<inotify_event*>(buf + off);
        if (auto it = by_wd.find(ev->wd); it != by_wd.end())
          touched.insert(it->second);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    for (auto* s : touched)
      rotate(*s);
  }

  // -- events and snapshots ---------------------------------------------------

  void deliver(const event& e) {
    auto line = "service-" + e.to_string();
    switch (e.kind) {
      case event_kind::spawn_failed: log->error("{}", line); break;
      case event_kind::storm: log->warn("{}", line); break;
      case event_kind::exited:
        if (e.was_expected)
          log->info("{}", line);
        else
          log->warn("{}", line);
        break;
      default: log->info("{}", line); break;
    }
    if (!opts.listener)
      return;
    try {
      opts.listener(e);
    } catch (const std::exception& ex) {
      log->error("listener-threw event={} error={}", to_string(e.kind), ex.what());
    }
  }

  void publish(const service& s, std::optional<service_state> shown = std::nullopt) {
    if (s.retiring)
      return;
    auto snap = s.machine.snapshot();
    if (shown)
      snap.state = *shown;
    std::lock_guard<std::mutex> guard{snap_mtx};
    snaps[s.cfg().name] = std::move(snap);
  }

  // -- the loop ---------------------------------------------------------------

  bool anything_running() const {
    for (auto& [name, s] : services)
      if (s->machine.pid() > 0)
        return true;
    return false;
  }

  void run_queue() {
    uint64_t count = 0;
    if (::read(evfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
      log->error("eventfd-read-failed error={}", errno_text(errno));
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> guard{q_mtx};
      batch.swap(queue);
    }
    for (auto& fn : batch)
      fn();
  }

  void loop() {
    epoll_event evs[32];
    for (;;) {
      if (shutting_down && !anything_running())
        break;
      rearm_timer();
      int n = ::epoll_wait(epfd, evs, 32, -1);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        log->error("epoll-wait-failed error={}", errno_text(errno));
        break;
      }
      for (int i = 0; i < n; ++i) {
        uint64_t key = evs[i].data.u64;
        if (key == wake_key) {
          run_queue();
        } else if (key == timer_key) {
          on_timer();
        } else if (key == inotify_key) {
          on_inotify();
        } else {
          auto it = by_id.find(key);
          if (it != by_id.end() && it->second->machine.pid() > 0)
            on_exit(*it->second);
        }
      }
    }
    abandon();
  }

  /// After the loop: nothing may be left running or unanswered.
  void abandon() {
    {
      std::lock_guard<std::mutex> guard{q_mtx};
      accepting = false;
    }
    shutting_down = true;
    for (auto& [name, s] : services) {
      int pid = s->machine.pid();
      if (pid <= 0)
        continue;
      log->error("service-killed-on-loop-exit name={} pid={}", name, pid);
      signal_tree(*s, SIGKILL);
      siginfo_t si{};
      if (s->child)
        while (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) < 0 && errno == EINTR) {
        }
      ::epoll_ctl(epfd, EPOLL_CTL_DEL, s->pidfd, nullptr);
      ::close(s->pidfd);
      s->pidfd = -1;
      records->remove(name);
      s->machine.exited(exit_info{}, true);
      publish(*s);
    }
    reap_orphans();
    // Commands still queued run against stopped services and a shut-down
    // supervisor, so each gets its answer.
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> guard{q_mtx};
      batch.swap(queue);
    }
    for (auto& fn : batch)
      fn();
    std::vector<std::string> names;
    for (auto& [name, s] : services)
      names.push_back(name);
    for (auto& name : names)
      if (auto* s = find(name))
        finish_stop(*s);
  }
};

supervisor::supervisor(supervisor_options opts) : impl_(std::make_shared<impl>()) {
  impl_->opts = std::move(opts);
  init_status_ = impl_->init();
  if (!init_status_.ok()) {
    impl_->log->error("supervisor-init-failed error={}", init_status_.to_string());
    std::lock_guard<std::mutex> guard{impl_->q_mtx};
    impl_->accepting = false;
    impl_->refusal = init_status_;
    return;
  }
  auto im = impl_;
  thread_ = std::thread([im] { im->loop(); });
}

supervisor::~supervisor() {
  shutdown();
}

std::future<status> supervisor::add(service_config cfg) {
  auto im = impl_.get();
  return impl_->post([im, cfg = std::move(cfg)](const reply_ptr& r) mutable { im->cmd_add(std::move(cfg), r); });
}

std::future<status> supervisor::retire_others(std::set<std::string> keep) {
  auto im = impl_.get();
  return impl_->post([im, keep = std::move(keep)](const reply_ptr& r) { im->cmd_retire_others(keep, r); });
}

std::future<status> supervisor::start(const std::string& name) {
  auto im = impl_.get();
  return impl_->post([im, name](const reply_ptr& r) { im->cmd_start(name, r); });
}

std::future<status> supervisor::stop(const std::string& name) {
  auto im = impl_.get();
  return impl_->post([im, name](const reply_ptr& r) { im->cmd_stop(name, r); });
}

std::future<status> supervisor::restart(const std::string& name) {
  auto im = impl_.get();
  return impl_->post([im, name](const reply_ptr& r) { im->cmd_restart(name, r); });
}

std::future<status> supervisor::remove(const std::string& name) {
  auto im = impl_.get();
  return impl_->post([im, name](const reply_ptr& r) { im->cmd_remove(name, r); });
}

std::vector<service_snapshot> supervisor::snapshot() const {
  std::lock_guard<std::mutex> guard{impl_->snap_mtx};
  std::vector<service_snapshot> out;
  out.reserve(impl_->snaps.size());
  for (const auto& [name, s] : impl_->snaps)
    out.push_back(s);
  return out;
}

std::optional<service_snapshot> supervisor::snapshot(const std::string& name) const {
  std::lock_guard<std::mutex> guard{impl_->snap_mtx};
  auto it = impl_->snaps.find(name);
  if (it == impl_->snaps.end())
    return std::nullopt;
  return it->second;
}

void supervisor::shutdown() {
  std::lock_guard<std::mutex> guard{shutdown_mtx_};
  if (!thread_.joinable())
    return;
  auto im = impl_.get();
  {
    std::lock_guard<std::mutex> q{im->q_mtx};
    if (im->accepting) {
      im->queue.push_back([im] { im->cmd_shutdown(); });
      im->accepting = false;
    }
  }
  im->wake();
  thread_.join();
}

} // namespace faultd::process
