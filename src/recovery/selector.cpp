#include "recovery/selector.hpp"

#include <algorithm>
#include <utility>

#include "faultd/util.hpp"

namespace faultd::recovery {

strategy_selector::strategy_selector(std::map<std::string, recovery_strategy> strategies)
    : strategies_(std::move(strategies)) {
  for (auto& [id, s] : strategies_)
    s.id = id;
}

bool explicit_only(std::string_view component) {
  for (std::string_view prefix : {"device:", "gateway:", "devices:", "alerting:"})
    if (component.substr(0, prefix.size()) == prefix)
      return true;
  return false;
}

bool strategy_selector::matches(const recovery_strategy& s, fault_type type,
                                fault_severity severity, std::string_view component) {
  auto has = [](const auto& xs, auto x) { return std::find(xs.begin(), xs.end(), x) != xs.end(); };
  if (s.component_pattern.empty() && explicit_only(component))
    return false;
  return has(s.fault_types, type) && has(s.severity_levels, severity) &&
         (s.component_pattern.empty() || glob_match(s.component_pattern, component));
}

bool strategy_selector::better(const recovery_strategy& a, const recovery_strategy& b) {
  if (a.priority != b.priority)
    return a.priority > b.priority;
  bool a_specific = !a.component_pattern.empty();
  bool b_specific = !b.component_pattern.empty();
  if (a_specific != b_specific)
    return a_specific;
  return a.id < b.id;
}

std::vector<const recovery_strategy*>
strategy_selector::candidates(fault_type type, fault_severity severity,
                              std::string_view component) const {
  std::vector<const recovery_strategy*> out;
  for (const auto& [id, s] : strategies_)
    if (matches(s, type, severity, component))
      out.push_back(&s);
  std::sort(out.begin(), out.end(),
            [](const recovery_strategy* a, const recovery_strategy* b) { return better(*a, *b); });
  return out;
}

std::vector<const recovery_strategy*> strategy_selector::candidates(const incident& x) const {
  return candidates(x.type, x.severity, x.component);
}

const recovery_strategy* strategy_selector::select(fault_type type, fault_severity severity,
                                                   std::string_view component) const {
  const recovery_strategy* best = nullptr;
  for (const auto& [id, s] : strategies_)
    if (matches(s, type, severity, component) && (best == nullptr || better(s, *best)))
      best = &s;
  return best;
}

const recovery_strategy* strategy_selector::select(const incident& x) const {
  return select(x.type, x.severity, x.component);
}

const recovery_strategy* strategy_selector::next(const incident& x,
                                                  const std::vector<std::string>& tried) const {
  for (const auto* s : candidates(x))
    if (std::find(tried.begin(), tried.end(), s->id) == tried.end())
      return s;
  return nullptr;
}

const recovery_strategy* strategy_selector::find(const std::string& id) const {
  auto i = strategies_.find(id);
  return i == strategies_.end() ? nullptr : &i->second;
}

} // namespace faultd::recovery
