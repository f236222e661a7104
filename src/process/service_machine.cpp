#include "process/service_machine.hpp"

#include <algorithm>
#include <csignal>

#include <spdlog/fmt/fmt.h>

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
    case service_state::stopping: return "stopping";
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
    case event_kind::adopted: return "adopted";
  }
  return "unknown";
}

std::string event::to_string() const {
  std::string s = fmt::format("{} service={}", process::to_string(kind), service);
  switch (kind) {
    case event_kind::started:
    case event_kind::adopted:
      s += fmt::format(" pid={}", pid);
      break;
    case event_kind::exited:
      s += fmt::format(" pid={}", pid);
      if (exit_code)
        s += fmt::format(" exit={}", *exit_code);
      if (signal)
        s += fmt::format(" signal={}", *signal);
      if (!exit_code && !signal)
        s += " status=unknown";
      s += fmt::format(" expected={} restart={}", was_expected, will_restart);
      break;
    case event_kind::restart_scheduled:
      s += " delay=" + human_duration(delay);
      break;
    case event_kind::storm:
      s += fmt::format(" restarts_in_period={} delay={}", restarts_in_period, human_duration(delay));
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

service_machine::service_machine(service_config cfg, const clock_source& clock,
                                 random_source random)
  : cfg_(std::move(cfg)),
    clock_(&clock),
    tracker_(cfg_.restart, clock, std::move(random)),
    state_(cfg_.command.empty() ? service_state::unmanaged : service_state::stopped) {
}

service_snapshot service_machine::snapshot() const {
  service_snapshot s;
  s.name = cfg_.name;
  s.state = state_;
  s.pid = pid_;
  s.restarts = restarts_;
  s.last_exit = last_exit_;
  s.exit_code = exit_code_;
  s.exit_signal = exit_signal_;
  s.started_at = started_at_;
  s.adopted = adopted_;
  s.token = token_;
  s.command = cfg_.command;
  return s;
}

event service_machine::make_event(event_kind k) const {
  event e;
  e.kind = k;
  e.service = cfg_.name;
  e.at = clock_->now();
  e.restarts = restarts_;
  return e;
}

step service_machine::notify(event e) const {
  step s;
  s.kind = step::notify;
  s.ev = std::move(e);
  return s;
}

std::vector<step> service_machine::start(bool by_operator) {
  if (state_ == service_state::unmanaged || pid_ > 0)
    return {};
  if (by_operator && state_ != service_state::backoff)
    tracker_.reset();
  restart_due_.reset();
  state_ = service_state::starting;
  automatic_ = false;
  step s;
  s.kind = step::spawn;
  return {s};
}

std::vector<step> service_machine::stop() {
  std::vector<step> out;
  if (pid_ > 0) {
    if (state_ == service_state::stopping)
      return out;
    state_ = service_state::stopping;
    // A SIGSTOPped process ignores everything but SIGKILL until continued.
    step cont;
    cont.kind = step::signal_tree;
    cont.sig = SIGCONT;
    out.push_back(cont);
    step term;
    term.kind = step::signal_tree;
    term.sig = cfg_.stop_signal;
    out.push_back(term);
    kill_due_ = clock_->steady_now() + cfg_.restart.stop_grace;
    return out;
  }
  if (state_ == service_state::backoff) {
    restart_due_.reset();
    state_ = service_state::stopped;
    out.push_back(notify(make_event(event_kind::stopped)));
  } else if (state_ == service_state::exited || state_ == service_state::failed
             || state_ == service_state::starting) {
    restart_due_.reset();
    state_ = service_state::stopped;
  }
  return out;
}

std::vector<step> service_machine::spawned(int pid, std::string token) {
  pid_ = pid;
  token_ = std::move(token);
  adopted_ = false;
  started_at_ = clock_->now();
  state_ = service_state::running;
  tracker_.started();
  auto e = make_event(event_kind::started);
  e.pid = pid;
  return {notify(std::move(e))};
}

std::vector<step> service_machine::spawn_failed(const std::string& error) {
  pid_ = 0;
  auto e = make_event(event_kind::spawn_failed);
  e.error = error;
  std::vector<step> out{notify(std::move(e))};
  if (!automatic_) {
    // A start that fails (bad command, missing directory) stays failed:
    // retrying it would only fail again.
    state_ = service_state::failed;
    return out;
  }
  // A restart that fails (no fds or processes left for a moment) is tried
  // again under the storm guard, as the policy wants the service up.
  auto d = tracker_.next_restart();
  auto delay = std::max(d.delay, cfg_.restart.backoff_initial);
  state_ = service_state::backoff;
  restart_due_ = clock_->steady_now() + delay;
  auto rs = make_event(event_kind::restart_scheduled);
  rs.delay = delay;
  out.push_back(notify(std::move(rs)));
  return out;
}

std::vector<step> service_machine::adopted(int pid, std::string token, timestamp started_at) {
  pid_ = pid;
  token_ = std::move(token);
  adopted_ = true;
  started_at_ = started_at;
  state_ = service_state::running;
  tracker_.started();
  auto e = make_event(event_kind::adopted);
  e.pid = pid;
  return {notify(std::move(e))};
}

std::vector<step> service_machine::exited(const exit_info& x, bool shutting_down) {
  std::vector<step> out;
  step sweep;
  sweep.kind = step::sweep_tree;
  sweep.pid = pid_;
  sweep.token = token_;
  out.push_back(sweep);

  auto e = make_event(event_kind::exited);
  e.pid = pid_;
  e.exit_code = x.code;
  e.signal = x.signal;
  exit_code_ = x.code;
  exit_signal_ = x.signal;
  if (x.code)
    last_exit_ = fmt::format("exit {}", *x.code);
  else if (x.signal)
    last_exit_ = fmt::format("signal {}", *x.signal);
  else
    last_exit_ = "unknown";
  pid_ = 0;
  adopted_ = false;
  kill_due_.reset();
  tracker_.stopped();

  if (state_ == service_state::stopping) {
    state_ = service_state::stopped;
    e.was_expected = true;
    out.push_back(notify(std::move(e)));
    out.push_back(notify(make_event(event_kind::stopped)));
    return out;
  }
  // The restart policy is law. An unknown status (an adopted process) is
  // not a clean exit: on-failure restarts it.
  const auto policy = cfg_.restart.policy;
  const bool wanted = policy == restart_policy::always
                      || (policy == restart_policy::on_failure && !x.clean());
  if (!wanted || shutting_down) {
    state_ = service_state::exited;
    out.push_back(notify(std::move(e)));
    return out;
  }
  e.will_restart = true;
  auto d = tracker_.next_restart();
  ++restarts_;
  automatic_ = true;
  if (d.delay <= duration::zero()) {
    state_ = service_state::starting;
    step s;
    s.kind = step::spawn;
    out.push_back(s);
    out.push_back(notify(std::move(e)));
    out.push_back(notify(make_event(event_kind::restart_scheduled)));
    return out;
  }
  state_ = service_state::backoff;
  restart_due_ = clock_->steady_now() + d.delay;
  out.push_back(notify(std::move(e)));
  if (d.storm) {
    auto st = make_event(event_kind::storm);
    st.delay = d.delay;
    st.restarts_in_period = d.restarts_in_period;
    out.push_back(notify(std::move(st)));
  }
  auto rs = make_event(event_kind::restart_scheduled);
  rs.delay = d.delay;
  out.push_back(notify(std::move(rs)));
  return out;
}

std::vector<step> service_machine::deadline_passed() {
  std::vector<step> out;
  auto now = clock_->steady_now();
  if (kill_due_ && *kill_due_ <= now) {
    kill_due_.reset();
    if (pid_ > 0) {
      step k;
      k.kind = step::signal_tree;
      k.sig = SIGKILL;
      out.push_back(k);
    }
  }
  if (restart_due_ && *restart_due_ <= now) {
    restart_due_.reset();
    if (pid_ == 0 && state_ == service_state::backoff) {
      state_ = service_state::starting;
      automatic_ = true;
      step s;
      s.kind = step::spawn;
      out.push_back(s);
    }
  }
  return out;
}

std::optional<service_machine::steady_point> service_machine::next_deadline() const {
  std::optional<steady_point> next;
  for (const auto& due : {kill_due_, restart_due_})
    if (due && (!next || *due < *next))
      next = due;
  return next;
}

} // namespace faultd::process
