#pragma once

// load_balancing: changes the weights of a service's instances in the
// registry (key "weights/<service>", value "a=70,b=30"), which load
// balancers and applications read.

#include <map>
#include <string>
#include <vector>

#include "actions/executor.hpp"
#include "state/registry.hpp"

namespace faultd::actions {

/// The registry key of a service's instance weights.
std::string weights_key(const std::string& service);

/// Weights summing to 100 spread equally over `instances` (the first ones
/// get the remainder: 3 instances -> 34, 33, 33). Empty input -> empty map.
std::map<std::string, int> equal_weights(const std::vector<std::string>& instances);

/// Executes load_balancing actions. Parameters, first match wins:
///   weights: "a=70,b=30"            explicit weights (state::parse_weights)
///   drain: "a"                      a gets 0, the other instances share 100
///   load_distribution: round_robin  equal weights over the instances
/// The instances are parameters["instances"] ("a,b,c") if given, else the
/// names in the current weights, else one instance named after the target.
/// Other load_distribution values (least_connections, ...) are
/// errc::bad_request: nothing here measures connections.
/// rollback_data is the previous value ("" = none: rollback erases the key).
class load_balancing_executor final : public action_executor {
public:
  /// `reg` must outlive the executor.
  explicit load_balancing_executor(state::registry& reg);

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  state::registry& reg_;
};

} // namespace faultd::actions
