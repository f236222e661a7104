#include "recovery/execution.hpp"

#include <algorithm>
#include <utility>

namespace faultd::recovery {

namespace {

constexpr std::string_view rollback_failed_prefix = "rollback failed: ";
constexpr std::string_view interrupted_text = "interrupted by node restart";

bool is_final(execution_status s) {
  return s == execution_status::completed || s == execution_status::failed ||
         s == execution_status::rolled_back;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

std::string_view to_string(step_kind k) {
  switch (k) {
    case step_kind::run_action:
      return "run_action";
    case step_kind::wait:
      return "wait";
    case step_kind::rollback_action:
      return "rollback_action";
    case step_kind::done:
      return "done";
  }
  return "unknown";
}

execution_machine::execution_machine(const recovery_strategy& strategy, const clock_source& clock,
                                     random_source random)
    : strategy_(strategy), clock_(&clock), random_(std::move(random)) {
  if (!random_)
    random_ = default_random_source();
}

execution_machine::execution_machine(const recovery_strategy& strategy, std::string incident_id,
                                     std::string execution_id, const clock_source& clock,
                                     random_source random)
    : execution_machine(strategy, clock, std::move(random)) {
  state_.id = std::move(execution_id);
  state_.incident_id = std::move(incident_id);
  state_.strategy_id = strategy_.id;
  state_.status = execution_status::running;
  state_.started_at = clock_->now();
  for (const auto& a : strategy_.actions) {
    action_execution x;
    x.action = a;
    state_.actions.push_back(std::move(x));
  }
  deadline_ = state_.started_at + strategy_.timeout;
}

bool execution_machine::compatible(const recovery_execution& journaled,
                                   const recovery_strategy& strategy) {
  if (journaled.strategy_id != strategy.id || journaled.actions.size() != strategy.actions.size())
    return false;
  for (size_t i = 0; i < strategy.actions.size(); ++i)
    if (!(journaled.actions[i].action == strategy.actions[i]))
      return false;
  return true;
}

recovery_execution execution_machine::abandon(recovery_execution journaled,
                                              const std::string& reason, timestamp now) {
  if (is_final(journaled.status))
    return journaled;
  for (auto& a : journaled.actions) {
    if (a.status == action_status::running) {
      a.status = action_status::failed;
      a.error = reason;
      a.ended_at = now;
    } else if (a.status == action_status::pending) {
      a.status = action_status::skipped;
    }
  }
  journaled.status = execution_status::failed;
  journaled.ended_at = now;
  journaled.error = reason;
  return journaled;
}

execution_machine execution_machine::resume(const recovery_execution& journaled,
                                            const recovery_strategy& strategy,
                                            const clock_source& clock, random_source random,
                                            bool attempt_in_flight) {
  execution_machine m{strategy, clock, std::move(random)};
  m.state_ = journaled;
  m.deadline_ = journaled.started_at + strategy.timeout;
  if (is_final(journaled.status)) {
    m.phase_ = phase::finished;
    return m;
  }
  auto close = [&](const std::string& reason) {
    m.state_ = abandon(journaled, reason, clock.now());
    m.phase_ = phase::finished;
    return m;
  };
  if (!compatible(journaled, strategy))
    return close("strategy '" + strategy.id +
                 "' is missing or changed since the execution started");
  if (m.state_.status == execution_status::pending) {
    m.state_.status = execution_status::running;
    m.state_.started_at = clock.now();
    m.deadline_ = m.state_.started_at + strategy.timeout;
  }
  auto& actions = m.state_.actions;
  auto failed = std::find_if(actions.begin(), actions.end(), [](const action_execution& a) {
    return a.status == action_status::failed;
  });
  if (failed != actions.end()) {
    // The forward phase had ended: finish the rollback (or close as failed).
    auto f = static_cast<size_t>(failed - actions.begin());
    for (size_t j = f + 1; j < actions.size(); ++j)
      if (actions[j].status == action_status::pending || actions[j].status == action_status::running)
        actions[j].status = action_status::skipped;
    m.current_ = f;
    m.failure_ = journaled.error.empty() ? m.describe(f) + " failed: " + failed->error
                                         : journaled.error;
    m.state_.error = m.failure_;
    if (!strategy.rollback_enabled) {
      m.finish(execution_status::failed);
      return m;
    }
    for (size_t j = 0; j < f; ++j)
      if (actions[j].status == action_status::completed &&
          starts_with(actions[j].error, rollback_failed_prefix))
        m.rollback_errors_.push_back(
          m.describe(j) + ": " + actions[j].error.substr(rollback_failed_prefix.size()));
    // Rollback runs in reverse order, so the failed ones were the later ones.
    std::reverse(m.rollback_errors_.begin(), m.rollback_errors_.end());
    for (size_t j = f; j-- > 0;)
      if (actions[j].status == action_status::completed &&
          !starts_with(actions[j].error, rollback_failed_prefix))
        m.rollback_queue_.push_back(j);
    m.phase_ = phase::rolling_back;
    return m;
  }
  // Forward phase: completed actions first, then the one in progress, then
  // pending ones. Anything else contradicts itself.
  size_t cur = 0;
  while (cur < actions.size() && actions[cur].status == action_status::completed)
    ++cur;
  for (size_t j = cur; j < actions.size(); ++j) {
    auto s = actions[j].status;
    bool ok = s == action_status::pending || (j == cur && s == action_status::running);
    if (!ok)
      return close("inconsistent journal: action " + std::to_string(j) + " is " +
                   std::string{to_string(s)} + " while no action has failed");
  }
  m.current_ = cur;
  if (cur < actions.size() && actions[cur].status == action_status::running) {
    auto& a = actions[cur];
    a.attempts = std::max<uint32_t>(a.attempts, 1);
    if (attempt_in_flight) {
      m.in_flight_ = true;
      auto left = std::max(m.deadline_ - clock.now(), duration::zero());
      m.in_flight_timeout_ = std::min(a.action.timeout, left);
    } else {
      m.attempt_failed(std::string{interrupted_text}, false);
    }
  }
  return m;
}

std::string execution_machine::describe(size_t index) const {
  const auto& a = state_.actions[index].action;
  std::string out = "action " + std::to_string(index) + " (" + std::string{action_name(a)};
  if (!a.target.empty())
    out += " " + a.target;
  return out + ")";
}

std::string execution_machine::strategy_timeout_text(const std::string& last_error) const {
  std::string out = "strategy timeout after " + human_duration(strategy_.timeout);
  if (!last_error.empty())
    out += " (last error: " + last_error + ")";
  return out;
}

step execution_machine::done_step() const {
  step s;
  s.kind = step_kind::done;
  s.status = state_.status;
  s.error = state_.error;
  return s;
}

step execution_machine::next() {
  for (;;) {
    switch (phase_) {
      case phase::finished:
        return done_step();
      case phase::rolling_back: {
        if (rollback_pos_ >= rollback_queue_.size()) {
          finish(execution_status::rolled_back);
          continue;
        }
        step s;
        s.kind = step_kind::rollback_action;
        s.index = rollback_queue_[rollback_pos_];
        if (!in_flight_) {
          in_flight_ = true;
          in_flight_timeout_ = state_.actions[s.index].action.timeout;
        }
        s.timeout = in_flight_timeout_;
        return s;
      }
      case phase::forward: {
        if (current_ >= state_.actions.size()) {
          finish(execution_status::completed);
          continue;
        }
        auto& a = state_.actions[current_];
        step s;
        s.kind = step_kind::run_action;
        s.index = current_;
        if (in_flight_) {
          s.attempt = a.attempts;
          s.timeout = in_flight_timeout_;
          return s;
        }
        auto now = clock_->now();
        if (wait_until_) {
          if (now < *wait_until_) {
            step w;
            w.kind = step_kind::wait;
            w.index = current_;
            w.delay = *wait_until_ - now;
            return w;
          }
          wait_until_.reset();
        }
        if (now >= deadline_) {
          fail_for_good(strategy_timeout_text(a.error));
          continue;
        }
        a.status = action_status::running;
        ++a.attempts;
        if (!a.started_at)
          a.started_at = now;
        in_flight_ = true;
        in_flight_timeout_ = std::min(a.action.timeout, deadline_ - now);
        s.attempt = a.attempts;
        s.timeout = in_flight_timeout_;
        return s;
      }
    }
  }
}

bool execution_machine::on_action_result(size_t index, bool ok, const std::string& error) {
  if (phase_ != phase::forward || !in_flight_ || index != current_)
    return false;
  in_flight_ = false;
  auto& a = state_.actions[current_];
  if (ok) {
    a.status = action_status::completed;
    a.ended_at = clock_->now();
    a.error.clear();
    ++current_;
    return true;
  }
  attempt_failed(error, true);
  return true;
}

bool execution_machine::on_timeout(size_t index) {
  if (phase_ != phase::forward || !in_flight_ || index != current_)
    return false;
  return on_action_result(index, false, "timed out after " + human_duration(in_flight_timeout_));
}

bool execution_machine::on_wait_over() {
  if (phase_ != phase::forward || !wait_until_)
    return false;
  wait_until_.reset();
  return true;
}

// REQUIRES: phase forward, the current action's failed attempt is counted.
void execution_machine::attempt_failed(const std::string& error, bool backoff) {
  auto& a = state_.actions[current_];
  a.error = error;
  auto now = clock_->now();
  if (now >= deadline_) {
    fail_for_good(strategy_timeout_text(error));
    return;
  }
  if (a.attempts >= 1 + static_cast<uint64_t>(a.action.retry_count)) {
    fail_for_good(error);
    return;
  }
  duration delay{0};
  if (backoff)
    delay = apply_jitter(exponential_delay(a.action.retry_delay, a.attempts), retry_jitter,
                         random_());
  if (delay >= deadline_ - now) {
    fail_for_good(strategy_timeout_text(error));
    return;
  }
  a.status = action_status::pending;
  if (delay > duration::zero())
    wait_until_ = now + delay;
}

void execution_machine::fail_for_good(const std::string& error) {
  auto now = clock_->now();
  auto& a = state_.actions[current_];
  a.status = action_status::failed;
  a.error = error;
  a.ended_at = now;
  in_flight_ = false;
  wait_until_.reset();
  for (size_t j = current_ + 1; j < state_.actions.size(); ++j)
    state_.actions[j].status = action_status::skipped;
  failure_ = describe(current_) + " failed after " + std::to_string(a.attempts) +
             (a.attempts == 1 ? " attempt: " : " attempts: ") + error;
  state_.error = failure_;
  if (!strategy_.rollback_enabled) {
    finish(execution_status::failed);
    return;
  }
  rollback_queue_.clear();
  for (size_t j = current_; j-- > 0;)
    if (state_.actions[j].status == action_status::completed)
      rollback_queue_.push_back(j);
  rollback_pos_ = 0;
  phase_ = phase::rolling_back;
}

bool execution_machine::on_rollback_result(size_t index, bool ok, const std::string& error) {
  if (phase_ != phase::rolling_back || !in_flight_ || rollback_pos_ >= rollback_queue_.size() ||
      rollback_queue_[rollback_pos_] != index)
    return false;
  rollback_done(index, ok, error);
  return true;
}

bool execution_machine::on_rollback_timeout(size_t index) {
  return on_rollback_result(index, false,
                            "timed out after " + human_duration(in_flight_timeout_));
}

void execution_machine::rollback_done(size_t index, bool ok, const std::string& error) {
  in_flight_ = false;
  ++rollback_pos_;
  auto& a = state_.actions[index];
  if (ok) {
    a.status = action_status::rolled_back;
    a.error.clear();
  } else {
    a.error = std::string{rollback_failed_prefix} + error;
    rollback_errors_.push_back(describe(index) + ": " + error);
  }
}

void execution_machine::finish(execution_status status) {
  state_.status = status;
  state_.ended_at = clock_->now();
  if (status == execution_status::completed) {
    state_.error.clear();
  } else {
    state_.error = failure_;
    for (const auto& e : rollback_errors_)
      state_.error += "; rollback failed for " + e;
  }
  in_flight_ = false;
  wait_until_.reset();
  phase_ = phase::finished;
}

} // namespace faultd::recovery
