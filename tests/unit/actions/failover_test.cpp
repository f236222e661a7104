#include <doctest/doctest.h>

#include <string>

#include "actions/failover.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;
using faultd::test::read_file;
using faultd::test::temp_dir;

namespace {

recovery_action failover_of(const std::string& target) {
  recovery_action a;
  a.type = action_type::failover;
  a.target = target;
  return a;
}

action_context ctx_for(const std::string& component) {
  action_context ctx;
  ctx.incident_id = "inc-3";
  ctx.component = component;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return ctx;
}

config with_gateway() {
  config cfg;
  service_config s;
  s.name = "mqtt-gateway";
  s.backup_node = "edge-2";
  cfg.services.push_back(s);
  return cfg;
}

} // namespace

TEST_CASE("failover on a single node fails: the backup is not reachable without membership") {
  temp_dir dir;
  auto cfg = with_gateway();
  state::registry reg{dir.path()};
  failover_executor ex{cfg, reg};
  auto r = ex.execute(failover_of("mqtt-gateway"), ctx_for("x"));
  CHECK(r.st.code() == errc::unavailable);
  CHECK(r.st.message()
        == "backup node edge-2 is not reachable: no cluster membership on this node yet "
           "(single-node mode)");
  CHECK_FALSE(reg.get("primary/mqtt-gateway").has_value());
}

TEST_CASE("failover fails when membership does not see the backup") {
  temp_dir dir;
  auto cfg = with_gateway();
  state::registry reg{dir.path()};
  std::string asked;
  failover_executor ex{cfg, reg, [&](const std::string& node) {
                         asked = node;
                         return false;
                       }};
  auto a = failover_of("mqtt-gateway");
  a.parameters["backup_node"] = "edge-3"; // the parameter wins over the config
  auto r = ex.execute(a, ctx_for("x"));
  CHECK(r.st.code() == errc::unavailable);
  CHECK(asked == "edge-3");
  CHECK(r.st.message().rfind("backup node edge-3 is not reachable", 0) == 0);
  CHECK_FALSE(reg.get("primary/mqtt-gateway").has_value());
}

TEST_CASE("failover to a reachable backup moves the primary and rollback restores it") {
  temp_dir dir;
  auto cfg = with_gateway();
  state::registry reg{dir.path()};
  failover_executor ex{cfg, reg, [](const std::string& node) { return node == "edge-2"; }};
  auto ctx = ctx_for("mqtt-gateway");
  auto a = failover_of("service_name");

  // No primary recorded yet: rollback erases the key again.
  auto r = ex.execute(a, ctx);
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(read_file(dir.file("primary/mqtt-gateway")) == "edge-2");
  CHECK(r.rollback_data.empty());
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK_FALSE(reg.get("primary/mqtt-gateway").has_value());

  REQUIRE(reg.put("primary/mqtt-gateway", "edge-1").ok());
  r = ex.execute(a, ctx);
  REQUIRE(r.st.ok());
  CHECK(r.rollback_data == "edge-1");
  CHECK(read_file(dir.file("primary/mqtt-gateway")) == "edge-2");
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(read_file(dir.file("primary/mqtt-gateway")) == "edge-1");
}

TEST_CASE("failover without a backup node names the service") {
  temp_dir dir;
  config cfg;
  state::registry reg{dir.path()};
  failover_executor ex{cfg, reg, [](const std::string&) { return true; }};
  auto r = ex.execute(failover_of("timeseries-db"), ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message() == "no backup node configured for timeseries-db");
}
