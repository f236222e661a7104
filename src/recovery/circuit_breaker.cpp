#include "recovery/circuit_breaker.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "faultd/log.hpp"

namespace faultd::recovery {

std::string_view to_string(circuit_state s) {
  switch (s) {
    case circuit_state::closed:
      return "closed";
    case circuit_state::open:
      return "open";
    case circuit_state::half_open:
      return "half_open";
  }
  return "unknown";
}

circuit_breaker::circuit_breaker(std::string name, const circuit_breaker_config& cfg,
                                 const clock_source& clock)
    : name_(std::move(name)), cfg_(cfg), clock_(&clock) {
  if (!(cfg_.failure_rate_threshold > 0.0))
    cfg_.failure_rate_threshold = 1e-9;
  cfg_.failure_rate_threshold = std::min(cfg_.failure_rate_threshold, 1.0);
  cfg_.minimum_calls = std::max<uint32_t>(cfg_.minimum_calls, 1);
  cfg_.window_size = std::max<uint32_t>(cfg_.window_size, 1);
  cfg_.half_open_probes = std::max<uint32_t>(cfg_.half_open_probes, 1);
  cfg_.probes_to_close = std::max<uint32_t>(cfg_.probes_to_close, 1);
}

void circuit_breaker::report(const std::vector<transition>& ts, const listener& l) {
  for (const auto& t : ts) {
    std::string_view event = t.to == circuit_state::open        ? "circuit-opened"
                             : t.to == circuit_state::half_open ? "circuit-half-opened"
                                                                : "circuit-closed";
    log::get("recovery")->info("{} name={} from={}", event, name_, to_string(t.from));
    if (l)
      l(t.from, t.to);
  }
}

// Runs `f` under the lock, then reports the transitions it caused outside of
// it, so that a listener may call back into the breaker.
template <class F>
auto circuit_breaker::locked(F f) {
  std::vector<transition> ts;
  listener l;
  std::unique_lock<std::mutex> guard{mutex_};
  auto take = [&] {
    ts.swap(pending_);
    if (!ts.empty())
      l = listener_;
    guard.unlock();
    report(ts, l);
  };
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    take();
  } else {
    auto r = f();
    take();
    return r;
  }
}

void circuit_breaker::set_listener(listener l) {
  std::lock_guard<std::mutex> guard{mutex_};
  listener_ = std::move(l);
}

void circuit_breaker::move_to(circuit_state to, steady_point now) {
  auto from = state_;
  state_ = to;
  window_.clear();
  permits_.clear();
  probe_successes_ = 0;
  if (to == circuit_state::open)
    opened_at_ = now;
  else
    held_ = false;
  if (from != to)
    pending_.push_back({from, to});
}

void circuit_breaker::advance(steady_point now) {
  if (state_ == circuit_state::open && !held_ && now - opened_at_ >= cfg_.open_wait)
    move_to(circuit_state::half_open, now);
  if (state_ == circuit_state::half_open)
    expire_permits(now);
  if (state_ == circuit_state::closed)
    prune(now);
}

void circuit_breaker::prune(steady_point now) {
  if (cfg_.window == circuit_window::count) {
    while (window_.size() > cfg_.window_size)
      window_.pop_front();
  } else {
    while (!window_.empty() && now - window_.front().at >= cfg_.window_duration)
      window_.pop_front();
  }
}

void circuit_breaker::expire_permits(steady_point now) {
  while (!permits_.empty() && now - permits_.front() >= cfg_.open_wait)
    permits_.pop_front();
}

bool circuit_breaker::try_acquire() {
  return locked([this] {
    auto now = clock_->steady_now();
    advance(now);
    switch (state_) {
      case circuit_state::closed:
        return true;
      case circuit_state::open:
        return false;
      case circuit_state::half_open:
        if (permits_.size() < cfg_.half_open_probes) {
          permits_.push_back(now);
          return true;
        }
        return false;
    }
    return false;
  });
}

void circuit_breaker::on_success() {
  locked([this] {
    auto now = clock_->steady_now();
    advance(now);
    if (state_ == circuit_state::closed) {
      window_.push_back({now, false});
      prune(now);
    } else if (state_ == circuit_state::open) {
      if (!held_ && cfg_.half_open_on_success)
        move_to(circuit_state::half_open, now);
    } else if (state_ == circuit_state::half_open) {
      if (!permits_.empty())
        permits_.pop_front();
      if (++probe_successes_ >= cfg_.probes_to_close)
        move_to(circuit_state::closed, now);
    }
  });
}

void circuit_breaker::on_failure() {
  locked([this] {
    auto now = clock_->steady_now();
    advance(now);
    if (state_ == circuit_state::closed) {
      window_.push_back({now, true});
      prune(now);
      auto calls = window_.size();
      auto failures = std::count_if(window_.begin(), window_.end(),
                                    [](const call& c) { return c.failed; });
      if (calls >= cfg_.minimum_calls &&
          static_cast<double>(failures) >=
            cfg_.failure_rate_threshold * static_cast<double>(calls))
        move_to(circuit_state::open, now);
    } else if (state_ == circuit_state::half_open) {
      move_to(circuit_state::open, now);
    }
  });
}

void circuit_breaker::force_open(bool hold) {
  locked([this, hold] {
    auto now = clock_->steady_now();
    move_to(circuit_state::open, now);
    held_ = hold;
  });
}

void circuit_breaker::force_close() {
  locked([this] { move_to(circuit_state::closed, clock_->steady_now()); });
}

circuit_state circuit_breaker::state() {
  return locked([this] {
    advance(clock_->steady_now());
    return state_;
  });
}

circuit_stats circuit_breaker::stats() {
  return locked([this] {
    advance(clock_->steady_now());
    circuit_stats s;
    s.state = state_;
    s.calls = static_cast<uint32_t>(window_.size());
    s.failures = static_cast<uint32_t>(
      std::count_if(window_.begin(), window_.end(), [](const call& c) { return c.failed; }));
    s.probes_in_flight = static_cast<uint32_t>(permits_.size());
    s.probe_successes = probe_successes_;
    s.held_open = held_;
    return s;
  });
}

} // namespace faultd::recovery
