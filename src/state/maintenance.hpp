#pragma once

// Services in maintenance (faultctl maintenance SERVICE on|off): detection
// goes on and incidents are recorded, but no recovery strategy runs for them
// and no alert is sent. Persisted in the registry as maintenance/<service>
// = "on" (written by a thread of its own: callers are actors), and read back
// at start, so a maintenance window survives a faultd restart.
//
// Thread-safe.

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "state/registry.hpp"
#include "state/registry_writer.hpp"

namespace faultd::state {

class maintenance_set {
public:
  /// `reg` may be null (nothing persisted); it must outlive the set.
  explicit maintenance_set(registry* reg);

  /// Puts `service` into maintenance or takes it out; true if that changed anything.
  bool set(const std::string& service, bool on);

  /// Whether `service` is in maintenance.
  bool contains(const std::string& service) const;

  /// Every service in maintenance.
  std::set<std::string> list() const;

  /// Waits until the registry shows every change made so far.
  void flush();

private:
  mutable std::mutex mtx_;
  std::set<std::string> on_;
  std::unique_ptr<registry_writer> writer_;
};

} // namespace faultd::state
