#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "actions/executor.hpp"
#include "actions/builtin.hpp"
#include "actions/unavailable.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;

namespace {

/// An application's own executor: counts its calls.
class counting_executor final : public action_executor {
public:
  action_result execute(const recovery_action&, const action_context&) override {
    ++executed;
    action_result r;
    r.note = "custom";
    return r;
  }
  status rollback(const recovery_action&, const action_context&, const std::string&) override {
    ++rolled_back;
    return {};
  }
  int executed = 0;
  int rolled_back = 0;
};

recovery_action action_on(const std::string& target) {
  recovery_action a;
  a.target = target;
  return a;
}

action_context ctx_for(const std::string& component) {
  action_context ctx;
  ctx.component = component;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return ctx;
}

} // namespace

TEST_CASE("an executor registered for a type replaces the one registered before") {
  executor_registry reg;
  CHECK(reg.find(action_type::restart_service) == nullptr);
  auto builtin = std::make_shared<counting_executor>();
  auto custom = std::make_shared<counting_executor>();
  reg.add(action_type::restart_service, builtin);
  CHECK(reg.find(action_type::restart_service) == builtin.get());
  auto* old = reg.find(action_type::restart_service);

  reg.add(action_type::restart_service, custom);
  auto* found = reg.find(action_type::restart_service);
  REQUIRE(found == custom.get());
  auto r = found->execute(action_on("x"), ctx_for("x"));
  CHECK(r.note == "custom");
  CHECK(custom->executed == 1);
  CHECK(builtin->executed == 0);
  CHECK(reg.get(action_type::restart_service).get() == custom.get());
  CHECK(reg.find(action_type::failover) == nullptr);

  // A pointer found before the replacement still works.
  builtin.reset();
  CHECK(old->rollback(action_on("x"), ctx_for("x"), "").ok());

  reg.add(action_type::restart_service, nullptr);
  CHECK(reg.find(action_type::restart_service) == nullptr);
}

TEST_CASE("placeholder targets resolve to the incident's component, others are literal") {
  auto ctx = ctx_for("gw-mqtt");
  for (const char* t : {"", "${component}", "service_name", "overloaded_service",
                        "network_service", "backup_endpoint"})
    CHECK(resolve_target(action_on(t), ctx) == "gw-mqtt");
  CHECK(resolve_target(action_on("timeseries-db"), ctx) == "timeseries-db");
  CHECK(resolve_target(action_on("Service_Name"), ctx) == "Service_Name");
  CHECK(resolve_target(action_on("${component}-backup"), ctx) == "${component}-backup");
}

TEST_CASE("without a state sync, state_sync and data_restore fail as unavailable instead of pretending success") {
  unavailable_executor sync{action_type::state_sync, "this node runs no state sync"};
  auto r = sync.execute(action_on("gw"), ctx_for("gw"));
  CHECK(r.st.code() == errc::unavailable);
  CHECK(r.st.message() == "state_sync is not available: this node runs no state sync");
  CHECK(sync.rollback(action_on("gw"), ctx_for("gw"), r.rollback_data).ok());

  unavailable_executor restore{action_type::data_restore, "no snapshots on this node yet"};
  r = restore.execute(action_on("gw"), ctx_for("gw"));
  CHECK(r.st.code() == errc::unavailable);
  CHECK(r.st.message().rfind("data_restore is not available: ", 0) == 0);
}

TEST_CASE("durations in messages are rounded for people") {
  using std::chrono::milliseconds;
  using std::chrono::microseconds;
  CHECK(human_duration(milliseconds(250)) == "250ms");
  CHECK(human_duration(microseconds(299'800)) == "300ms");
  CHECK(human_duration(milliseconds(1'999)) == "2s");
  CHECK(human_duration(milliseconds(1'520)) == "1.5s");
}

TEST_CASE("the built-in executors cover every action type") {
  faultd::test::temp_dir dir;
  config cfg;
  process::supervisor sup;
  state::registry reg{dir.path()};
  state::health_board health;
  circuit_board circuits{&reg};
  executor_registry executors;
  builtin_deps deps;
  deps.cfg = &cfg;
  deps.supervisor = &sup;
  deps.registry = &reg;
  deps.health = &health;
  deps.circuits = &circuits;
  register_builtin_executors(executors, deps);
  for (auto t : all_action_types())
    CHECK_MESSAGE(executors.find(t) != nullptr, to_string(t));
  auto r = executors.find(action_type::state_sync)->execute(action_on("gw"), ctx_for("gw"));
  CHECK(r.st.code() == errc::unavailable);

  // An application's own type, by name; built-in names are not for it.
  struct noop final : action_executor {
    action_result execute(const recovery_action&, const action_context&) override {
      action_result r;
      r.note = "noop";
      return r;
    }
    status rollback(const recovery_action&, const action_context&, const std::string&) override {
      return {};
    }
  };
  auto mine = std::make_shared<noop>();
  CHECK(executors.add_custom("drain_queue", mine).ok());
  recovery_action custom;
  custom.type = action_type::custom;
  custom.custom_type = "drain_queue";
  CHECK(executors.get(custom).get() == mine.get());
  custom.custom_type = "other";
  CHECK(executors.get(custom).get() == nullptr);
  for (const std::string& bad : {std::string{"restart_service"}, std::string{"custom"},
                                std::string{}, std::string{"a b"}, std::string{"x/y"},
                                std::string(65, 'a')})
    CHECK_MESSAGE(!executors.add_custom(bad, mine).ok(), bad);
  CHECK(executors.get(action_on("gw")).get() == executors.find(action_type::restart_service));

  // Without a supervisor there is no restart executor, and no pretending.
  executor_registry partial;
  deps.supervisor = nullptr;
  register_builtin_executors(partial, deps);
  CHECK(partial.find(action_type::restart_service) == nullptr);
  CHECK(partial.find(action_type::load_balancing) != nullptr);
}
