#pragma once

// faultd's Prometheus metrics (README, "Metrics"). The hub owns a
// prometheus-cpp registry with the families the actors update as things
// happen (check results, incidents, recoveries, alerts, storage commits),
// and a collector that reads, at scrape time, what other parts of the node
// already keep (the services' states and restarts, the members' states).
// prometheus-cpp is thread-safe: any actor or worker thread may update it.
//
// It also keeps the node's heartbeat: an actor beats every second, and
// /healthz (and faultd_healthy) say whether the last beat is recent, so a
// wedged actor system is seen from outside.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "faultd/time.hpp"

namespace prometheus {
class Registry;
class Collectable;
} // namespace prometheus

namespace faultd::metrics {

/// A service as the scrape sees it.
struct service_sample {
  std::string name;
  std::string state;  ///< running, stopped, backoff, ...
  uint64_t restarts = 0;
};

/// What the scrape reads from the rest of the node (each may be empty).
struct sources {
  std::function<std::vector<service_sample>()> services;
  /// Members by state: {"alive": 3, "dead": 1}.
  std::function<std::map<std::string, uint64_t>()> members;
};

class hub {
public:
  /// `stale_after`: /healthz fails once the heartbeat is this old.
  explicit hub(duration stale_after = seconds_d(5));
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  /// What /metrics serves: the registry and the scrape-time collector.
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables() const;

  void set_sources(sources s);

  void check_result(const std::string& service, const std::string& check, bool ok,
                    duration latency);
  /// Open incidents by (fault type, severity); pairs not listed are 0.
  void incidents_open(const std::map<std::pair<std::string, std::string>, uint64_t>& counts);
  void recovery_done(const std::string& strategy, const std::string& status, duration took);
  void action_done(const std::string& type, const std::string& status, duration took);
  void alert_raised(const std::string& severity);
  void alert_sent(const std::string& sink);
  void alert_dropped(const std::string& sink);
  void storage_commit(duration took);
  /// Device messages the devices detector took in, dropped because its
  /// buffer was full, and dropped as malformed (control characters in a
  /// device or gateway id, a sleep announcement it cannot read).
  void device_messages(uint64_t taken, uint64_t dropped, uint64_t malformed);
  /// Devices known and silent now.
  void devices(uint64_t known, uint64_t silent);

  /// The node's heartbeat (steady clock).
  void beat();
  /// How long since the last beat (since construction when none).
  duration since_beat() const;
  /// Healthy: a beat within `stale_after`.
  bool healthy() const { return since_beat() < stale_after_; }

private:
  struct impl;
  std::unique_ptr<impl> p_;
  duration stale_after_;
};

} // namespace faultd::metrics
