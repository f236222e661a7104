#pragma once

// Start-up order (depends_on): a service starts once every service it
// depends on is ready, i.e. its checks pass or it has run for its
// ready_after (default 1 s), whichever comes first. Services without
// dependencies start at once. Cycles are refused by the config, so every
// service starts eventually, as long as its dependencies run.
//
// A plain class: the caller says which dependencies are ready now.

#include <functional>
#include <string>
#include <vector>

#include "faultd/config.hpp"

namespace faultd::process {

class start_order {
public:
  explicit start_order(std::vector<service_config> services);

  /// The services that may start now, each returned once: those whose
  /// dependencies have all been returned before and are `ready` now.
  std::vector<service_config> next(const std::function<bool(const service_config&)>& ready);

  /// True once every service was returned.
  bool done() const { return waiting_.empty(); }

  /// The services still waiting, with what each waits for (for logs).
  std::vector<std::pair<std::string, std::vector<std::string>>> waiting() const;

private:
  std::vector<service_config> all_;
  std::vector<size_t> waiting_;     ///< indexes into all_, in config order
  std::vector<bool> started_;       ///< by index
  size_t index_of(const std::string& name) const;
};

} // namespace faultd::process
