#include "actions/builtin.hpp"

#include <memory>

#include "actions/circuit_breaker.hpp"
#include "actions/load_balancing.hpp"
#include "actions/restart_service.hpp"
#include "actions/service_degradation.hpp"
#include "actions/unavailable.hpp"
#include "faultd/log.hpp"

namespace faultd::actions {

void register_builtin_executors(executor_registry& reg, const builtin_deps& d) {
  auto missing = [](action_type t, const char* what) {
    log::get("actions")->warn("executor-not-registered type={} missing={}", to_string(t), what);
  };
  if (d.cfg != nullptr && d.supervisor != nullptr && d.health != nullptr)
    reg.add(action_type::restart_service,
            std::make_shared<restart_service_executor>(*d.cfg, *d.supervisor, *d.health));
  else
    missing(action_type::restart_service, "config, supervisor or health board");

  if (d.cfg != nullptr && d.registry != nullptr) {
    reg.add(action_type::service_degradation,
            std::make_shared<service_degradation_executor>(*d.cfg, *d.registry));
    reg.add(action_type::failover,
            std::make_shared<failover_executor>(*d.cfg, *d.registry, d.reachable,
                                                d.cluster));
  } else {
    missing(action_type::service_degradation, "config or registry");
    missing(action_type::failover, "config or registry");
  }

  if (d.registry != nullptr)
    reg.add(action_type::load_balancing, std::make_shared<load_balancing_executor>(*d.registry));
  else
    missing(action_type::load_balancing, "registry");

  if (d.circuits != nullptr)
    reg.add(action_type::circuit_breaker, std::make_shared<circuit_breaker_executor>(*d.circuits));
  else
    missing(action_type::circuit_breaker, "circuit board");

  if (d.state.sync && d.state.snapshot && d.state.latest && d.state.restore) {
    reg.add(action_type::state_sync, std::make_shared<state_sync_executor>(d.state));
    reg.add(action_type::data_restore, std::make_shared<data_restore_executor>(d.state));
  } else {
    reg.add(action_type::state_sync,
            std::make_shared<unavailable_executor>(action_type::state_sync,
                                                   "this node runs no state sync"));
    reg.add(action_type::data_restore,
            std::make_shared<unavailable_executor>(action_type::data_restore,
                                                   "this node runs no state sync"));
  }
}

} // namespace faultd::actions
