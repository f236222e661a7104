#pragma once

// Recovery strategy selection: which configured strategy answers an
// incident (docs/ARCHITECTURE.md, "One node: the pipeline"). A plain class
// over the config's strategies; the recovery manager asks it once per incident.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/domain.hpp"

namespace faultd::recovery {

/// True for a component only a strategy with a matching component pattern
/// may recover (see below).
bool explicit_only(std::string_view component);

/// Chooses a recovery strategy for an incident.
///
/// A strategy MATCHES an incident when all of these hold:
/// - the incident's fault type is in `fault_types` (an empty list matches no
///   type),
/// - the incident's severity is in `severity_levels` (an empty list matches
///   no severity),
/// - `component_pattern` is empty, or faultd::glob_match(component_pattern,
///   component) is true. Components that are not services or nodes
///   (explicit_only: "device:", "gateway:", "devices:", "alerting:") match
///   only a strategy whose pattern names them: the built-in strategies
///   restart and fail over services, which a silent sensor or a dead alert
///   sink is not.
///
/// Among matching strategies the one chosen is, in this order of rules:
/// 1. the one with the highest `priority`;
/// 2. on equal priority, one WITH a component pattern beats one without (it
///    is more specific);
/// 3. then the lexicographically smallest id.
/// The order is total, so the choice is deterministic.
///
/// Immutable after construction, so it may be read from several threads.
class strategy_selector {
public:
  /// Selects among `strategies` (keyed by id, as config::strategies). The
  /// map's keys are authoritative: a strategy's `id` field is set to its key.
  explicit strategy_selector(std::map<std::string, recovery_strategy> strategies);

  /// The strategy to run for `x` (by its type, severity and component), or
  /// nullptr when none matches. The pointer stays valid for the selector's
  /// lifetime.
  const recovery_strategy* select(const incident& x) const;

  /// As select(incident), from the three fields that matter.
  const recovery_strategy* select(fault_type type, fault_severity severity,
                                  std::string_view component) const;

  /// Every matching strategy, best first (the first one is what select()
  /// returns); for explaining a choice in logs and faultctl.
  std::vector<const recovery_strategy*> candidates(const incident& x) const;

  /// As candidates(incident), from the three fields that matter.
  std::vector<const recovery_strategy*> candidates(fault_type type, fault_severity severity,
                                                   std::string_view component) const;

  /// The escalation ladder's next rung: the best matching strategy for `x`
  /// whose id is not in `tried`, or nullptr when every match has run.
  const recovery_strategy* next(const incident& x, const std::vector<std::string>& tried) const;

  /// The strategy with id `id`, or nullptr.
  const recovery_strategy* find(const std::string& id) const;

  /// All strategies, by id.
  const std::map<std::string, recovery_strategy>& strategies() const { return strategies_; }

  /// True when `s` matches (type, severity, component) by the rules above.
  static bool matches(const recovery_strategy& s, fault_type type, fault_severity severity,
                      std::string_view component);

  /// True when `a` is chosen over `b` by the tie rules above (a strict
  /// ordering: priority, then specificity, then id).
  static bool better(const recovery_strategy& a, const recovery_strategy& b);

private:
  std::map<std::string, recovery_strategy> strategies_;
};

} // namespace faultd::recovery
