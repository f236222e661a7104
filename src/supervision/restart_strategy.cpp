#include "supervision/restart_strategy.hpp"

namespace faultd::supervision {

std::string_view to_string(strategy s) {
  switch (s) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
  }
  return "unknown";
}

std::optional<strategy> parse_strategy(std::string_view s) {
  for (auto x : {strategy::one_for_one, strategy::one_for_all, strategy::rest_for_one})
    if (to_string(x) == s)
      return x;
  return std::nullopt;
}

bool should_restart(restart_policy policy, bool abnormal) {
  return policy == restart_policy::permanent || abnormal;
}

restart_intensity::restart_intensity(uint32_t max_restarts, duration period,
                                     const clock_source& clock)
  : max_restarts_(max_restarts), period_(period), clock_(&clock) {
}

void restart_intensity::expire(std::chrono::steady_clock::time_point now) const {
  // A restart at time t counts while now - t < period.
  while (!restarts_.empty() && now - restarts_.front() >= period_)
    restarts_.pop_front();
}

bool restart_intensity::record_restart() {
  auto now = clock_->steady_now();
  expire(now);
  restarts_.push_back(now);
  return restarts_.size() <= max_restarts_;
}

size_t restart_intensity::recent() const {
  expire(clock_->steady_now());
  return restarts_.size();
}

restart_plan plan_restart(strategy s, const std::vector<bool>& running, size_t failed) {
  restart_plan plan;
  size_t first = 0;
  switch (s) {
    case strategy::one_for_one:
      plan.start.push_back(failed);
      return plan;
    case strategy::one_for_all:
      first = 0;
      break;
    case strategy::rest_for_one:
      first = failed;
      break;
  }
  for (size_t i = running.size(); i-- > first;)
    if (i != failed && running[i])
      plan.stop.push_back(i);
  for (size_t i = first; i < running.size(); ++i)
    if (i == failed || running[i])
      plan.start.push_back(i);
  return plan;
}

} // namespace faultd::supervision
