#include "checks/health_tracker.hpp"

#include <algorithm>

#include "faultd/util.hpp"

namespace faultd::checks {

std::string_view to_string(health_state s) {
  switch (s) {
    case health_state::unknown:
      return "unknown";
    case health_state::healthy:
      return "healthy";
    case health_state::unhealthy:
      return "unhealthy";
  }
  return "unknown";
}

health_tracker::health_tracker(uint32_t failure_threshold, uint32_t success_threshold)
    : failure_threshold_(std::max<uint32_t>(1, failure_threshold)),
      success_threshold_(std::max<uint32_t>(1, success_threshold)) {}

health_tracker::health_tracker(const check_config& cfg)
    : health_tracker(cfg.failure_threshold, cfg.success_threshold) {}

std::optional<health_transition> health_tracker::record(check_outcome o) {
  health_transition t;
  t.from = state_;
  if (o == check_outcome::ok) {
    ++successes_;
    failures_ = 0;
    criticals_ = 0;
    if (state_ == health_state::healthy || successes_ < success_threshold_)
      return std::nullopt;
    state_ = health_state::healthy;
    level_ = check_outcome::ok;
  } else {
    ++failures_;
    successes_ = 0;
    criticals_ = o == check_outcome::critical ? criticals_ + 1 : 0;
    auto level = criticals_ >= failure_threshold_ ? check_outcome::critical
                                                   : check_outcome::warning;
    if (state_ == health_state::unhealthy) {
      if (level <= level_)
        return std::nullopt;
    } else if (failures_ < failure_threshold_) {
      return std::nullopt;
    }
    state_ = health_state::unhealthy;
    level_ = level;
  }
  t.to = state_;
  t.level = level_;
  t.consecutive_failures = failures_;
  t.consecutive_successes = successes_;
  return t;
}

fault_severity check_severity(const check_config& check, check_outcome level) {
  return level == check_outcome::critical ? check.severity : fault_severity::medium;
}

std::optional<fault_event> make_check_event(const std::string& service, const check_config& check,
                                            const health_transition& t,
                                            const check_result& last, const std::string& node,
                                            const clock_source& clock) {
  if (t.to == health_state::healthy && t.from != health_state::unhealthy)
    return std::nullopt;
  if (t.to == health_state::unknown)
    return std::nullopt;
  fault_event ev;
  ev.id = make_uuid();
  ev.time = clock.now();
  ev.type = check.fault;
  ev.component = service;
  ev.node = node;
  ev.source = "check:" + check_type_name(check);
  auto check_name = check.name.empty() ? check_type_name(check) : check.name;
  ev.details["check"] = check_name;
  ev.details["kind"] = check_type_name(check);
  ev.details["message"] = last.message;
  ev.details["outcome"] = std::string(to_string(last.outcome));
  ev.details["code"] = std::to_string(last.code);
  ev.metrics["latency_ms"] = last.latency_ms;
  ev.metrics["consecutive_failures"] = static_cast<double>(t.consecutive_failures);
  if (t.to == health_state::healthy) {
    ev.clears = true;
    ev.severity = fault_severity::low;
    ev.metrics["consecutive_successes"] = static_cast<double>(t.consecutive_successes);
  } else {
    ev.severity = check_severity(check, t.level);
    if (t.escalated())
      ev.details["escalated"] = "true";
  }
  return ev;
}

} // namespace faultd::checks
