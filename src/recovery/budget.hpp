#pragma once

// The cluster-wide restart budget (recovery.max_concurrent_cluster): when
// many services or nodes fail at once, at most `limit` recoveries run at a
// time in the whole cluster, and each starts after a random jitter, so a
// rack coming back does not restart everything in the same second.
//
// No coordinator: every node publishes its claims in the replicated map
// under recovery/budget/<node> (budget_key), one line per recovery it runs
// or wants to run, and every node orders the claims of the members it sees
// alive or suspect the same way: running claims first, then waiting claims
// by (claimed at, node, incident). A waiting claim may start once
//   running + (waiting claims ordered before it) < limit
// and it has waited `settle` (so that claims made a moment earlier on other
// nodes have reached this one: only while other members are alive) plus its
// jitter, drawn once from [0, jitter) when it was claimed. A dead or left
// member's claims do not count. Two nodes can exceed the limit together
// only if a claim takes longer than settle + jitter to spread (a gossip
// round on a LAN takes milliseconds). A node that cannot reach the
// replicated map counts its own claims only.
//
// A plain class on injected time and randomness: the recovery manager owns
// one and drives it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/time.hpp"
#include "recovery/backoff.hpp"

namespace faultd::recovery {

/// One recovery's claim on the budget.
struct budget_claim {
  std::string node;
  std::string incident;
  int64_t since_ms = 0;  ///< when it was claimed (wall clock, ms since the epoch)
  bool running = false;  ///< it holds a slot (else it waits for one)
};

/// Where the nodes' claims live in the replicated map: budget_prefix + node.
constexpr std::string_view budget_prefix = "recovery/budget/";
std::string budget_key(const std::string& node);

/// One line per claim: "<since_ms> running|waiting <incident>".
std::string encode_claims(const std::vector<budget_claim>& claims);

/// Reads encode_claims' output for `node`. Lines that do not parse are
/// skipped and counted in `*bad` (if given).
std::vector<budget_claim> decode_claims(const std::string& node, const std::string& value,
                                        size_t* bad = nullptr);

/// A waiting claim that may start now.
struct budget_grant {
  std::string incident;
  duration waited{0};  ///< since it was claimed
  /// Why it waited, for the incident: the budget it found full (who ran,
  /// how many were ahead) or, if it found room, the settle and jitter.
  std::string why;
};

class cluster_budget {
public:
  /// `limit` > 0 recoveries at a time in the cluster; `random` returns
  /// values in [0, 1).
  cluster_budget(std::string self, uint32_t limit, duration settle, duration jitter,
                 random_source random);

  /// A recovery of `incident` asks for a slot at `now` (a waiting claim).
  /// An incident that holds or waits already keeps its claim.
  void claim(const std::string& incident, timestamp now);

  /// A recovery that runs without asking (resumed from the journal after a
  /// restart, or adopted): a running claim from `now`.
  void hold(const std::string& incident, timestamp now);

  /// Its recovery ended, or its incident closed while it waited.
  void release(const std::string& incident);

  bool waiting(const std::string& incident) const;
  bool holds(const std::string& incident) const;
  size_t waiting_count() const;
  size_t running_count() const;

  /// The waiting claims that may start now, in order; they are running
  /// from now on. `others`: the claims other nodes published, of the
  /// members alive or suspect now (this node's own lines are ignored);
  /// `peers_alive`: whether any other member is alive (settle applies).
  std::vector<budget_grant> grant(const std::vector<budget_claim>& others, bool peers_alive,
                                  timestamp now);

  /// When the next waiting claim's settle and jitter are over (nullopt
  /// when nothing waits): the earliest time grant() can start something
  /// that the budget has room for.
  std::optional<timestamp> next_ready(bool peers_alive) const;

  /// This node's claims as encode_claims writes them.
  std::string encode() const;

  uint32_t limit() const { return limit_; }

private:
  struct mine {
    budget_claim claim;
    duration jitter{0};
    /// The first time it found the budget full: "2 running (n1 1, n3 1), 1
    /// waiting ahead of it (n2 1)".
    std::string found_full;
    std::string last_full;  ///< the last time it found the budget full
  };

  /// When `m` has waited its settle and jitter.
  static timestamp ready_at(const mine& m, duration settle);

  std::string self_;
  uint32_t limit_;
  duration settle_;
  duration jitter_;
  random_source random_;
  std::map<std::string, mine> mine_;  ///< by incident
};

} // namespace faultd::recovery
