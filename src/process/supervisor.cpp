#include "process/supervisor.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "process/spawn.hpp"

namespace faultd::process {

std::string_view to_string(service_state s) {
  switch (s) {
    case service_state::unmanaged: return "unmanaged";
    case service_state::starting: return "starting";
    case service_state::running: return "running";
    case service_state::backoff: return "backoff";
    case service_state::stopped: return "stopped";
    case service_state::exited: return "exited";
    case service_state::failed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(event_kind k) {
  switch (k) {
    case event_kind::started: return "started";
    case event_kind::exited: return "exited";
    case event_kind::restart_scheduled: return "restart-scheduled";
    case event_kind::storm: return "storm";
    case event_kind::spawn_failed: return "spawn-failed";
    case event_kind::stopped: return "stopped";
  }
  return "unknown";
}

std::string event::to_string() const {
  std::string s = fmt::format("{} service={}", process::to_string(kind), service);
  switch (kind) {
    case event_kind::started:
      s += fmt::format(" pid={}", pid);
      break;
    case event_kind::exited:
      s += fmt::format(" pid={}", pid);
      if (exit_code)
        s += fmt::format(" exit={}", *exit_code);
      if (signal)
        s += fmt::format(" signal={}", *signal);
      s += fmt::format(" expected={}", was_expected);
      break;
    case event_kind::restart_scheduled:
      s += " delay=" + format_duration(delay);
      break;
    case event_kind::storm:
      s += fmt::format(" restarts_in_period={} delay={}", restarts_in_period, format_duration(delay));
      break;
    case event_kind::spawn_failed:
      s += " error=\"" + error + "\"";
      break;
    case event_kind::stopped:
      break;
  }
  s += fmt::format(" restarts={}", restarts);
  return s;
}

namespace {

using steady_point = std::chrono::steady_clock::time_point;
using reply_ptr = std::shared_ptr<std::promise<status>>;

constexpr uint64_t wake_key = 1;
constexpr uint64_t timer_key = 2;

void reply(const reply_ptr& r, status st) {
  if (r)
    r->set_value(std::move(st));
}

std::string log_file_name(const std::string& service) {
  std::string n = service;
  std::replace(n.begin(), n.end(), '/', '_');
  return n + ".log";
}

} // namespace

struct supervisor::impl {
  /// One managed service; touched only on the loop thread.
  struct service {
    uint64_t id = 0;
    service_config cfg;
    restart_tracker tracker;
    service_state state = service_state::stopped;
    int pid = 0;
    int pidfd = -1;
    uint32_t restarts = 0;
    std::string last_exit;
    std::optional<timestamp> started_at;
    bool stopping = false;                  ///< an explicit stop is under way
    std::optional<steady_point> restart_due;///< backoff ends
    std::optional<steady_point> kill_due;   ///< stop grace ends
    std::vector<reply_ptr> stop_waiters;
    std::vector<std::function<void()>> after_stop;

    service(service_config c, const clock_source& clock, random_source random)
        : cfg(std::move(c)), tracker(cfg.restart, clock, std::move(random)) {}
  };

  supervisor_options opts;
  std::shared_ptr<spdlog::logger> log = faultd::log::get("process");
  int epfd = -1;
  int evfd = -1;
  int tfd = -1;

  std::mutex q_mtx;
  std::vector<std::function<void()>> queue;  ///< GUARDED_BY(q_mtx)
  bool accepting = true;                     ///< GUARDED_BY(q_mtx)
  status refusal{errc::unavailable, "process supervisor is shut down"};

  mutable std::mutex snap_mtx;
  std::map<std::string, service_snapshot> snaps;  ///< GUARDED_BY(snap_mtx)

  // Loop thread only.
  std::map<std::string, std::unique_ptr<service>> services;
  std::map<uint64_t, service*> by_id;
  uint64_t next_id = 16;
  bool shutting_down = false;

  ~impl() {
    for (int fd : {epfd, evfd, tfd})
      if (fd >= 0)
        ::close(fd);
  }

  status init() {
    if (!opts.random)
      opts.random = default_random_source();
    if (opts.clock == nullptr)
      opts.clock = &system_clock_source();
    if (!opts.log_dir.empty()) {
      auto err = make_dirs(opts.log_dir);
      if (!err.empty())
        log->warn("log-dir-unusable path={} error={}", opts.log_dir, err);
    }
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
      return {errc::io, "epoll_create1: " + errno_text(errno)};
    evfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd < 0)
      return {errc::io, "eventfd: " + errno_text(errno)};
    tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tfd < 0)
      return {errc::io, "timerfd_create: " + errno_text(errno)};
    for (auto [fd, key] : {std::pair<int, uint64_t>{evfd, wake_key}, {tfd, timer_key}}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = key;
      if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return {errc::io, "epoll_ctl: " + errno_text(errno)};
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

  void cmd_add(service_config cfg, const reply_ptr& r) {
    if (cfg.name.empty())
      return reply(r, {errc::bad_request, "service without a name"});
    if (services.count(cfg.name) != 0)
      return reply(r, {errc::bad_request, "service " + cfg.name + " already exists"});
    if (shutting_down)
      return reply(r, refusal);
    auto s = std::make_unique<service>(std::move(cfg), *opts.clock, opts.random);
    s->id = next_id++;
    s->state = s->cfg.command.empty() ? service_state::unmanaged : service_state::stopped;
    auto* raw = s.get();
    by_id[raw->id] = raw;
    services[raw->cfg.name] = std::move(s);
    publish(*raw);
    if (raw->cfg.command.empty())
      return reply(r, {});
    spawn(*raw, r);
  }

  void cmd_start(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    if (s->pid > 0) {
      if (s->stopping)  // start again once the stop completes
        s->after_stop.push_back([this, name, r] { cmd_start(name, r); });
      else
        reply(r, {});
      return;
    }
    s->restart_due.reset();
    if (s->state != service_state::backoff)
      s->tracker.reset();
    spawn(*s, r);
  }

  void cmd_stop(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    begin_stop(*s, r);
  }

  void cmd_restart(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    if (s->cfg.command.empty())
      return reply(r, {errc::bad_request, "service " + name + " has no command"});
    ++s->restarts;
    when_stopped(*s, [this, name, r] {
      auto* again = find(name);
      if (again == nullptr)
        return reply(r, {errc::not_found, "service " + name + " was removed"});
      spawn(*again, r);
    });
  }

  void cmd_remove(const std::string& name, const reply_ptr& r) {
    auto* s = find(name);
    if (s == nullptr)
      return reply(r, {errc::not_found, "no service " + name});
    when_stopped(*s, [this, name, r] {
      auto* gone = find(name);
      if (gone != nullptr) {
        by_id.erase(gone->id);
        services.erase(name);
        std::lock_guard<std::mutex> guard{snap_mtx};
        snaps.erase(name);
      }
      log->info("service-removed name={}", name);
      reply(r, {});
    });
  }

  void cmd_shutdown() {
    shutting_down = true;
    log->info("supervisor-shutdown services={}", services.size());
    for (auto& [name, s] : services)
      begin_stop(*s, nullptr);
  }

  // -- state changes ----------------------------------------------------------

  /// Runs `fn` once `s` has no process (at once if it has none now).
  void when_stopped(service& s, std::function<void()> fn) {
    if (s.pid > 0) {
      s.after_stop.push_back(std::move(fn));
      begin_stop(s, nullptr);
    } else {
      begin_stop(s, nullptr);
      fn();
    }
  }

  void begin_stop(service& s, const reply_ptr& r) {
    if (s.pid > 0) {
      if (r)
        s.stop_waiters.push_back(r);
      if (s.stopping)
        return;
      s.stopping = true;
      if (::kill(-s.pid, SIGTERM) != 0 && ::kill(s.pid, SIGTERM) != 0)
        log->warn("service-sigterm-failed name={} pid={} error={}", s.cfg.name, s.pid, errno_text(errno));
      s.kill_due = std::chrono::steady_clock::now() + s.cfg.restart.stop_grace;
      log->info("service-stopping name={} pid={} grace={}", s.cfg.name, s.pid,
                format_duration(s.cfg.restart.stop_grace));
      return;
    }
    if (s.state == service_state::backoff) {
      s.restart_due.reset();
      s.state = service_state::stopped;
      publish(s);
      deliver(make_event(s, event_kind::stopped));
    } else if (s.state == service_state::exited || s.state == service_state::failed) {
      s.state = service_state::stopped;
      publish(s);
    }
    reply(r, {});
  }

  void spawn(service& s, const reply_ptr& r) {
    if (shutting_down)
      return reply(r, refusal);
    if (s.cfg.command.empty())
      return reply(r, {errc::bad_request, "service " + s.cfg.name + " has no command"});
    s.state = service_state::starting;
    s.restart_due.reset();
    spawn_request req{s.cfg.command, s.cfg.env, s.cfg.working_dir,
                      opts.log_dir.empty() ? std::string{} : opts.log_dir + "/" + log_file_name(s.cfg.name)};
    auto res = spawn_process(req);
    if (res.result.ok()) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = s.id;
      if (::epoll_ctl(epfd, EPOLL_CTL_ADD, res.pidfd, &ev) != 0) {
        res.result = status{errc::io, "epoll_ctl pidfd: " + errno_text(errno)};
        ::kill(-res.pid, SIGKILL);
        ::kill(res.pid, SIGKILL);
        siginfo_t si{};
        while (::waitid(P_PID, static_cast<id_t>(res.pid), &si, WEXITED) < 0 && errno == EINTR) {
        }
        ::close(res.pidfd);
      }
    }
    if (!res.result.ok()) {
      s.state = service_state::failed;
      s.pid = 0;
      publish(s);
      event e = make_event(s, event_kind::spawn_failed);
      e.error = res.result.message();
      deliver(e);
      return reply(r, res.result);
    }
    s.pid = res.pid;
    s.pidfd = res.pidfd;
    s.started_at = opts.clock->now();
    s.state = service_state::running;
    s.tracker.started();
    publish(s);
    event e = make_event(s, event_kind::started);
    e.pid = s.pid;
    deliver(e);
    reply(r, {});
  }

  /// The pidfd of `s` is readable: its process has exited (a zombie until
  /// reaped here).
  void on_exit(service& s) {
    // The zombie leader still holds the pgid, so this cannot hit a stranger.
    ::kill(-s.pid, SIGKILL);
    siginfo_t si{};
    int rc;
    do {
      rc = ::waitid(P_PID, static_cast<id_t>(s.pid), &si, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0 && si.si_pid == 0)
      return;  // not exited after all (spurious wakeup)
    event e = make_event(s, event_kind::exited);
    e.pid = s.pid;
    if (rc < 0) {
      // Someone else reaped it (SIGCHLD ignored, or a waitpid(-1) elsewhere).
      log->warn("service-reap-failed name={} pid={} error={}", s.cfg.name, s.pid, errno_text(errno));
      s.last_exit = "unknown";
    } else if (si.si_code == CLD_EXITED) {
      e.exit_code = si.si_status;
      s.last_exit = fmt::format("exit {}", si.si_status);
    } else {
      e.signal = si.si_status;
      s.last_exit = fmt::format("signal {}", si.si_status);
    }
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, s.pidfd, nullptr);
    ::close(s.pidfd);
    s.pidfd = -1;
    s.pid = 0;
    s.tracker.stopped();
    e.was_expected = s.stopping;

    if (s.stopping) {
      s.state = service_state::stopped;
      publish(s);
      deliver(e);
      finish_stop(s);
      return;
    }

    const auto policy = s.cfg.restart.policy;
    const bool clean = e.exit_code && *e.exit_code == 0;
    const bool wanted = policy == restart_policy::always || (policy == restart_policy::on_failure && !clean);
    if (!wanted || shutting_down) {
      s.state = service_state::exited;
      publish(s);
      deliver(e);
      return;
    }
    auto d = s.tracker.next_restart();
    ++s.restarts;
    if (d.delay <= duration::zero()) {
      // The fast path (listeners see exited, restart-scheduled, started).
      // The new process is spawned before anyone hears of the exit, so
      // whoever reacts to it (the recovery engine) finds the service
      // already running again rather than a restart still in flight.
      holding = true;
      deliver(e);
      deliver(make_event(s, event_kind::restart_scheduled));
      spawn(s, nullptr);
      holding = false;
      auto events = std::move(held);
      held.clear();
      for (auto& x : events)
        deliver(x);
      return;
    }
    s.state = service_state::backoff;
    s.restart_due = std::chrono::steady_clock::now() + d.delay;
    publish(s);
    deliver(e);
    if (d.storm) {
      event st = make_event(s, event_kind::storm);
      st.delay = d.delay;
      st.restarts_in_period = d.restarts_in_period;
      deliver(st);
    }
    event rs = make_event(s, event_kind::restart_scheduled);
    rs.delay = d.delay;
    deliver(rs);
  }

  void finish_stop(service& s) {
    s.stopping = false;
    s.kill_due.reset();
    deliver(make_event(s, event_kind::stopped));
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
    auto now = std::chrono::steady_clock::now();
    for (auto& [name, s] : services) {
      if (s->kill_due && *s->kill_due <= now) {
        s->kill_due.reset();
        if (s->pid > 0) {
          log->warn("service-stop-escalated name={} pid={} signal=SIGKILL", name, s->pid);
          if (::kill(-s->pid, SIGKILL) != 0)
            ::kill(s->pid, SIGKILL);
        }
      }
      if (s->restart_due && *s->restart_due <= now) {
        s->restart_due.reset();
        spawn(*s, nullptr);
      }
    }
  }

  void rearm_timer() {
    std::optional<steady_point> next;
    for (auto& [name, s] : services)
      for (const auto& due : {s->kill_due, s->restart_due})
        if (due && (!next || *due < *next))
          next = due;
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

  // -- events and snapshots ---------------------------------------------------

  event make_event(const service& s, event_kind k) const {
    event e;
    e.kind = k;
    e.service = s.cfg.name;
    e.at = opts.clock->now();
    e.restarts = s.restarts;
    return e;
  }

  /// While set, deliver() queues events in `held` (see on_exit's fast path).
  bool holding = false;
  std::vector<event> held;

  void deliver(const event& e) {
    if (holding) {
      held.push_back(e);
      return;
    }
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

  void publish(const service& s) {
    service_snapshot snap;
    snap.name = s.cfg.name;
    snap.state = s.state;
    snap.pid = s.pid;
    snap.restarts = s.restarts;
    snap.last_exit = s.last_exit;
    snap.started_at = s.started_at;
    snap.command = s.cfg.command;
    std::lock_guard<std::mutex> guard{snap_mtx};
    snaps[s.cfg.name] = std::move(snap);
  }

  // -- the loop ---------------------------------------------------------------

  bool anything_running() const {
    for (auto& [name, s] : services)
      if (s->pid > 0)
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

  void run() {
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
        } else {
          auto it = by_id.find(key);
          if (it != by_id.end() && it->second->pid > 0)
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
      if (s->pid <= 0)
        continue;
      log->error("service-killed-on-loop-exit name={} pid={}", name, s->pid);
      s->stopping = true;
      ::kill(-s->pid, SIGKILL);
      ::kill(s->pid, SIGKILL);
      siginfo_t si{};
      while (::waitid(P_PID, static_cast<id_t>(s->pid), &si, WEXITED) < 0 && errno == EINTR) {
      }
      ::epoll_ctl(epfd, EPOLL_CTL_DEL, s->pidfd, nullptr);
      ::close(s->pidfd);
      s->pidfd = -1;
      s->pid = 0;
      s->state = service_state::stopped;
      publish(*s);
    }
    // Commands still queued run against stopped services and a shut-down
    // supervisor, so each gets its answer.
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> guard{q_mtx};
      batch.swap(queue);
    }
    for (auto& fn : batch)
      fn();
    for (auto& [name, s] : services) {
      for (auto& w : s->stop_waiters)
        reply(w, {});
      s->stop_waiters.clear();
      auto then = std::move(s->after_stop);
      s->after_stop.clear();
      for (auto& fn : then)
        fn();
    }
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
  thread_ = std::thread([im] { im->run(); });
}

supervisor::~supervisor() {
  shutdown();
}

std::future<status> supervisor::add(service_config cfg) {
  auto im = impl_.get();
  return impl_->post([im, cfg = std::move(cfg)](const reply_ptr& r) mutable { im->cmd_add(std::move(cfg), r); });
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
