#include <doctest/doctest.h>

#include "actions/service_degradation.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;
using faultd::test::read_file;
using faultd::test::temp_dir;

namespace {

recovery_action degrade(const std::string& target, const std::string& level) {
  recovery_action a;
  a.type = action_type::service_degradation;
  a.target = target;
  a.parameters["degradation_level"] = level;
  return a;
}

action_context ctx_for(const std::string& component) {
  action_context ctx;
  ctx.incident_id = "inc-7";
  ctx.component = component;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return ctx;
}

config with_mapper() {
  config cfg;
  service_config s;
  s.name = "mapper";
  s.degradation_levels = {"all-ontologies", "core-ontology", "passthrough"};
  cfg.services.push_back(s);
  return cfg;
}

} // namespace

TEST_CASE("degradation writes the level to the registry file and rollback restores the previous") {
  temp_dir dir;
  auto cfg = with_mapper();
  state::registry reg{dir.path()};
  REQUIRE(reg.init_status().ok());
  service_degradation_executor ex{cfg, reg};

  auto a = degrade("service_name", "core-ontology");
  auto ctx = ctx_for("mapper");
  CHECK(current_degradation(cfg, reg, "mapper") == "all-ontologies");
  auto r = ex.execute(a, ctx);
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(read_file(dir.file("degradation/mapper")) == "core-ontology");
  CHECK(r.rollback_data == "all-ontologies");
  CHECK(r.note == "set degradation of mapper from all-ontologies to core-ontology");

  auto r2 = ex.execute(degrade("mapper", "passthrough"), ctx);
  REQUIRE(r2.st.ok());
  CHECK(r2.rollback_data == "core-ontology");
  CHECK(read_file(dir.file("degradation/mapper")) == "passthrough");

  CHECK(ex.rollback(degrade("mapper", "passthrough"), ctx, r2.rollback_data).ok());
  CHECK(read_file(dir.file("degradation/mapper")) == "core-ontology");
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(read_file(dir.file("degradation/mapper")) == "all-ontologies");

  // A new registry on the same directory (another process) sees it.
  state::registry again{dir.path()};
  CHECK(current_degradation(cfg, again, "mapper") == "all-ontologies");
}

TEST_CASE("an unknown degradation level is refused naming the allowed ones") {
  temp_dir dir;
  auto cfg = with_mapper();
  state::registry reg{dir.path()};
  service_degradation_executor ex{cfg, reg};

  auto r = ex.execute(degrade("mapper", "basic"), ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message()
        == "unknown degradation level \"basic\" for mapper: allowed are all-ontologies, "
           "core-ontology, passthrough");
  CHECK_FALSE(reg.get("degradation/mapper").has_value());

  // A service the config lacks has the default levels.
  r = ex.execute(degrade("gw", "off"), ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message().find("full, reduced, basic, minimal") != std::string::npos);

  recovery_action no_level;
  no_level.type = action_type::service_degradation;
  no_level.target = "gw";
  r = ex.execute(no_level, ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
}

TEST_CASE("the level parameter may be spelled level, and default levels apply to unknown services") {
  temp_dir dir;
  config cfg;
  state::registry reg{dir.path()};
  service_degradation_executor ex{cfg, reg};
  recovery_action a;
  a.type = action_type::service_degradation;
  a.target = "gw";
  a.parameters["level"] = "basic";
  auto r = ex.execute(a, ctx_for("x"));
  REQUIRE(r.st.ok());
  CHECK(r.rollback_data == "full");
  CHECK(reg.get("degradation/gw") == std::optional<std::string>{"basic"});
}

TEST_CASE("restore_degradation writes the level back when the incident closes") {
  temp_dir dir;
  state::registry reg{dir.path()};
  REQUIRE(reg.put("degradation/gw", "minimal").ok());
  CHECK(restore_degradation(reg, "gw", "full").ok());
  CHECK(read_file(dir.file("degradation/gw")) == "full");
  CHECK(restore_degradation(reg, "gw", "").code() == errc::bad_request);
}
