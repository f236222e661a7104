#include "actions/load_balancing.hpp"

#include <algorithm>

#include "faultd/log.hpp"

namespace faultd::actions {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    auto b = cur.find_first_not_of(" \t");
    auto e = cur.find_last_not_of(" \t");
    if (b != std::string::npos)
      out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (char c : s) {
    if (c == ',')
      flush();
    else
      cur.push_back(c);
  }
  flush();
  return out;
}

} // namespace

std::string weights_key(const std::string& service) {
  return "weights/" + service;
}

std::map<std::string, int> equal_weights(const std::vector<std::string>& instances) {
  std::vector<std::string> names = instances;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::map<std::string, int> out;
  if (names.empty())
    return out;
  int n = static_cast<int>(names.size());
  for (int i = 0; i < n; ++i)
    out[names[static_cast<size_t>(i)]] = 100 / n + (i < 100 % n ? 1 : 0);
  return out;
}

load_balancing_executor::load_balancing_executor(state::registry& reg) : reg_(reg) {
}

action_result load_balancing_executor::execute(const recovery_action& a,
                                               const action_context& ctx) {
  action_result r;
  auto fail = [&r](errc code, std::string msg) {
    r.st = status{code, msg};
    r.note = std::move(msg);
    return r;
  };
  auto target = resolve_target(a, ctx);
  if (target.empty())
    return fail(errc::bad_request, "load_balancing has no target");
  auto key = weights_key(target);
  auto previous = reg_.get(key);
  std::map<std::string, int> current;
  if (previous)
    if (auto w = state::parse_weights(*previous))
      current = *w;

  std::vector<std::string> instances = split_list(parameter(a, "instances"));
  if (instances.empty())
    for (const auto& [name, w] : current)
      instances.push_back(name);
  // Without instances there is nothing to balance: weights such as
  // "resource:cpu=100" would mean nothing to anyone reading them.
  auto nothing_to_balance = [&] {
    return fail(errc::bad_request, "no instances of " + target
                                     + " to balance (give parameters.instances or weights, or "
                                       "write weights/" + target + " first)");
  };

  std::map<std::string, int> next;
  std::string how;
  if (auto explicit_w = parameter(a, "weights"); !explicit_w.empty()) {
    auto w = state::parse_weights(explicit_w);
    if (!w || w->empty())
      return fail(errc::bad_request, "bad weights \"" + explicit_w + "\" for " + target
                                         + ": expected name=weight,... (e.g. a=70,b=30)");
    next = *w;
    how = "explicit";
  } else if (auto drain = parameter(a, "drain"); !drain.empty()) {
    if (instances.empty())
      return nothing_to_balance();
    if (std::find(instances.begin(), instances.end(), drain) == instances.end()) {
      std::string known;
      for (const auto& i : instances)
        known += (known.empty() ? "" : ",") + i;
      return fail(errc::bad_request,
                  "cannot drain " + drain + ": not an instance of " + target + " (" + known + ")");
    }
    std::vector<std::string> rest;
    for (const auto& i : instances)
      if (i != drain)
        rest.push_back(i);
    if (rest.empty())
      return fail(errc::bad_request,
                  "cannot drain " + drain + ": it is the only instance of " + target);
    next = equal_weights(rest);
    next[drain] = 0;
    how = "drain " + drain;
  } else if (auto dist = parameter(a, "load_distribution"); !dist.empty()) {
    if (dist != "round_robin")
      return fail(errc::bad_request,
                  "load_distribution " + dist + " is not supported for " + target
                      + ": supported are round_robin, or the weights or drain parameters");
    if (instances.empty())
      return nothing_to_balance();
    next = equal_weights(instances);
    how = "round_robin";
  } else {
    return fail(errc::bad_request, "load_balancing of " + target
                                       + " needs a weights, drain or load_distribution parameter");
  }

  auto value = state::format_weights(next);
  if (auto st = reg_.put(key, value); !st)
    return fail(st.code(), "cannot set weights of " + target + ": " + st.message());
  log::get("actions")->info("weights-changed incident={} service={} from={} to={} how={}",
                            ctx.incident_id, target, previous.value_or("(none)"), value, how);
  r.rollback_data = previous.value_or("");
  r.note = "set weights of " + target + " to " + value + " (" + how + ", was "
           + (previous ? *previous : std::string{"unset"}) + ")";
  return r;
}

status load_balancing_executor::rollback(const recovery_action& a, const action_context& ctx,
                                         const std::string& rollback_data) {
  auto target = resolve_target(a, ctx);
  auto st = reg_.restore(weights_key(target), rollback_data);
  if (st)
    log::get("actions")->info("weights-rolled-back service={} weights={}", target,
                              rollback_data.empty() ? "(none)" : rollback_data);
  return st;
}

} // namespace faultd::actions
