#include "actions/service_degradation.hpp"

#include <algorithm>

#include "faultd/log.hpp"

namespace faultd::actions {

namespace {

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}

} // namespace

std::string degradation_key(const std::string& service) {
  return "degradation/" + service;
}

std::vector<std::string> degradation_levels(const config& cfg, const std::string& service) {
  if (const auto* svc = cfg.find_service(service); svc != nullptr && !svc->degradation_levels.empty())
    return svc->degradation_levels;
  return service_config{}.degradation_levels;
}

std::string current_degradation(const config& cfg, const state::registry& reg,
                                const std::string& service) {
  if (auto v = reg.get(degradation_key(service)); v && !v->empty())
    return *v;
  return degradation_levels(cfg, service).front();
}

status restore_degradation(state::registry& reg, const std::string& service,
                           const std::string& level) {
  if (level.empty())
    return {errc::bad_request, "cannot restore an empty degradation level of " + service};
  auto st = reg.put(degradation_key(service), level);
  if (st)
    log::get("actions")->info("degradation-restored service={} level={}", service, level);
  return st;
}

service_degradation_executor::service_degradation_executor(const config& cfg,
                                                           state::registry& reg)
  : cfg_(cfg), reg_(reg) {
}

action_result service_degradation_executor::execute(const recovery_action& a,
                                                    const action_context& ctx) {
  action_result r;
  auto target = resolve_target(a, ctx);
  auto level = parameter(a, "degradation_level");
  if (level.empty())
    level = parameter(a, "level");
  auto levels = degradation_levels(cfg_, target);
  if (target.empty()) {
    r.st = {errc::bad_request, "service_degradation has no target"};
  } else if (level.empty()) {
    r.st = {errc::bad_request, "service_degradation of " + target
                                   + " has no degradation_level parameter (one of "
                                   + join(levels) + ")"};
  } else if (std::find(levels.begin(), levels.end(), level) == levels.end()) {
    r.st = {errc::bad_request, "unknown degradation level \"" + level + "\" for " + target
                                   + ": allowed are " + join(levels)};
  }
  if (!r.st) {
    r.note = r.st.message();
    return r;
  }
  auto previous = reg_.get(degradation_key(target));
  auto from = previous && !previous->empty() ? *previous : levels.front();
  if (auto st = reg_.put(degradation_key(target), level); !st) {
    r.st = st;
    r.note = "cannot set degradation of " + target + ": " + st.message();
    return r;
  }
  log::get("actions")->info("service-degraded incident={} service={} from={} to={}",
                            ctx.incident_id, target, from, level);
  r.rollback_data = from;
  r.note = "set degradation of " + target + " from " + from + " to " + level;
  return r;
}

status service_degradation_executor::rollback(const recovery_action& a, const action_context& ctx,
                                              const std::string& rollback_data) {
  auto target = resolve_target(a, ctx);
  auto st = reg_.restore(degradation_key(target), rollback_data);
  if (st)
    log::get("actions")->info("degradation-rolled-back service={} level={}", target,
                              rollback_data.empty()
                                ? "(default " + degradation_levels(cfg_, target).front() + ")"
                                : rollback_data);
  return st;
}

} // namespace faultd::actions
