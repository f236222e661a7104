#include "state/health.hpp"

namespace faultd::state {

void health_board::declare(const std::string& service, const std::vector<check_status>& checks) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& e = services_[service];
  e.checks.clear(); // a reload may have removed some
  for (auto& c : checks) {
    auto& slot = e.checks[c.name];
    slot = c;
    slot.health = "unknown";
  }
}

void health_board::forget(const std::string& service) {
  std::lock_guard<std::mutex> guard{mtx_};
  services_.erase(service);
  changed_.notify_all();
}

void health_board::update(const std::string& service, const check_status& cs,
                          uint64_t generation) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& e = services_[service];
    if (generation < e.generation)
      return;
    e.checks[cs.name] = cs;
  }
  changed_.notify_all();
}

std::vector<check_status> health_board::checks(const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<check_status> out;
  if (auto i = services_.find(service); i != services_.end())
    for (auto& [name, c] : i->second.checks)
      out.push_back(c);
  return out;
}

uint64_t health_board::generation(const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = services_.find(service);
  return i == services_.end() ? 0 : i->second.generation;
}

void health_board::on_reset(const std::string& service, std::function<void()> fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  services_[service].on_reset.push_back(std::move(fn));
}

uint64_t health_board::reset(const std::string& service) {
  uint64_t gen = 0;
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& e = services_[service];
    gen = ++e.generation;
    for (auto& [name, c] : e.checks) {
      c.health = "unknown";
      c.consecutive_failures = 0;
      c.last_error.clear();
    }
    callbacks = e.on_reset;
  }
  changed_.notify_all();
  for (auto& fn : callbacks)
    fn();
  return gen;
}

std::string health_board::summary_locked(const entry& e) const {
  bool all_healthy = true;
  for (auto& [name, c] : e.checks) {
    if (c.health == "unhealthy")
      return "unhealthy";
    all_healthy &= c.health == "healthy";
  }
  return all_healthy ? "healthy" : "unknown";
}

std::string health_board::summary(const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = services_.find(service);
  return i == services_.end() ? "healthy" : summary_locked(i->second);
}

bool health_board::wait_healthy(const std::string& service,
                                std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> guard{mtx_};
  return changed_.wait_until(guard, deadline, [&] {
    auto i = services_.find(service);
    return i == services_.end() || summary_locked(i->second) == "healthy";
  });
}

} // namespace faultd::state
