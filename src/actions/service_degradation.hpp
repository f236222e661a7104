#pragma once

// service_degradation: sets a service's degradation level in the registry,
// where applications read it (key "degradation/<service>", e.g. the file
// <data_dir>/registry/degradation/gw-mqtt holding "basic").

#include <string>
#include <vector>

#include "actions/executor.hpp"
#include "faultd/config.hpp"
#include "state/registry.hpp"

namespace faultd::actions {

/// The registry key of a service's degradation level.
std::string degradation_key(const std::string& service);

/// The service's declared levels, best first; the default
/// {"full","reduced","basic","minimal"} for a service the config lacks.
std::vector<std::string> degradation_levels(const config& cfg, const std::string& service);

/// The service's current level: the registry value, or the first level
/// when none is stored.
std::string current_degradation(const config& cfg, const state::registry& reg,
                                const std::string& service);

/// Writes `level` back as the service's level: the automatic restore when an
/// incident closes (the caller passes the level saved before degrading, or
/// the first level). An empty level is errc::bad_request.
status restore_degradation(state::registry& reg, const std::string& service,
                           const std::string& level);

/// Executes service_degradation actions.
///
/// parameters["degradation_level"] (or "level") names the new level; it must
/// be one of the target's degradation_levels (errc::bad_request naming the
/// allowed ones otherwise). rollback_data is the previous level (the first
/// level when none was stored); rollback() writes it back (an empty
/// rollback_data erases the key, which also reads as the first level).
class service_degradation_executor final : public action_executor {
public:
  /// Both must outlive the executor.
  service_degradation_executor(const config& cfg, state::registry& reg);

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  const config& cfg_;
  state::registry& reg_;
};

} // namespace faultd::actions
