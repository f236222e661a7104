#include "process/restart_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <utility>

namespace faultd::process {

random_source default_random_source() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
}

restart_tracker::restart_tracker(const restart_config& cfg, const clock_source& clock,
                                 random_source random)
    : cfg_(cfg), clock_(&clock), random_(std::move(random)) {
  if (!random_)
    random_ = default_random_source();
}

void restart_tracker::started() {
  up_since_ = clock_->steady_now();
}

void restart_tracker::stopped() {
  forget_if_stable(clock_->steady_now());
  up_since_.reset();
}

void restart_tracker::reset() {
  restarts_.clear();
  backoff_steps_ = 0;
}

bool restart_tracker::engaged() {
  forget_if_stable(clock_->steady_now());
  return backoff_steps_ > 0;
}

uint32_t restart_tracker::restarts_in_period() {
  auto now = clock_->steady_now();
  forget_if_stable(now);
  prune(now);
  return static_cast<uint32_t>(restarts_.size());
}

restart_decision restart_tracker::next_restart() {
  auto now = clock_->steady_now();
  forget_if_stable(now);
  prune(now);
  restart_decision d;
  if (backoff_steps_ == 0 && restarts_.size() < cfg_.burst) {
    restarts_.push_back(now);
    d.restarts_in_period = static_cast<uint32_t>(restarts_.size());
    return d;
  }
  restarts_.push_back(now);
  d.storm = true;
  d.restarts_in_period = static_cast<uint32_t>(restarts_.size());
  auto base = backoff_for(backoff_steps_);
  ++backoff_steps_;
  double jitter = std::clamp(cfg_.backoff_jitter, 0.0, 1.0);
  double r = std::clamp(random_(), 0.0, 1.0);
  double factor = 1.0 + jitter * (2.0 * r - 1.0);
  d.delay = duration{static_cast<duration::rep>(std::llround(static_cast<double>(base.count()) * factor))};
  if (d.delay < duration::zero())
    d.delay = duration::zero();
  return d;
}

void restart_tracker::prune(steady_point now) {
  while (!restarts_.empty() && now - restarts_.front() >= cfg_.period)
    restarts_.pop_front();
}

void restart_tracker::forget_if_stable(steady_point now) {
  if (up_since_ && now - *up_since_ >= cfg_.period)
    reset();
}

duration restart_tracker::backoff_for(uint32_t step) const {
  auto cap = std::max(cfg_.backoff_max, duration::zero());
  auto initial = std::clamp(cfg_.backoff_initial, duration::zero(), cap);
  // Doubling past 62 steps would overflow; the cap is reached long before.
  auto d = initial;
  for (uint32_t i = 0; i < step && d < cap; ++i)
    d = d > cap / 2 ? cap : d * 2;
  return std::min(d, cap);
}

} // namespace faultd::process
