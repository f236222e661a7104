#include "actions/executor.hpp"

#include "faultd/time.hpp"
#include "faultd/util.hpp"

namespace faultd::actions {

action_executor::~action_executor() = default;

void executor_registry::add(action_type type, std::shared_ptr<action_executor> ex) {
  add_named(std::string{to_string(type)}, std::move(ex));
}

status executor_registry::add_custom(const std::string& name,
                                     std::shared_ptr<action_executor> ex) {
  if (auto st = check_custom_action_name(name); !st.ok())
    return st;
  add_named(name, std::move(ex));
  return {};
}

void executor_registry::add_named(const std::string& name, std::shared_ptr<action_executor> ex) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = executors_.find(name);
  if (i != executors_.end()) {
    retired_.push_back(std::move(i->second));
    executors_.erase(i);
  }
  if (ex)
    executors_.emplace(name, std::move(ex));
}

action_executor* executor_registry::find(action_type type) const {
  return get(std::string{to_string(type)}).get();
}

std::shared_ptr<action_executor> executor_registry::get(action_type type) const {
  return get(std::string{to_string(type)});
}

std::shared_ptr<action_executor> executor_registry::get(const recovery_action& a) const {
  return get(std::string{action_name(a)});
}

std::shared_ptr<action_executor> executor_registry::get(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = executors_.find(name);
  return i == executors_.end() ? nullptr : i->second;
}

status check_custom_action_name(const std::string& name) {
  if (!is_extension_name(name) || name == "custom" || parse_action_type(name))
    return {errc::bad_request, "custom action type \"" + name
                                 + "\": a name of letters, digits, _ and - that no built-in "
                                   "type has"};
  return {};
}

std::string resolve_target(const recovery_action& a, const action_context& ctx) {
  static const char* const placeholders[] = {"",
                                             "${component}",
                                             "service_name",
                                             "overloaded_service",
                                             "network_service",
                                             "backup_endpoint"};
  for (const char* p : placeholders)
    if (a.target == p)
      return ctx.component;
  return a.target;
}

std::chrono::nanoseconds time_left(const action_context& ctx) {
  auto left = ctx.deadline - std::chrono::steady_clock::now();
  return left.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
                          : std::chrono::nanoseconds{0};
}

std::string parameter(const recovery_action& a, const std::string& key) {
  auto i = a.parameters.find(key);
  return i == a.parameters.end() ? std::string{} : i->second;
}

} // namespace faultd::actions
