#pragma once

// Where a managed service with a home node (`node:`) runs, and the epochs
// that fence it.
//
// A service with `node: H` runs on H until a failover places it elsewhere:
// the replicated registry key placement/<service> = "epoch=E node=N" names
// the node that runs it now, and every promotion raises the epoch by one.
// Each node runs the service exactly when the placement (or, with none
// recorded, the home) names it, and stops its copy as soon as it sees a
// placement that names another node (fencing): after a partition heals,
// the replicated map holds one placement per service (the highest epoch,
// by the map's rule, the later write), so one node runs it.
//
// Plain functions over the registry; thread-safe as the registry is.

#include <cstdint>
#include <optional>
#include <string>

#include "faultd/config.hpp"
#include "state/registry.hpp"

namespace faultd::state {

struct placement {
  uint64_t epoch = 0;
  std::string node;
};

/// "placement/<service>".
std::string placement_key(const std::string& service);

/// "epoch=E node=N"; nullopt for anything else.
std::optional<placement> parse_placement(const std::string& value);
std::string format_placement(const placement& p);

/// The placement recorded for `service` (nullopt: none, or unreadable).
std::optional<placement> placement_of(const registry& reg, const std::string& service);

/// The node that runs `svc` now: the recorded placement's node, else its
/// home; "" for a service without `node:` (it runs on every node).
std::string owner_of(const service_config& svc, const registry& reg);

/// Whether this node (`self`) runs `svc` now.
bool runs_here(const service_config& svc, const std::string& self, const registry& reg);

/// Members that must be alive for a cluster-wide action: `configured`
/// when set, else a majority of `known` (members not `left`, this node
/// included).
uint32_t quorum_needed(uint32_t configured, size_t known);

} // namespace faultd::state
