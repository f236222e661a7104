#include "membership/phi_accrual.hpp"

#include <algorithm>
#include <cmath>

namespace faultd::membership {

namespace {

double ms(duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

} // namespace

double phi_of(double elapsed_ms, double mean_ms, double std_ms) {
  if (std_ms <= 0)
    std_ms = 1e-3;
  double y = (elapsed_ms - mean_ms) / std_ms;
  double e = std::exp(-y * (1.5976 + 0.070566 * y * y));
  double p = elapsed_ms > mean_ms ? e / (1.0 + e) : 1.0 - 1.0 / (1.0 + e);
  // p underflows to 0 for very late heartbeats: cap phi instead of +inf.
  return -std::log10(std::max(p, 1e-300));
}

phi_accrual_detector::phi_accrual_detector(phi_config cfg, const clock_source& clock)
  : cfg_(cfg), clock_(&clock) {
  if (cfg_.max_samples == 0)
    cfg_.max_samples = 1;
}

void phi_accrual_detector::add(double interval_ms) {
  intervals_.push_back(interval_ms);
  sum_ += interval_ms;
  sum_sq_ += interval_ms * interval_ms;
  if (intervals_.size() > cfg_.max_samples) {
    auto old = intervals_.front();
    intervals_.pop_front();
    sum_ -= old;
    sum_sq_ -= old * old;
  }
}

void phi_accrual_detector::heartbeat() {
  auto now = clock_->steady_now();
  if (last_ && now > *last_)
    add(ms(now - *last_));
  last_ = now;
}

double phi_accrual_detector::mean_ms() const {
  if (intervals_.empty())
    return ms(cfg_.heartbeat_interval);
  return sum_ / static_cast<double>(intervals_.size());
}

double phi_accrual_detector::std_deviation_ms() const {
  if (intervals_.empty())
    return ms(cfg_.heartbeat_interval) / 4;
  auto n = static_cast<double>(intervals_.size());
  auto mean = sum_ / n;
  return std::sqrt(std::max(0.0, sum_sq_ / n - mean * mean));
}

std::optional<duration> phi_accrual_detector::since_last() const {
  if (!last_)
    return std::nullopt;
  return clock_->steady_now() - *last_;
}

double phi_accrual_detector::phi_at(std::chrono::steady_clock::time_point at) const {
  if (!last_)
    return 0;
  auto elapsed = at > *last_ ? ms(at - *last_) : 0.0;
  auto mean = mean_ms() + ms(cfg_.acceptable_heartbeat_pause);
  auto sd = std::max(std_deviation_ms(), ms(cfg_.min_std_deviation));
  return phi_of(elapsed, mean, sd);
}

double phi_accrual_detector::phi() const {
  return phi_at(clock_->steady_now());
}

} // namespace faultd::membership
