#include "checks/service_limits.hpp"

#include <spdlog/fmt/fmt.h>

#include "faultd/util.hpp"

namespace faultd::checks {

std::optional<double> cpu_percent_between(uint64_t ticks_before, uint64_t ticks_after,
                                          duration elapsed, long hz) {
  if (elapsed <= duration::zero() || ticks_after < ticks_before || hz <= 0)
    return std::nullopt;
  double seconds = std::chrono::duration<double>(elapsed).count();
  return 100.0 * static_cast<double>(ticks_after - ticks_before) / static_cast<double>(hz)
         / seconds;
}

std::string format_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  if (u == 0)
    return fmt::format("{}B", bytes);
  return v >= 100 || v == static_cast<double>(static_cast<uint64_t>(v))
           ? fmt::format("{:.0f}{}", v, units[u])
           : fmt::format("{:.1f}{}", v, units[u]);
}

service_limit_monitor::service_limit_monitor(std::string node, const clock_source& clock)
  : node_(std::move(node)), clock_(&clock) {
}

void service_limit_monitor::forget(const std::string& service) {
  services_.erase(service);
}

std::set<std::string> service_limit_monitor::over(const std::string& service) const {
  auto it = services_.find(service);
  return it == services_.end() ? std::set<std::string>{} : it->second.over;
}

std::optional<fault_event> service_limit_monitor::observe(const std::string& service,
                                                          const service_limits& limits,
                                                          const service_usage& usage) {
  auto& ps = services_[service];
  const bool was_over = !ps.over.empty();
  bool joined = false;
  std::map<std::string, std::string> measured;  // resource -> "value > limit"
  auto judge = [&](const std::string& resource, std::optional<double> value,
                   std::optional<double> limit, const std::string& value_text,
                   const std::string& limit_text) {
    if (!value || !limit)
      return;
    auto it = ps.trackers.find(resource);
    if (it == ps.trackers.end())
      it = ps.trackers
             .emplace(resource, health_tracker(limits.failure_threshold, limits.success_threshold))
             .first;
    bool bad = *value > *limit;
    if (bad)
      measured[resource] = value_text + " > " + limit_text;
    auto t = it->second.record(bad ? check_outcome::critical : check_outcome::ok);
    if (!t)
      return;
    if (t->to == health_state::unhealthy) {
      joined = ps.over.insert(resource).second || joined;
    } else if (t->to == health_state::healthy) {
      ps.over.erase(resource);
    }
  };
  if (usage.memory_bytes && limits.memory)
    judge("memory", static_cast<double>(*usage.memory_bytes), static_cast<double>(*limits.memory),
          format_bytes(*usage.memory_bytes), format_bytes(*limits.memory));
  if (usage.cpu_percent && limits.cpu)
    judge("cpu", *usage.cpu_percent, *limits.cpu, fmt::format("{:.1f}%", *usage.cpu_percent),
          fmt::format("{:.0f}%", *limits.cpu));
  if (usage.fds && limits.fds)
    judge("fds", static_cast<double>(*usage.fds), static_cast<double>(*limits.fds),
          std::to_string(*usage.fds), std::to_string(*limits.fds));

  const bool is_over = !ps.over.empty();
  if (!joined && was_over == is_over)
    return std::nullopt;
  fault_event ev;
  ev.id = make_uuid();
  ev.time = clock_->now();
  ev.type = fault_type::resource_exhaustion;
  ev.component = service;
  ev.node = node_;
  ev.source = "limits";
  if (usage.memory_bytes)
    ev.metrics["memory_bytes"] = static_cast<double>(*usage.memory_bytes);
  if (usage.cpu_percent)
    ev.metrics["cpu_percent"] = *usage.cpu_percent;
  if (usage.fds)
    ev.metrics["fds"] = static_cast<double>(*usage.fds);
  ev.metrics["processes"] = static_cast<double>(usage.processes);
  if (!is_over) {
    ev.clears = true;
    ev.severity = fault_severity::low;
    ev.details["message"] = service + " is back within its limits";
    return ev;
  }
  ev.severity = fault_severity::high;
  std::string resources, message;
  for (const auto& r : ps.over) {
    resources += (resources.empty() ? "" : ",") + r;
    auto m = measured.find(r);
    message += (message.empty() ? "" : "; ") + r + " "
               + (m != measured.end() ? m->second : std::string{"over its limit"});
  }
  ev.details["resource"] = resources;
  ev.details["message"] = service + " over its limits: " + message;
  return ev;
}

} // namespace faultd::checks
