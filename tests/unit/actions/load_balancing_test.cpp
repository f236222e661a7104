#include <doctest/doctest.h>

#include <string>

#include "actions/load_balancing.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;
using faultd::test::read_file;
using faultd::test::temp_dir;

namespace {

recovery_action balance(const std::string& target, const std::string& key,
                        const std::string& value) {
  recovery_action a;
  a.type = action_type::load_balancing;
  a.target = target;
  a.parameters[key] = value;
  return a;
}

action_context ctx_for(const std::string& component) {
  action_context ctx;
  ctx.incident_id = "inc-9";
  ctx.component = component;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return ctx;
}

} // namespace

TEST_CASE("explicit weights are written and rollback erases a key that did not exist") {
  temp_dir dir;
  state::registry reg{dir.path()};
  load_balancing_executor ex{reg};
  auto a = balance("mapper", "weights", "a=70,b=30");
  auto ctx = ctx_for("x");
  auto r = ex.execute(a, ctx);
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(read_file(dir.file("weights/mapper")) == "a=70,b=30");
  CHECK(r.rollback_data.empty());
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK_FALSE(reg.get("weights/mapper").has_value());

  r = ex.execute(balance("mapper", "weights", "a=70,,b"), ctx);
  CHECK(r.st.code() == errc::bad_request);
  CHECK_FALSE(reg.get("weights/mapper").has_value());
}

TEST_CASE("round_robin spreads equal weights over the current instances and rollback restores") {
  temp_dir dir;
  state::registry reg{dir.path()};
  REQUIRE(reg.put("weights/mapper", "a=80,b=10,c=10").ok());
  load_balancing_executor ex{reg};
  auto a = balance("mapper", "load_distribution", "round_robin");
  auto ctx = ctx_for("x");
  auto r = ex.execute(a, ctx);
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(read_file(dir.file("weights/mapper")) == "a=34,b=33,c=33");
  CHECK(r.rollback_data == "a=80,b=10,c=10");
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(read_file(dir.file("weights/mapper")) == "a=80,b=10,c=10");
}

TEST_CASE("round_robin takes the instances parameter, and refuses when there is nothing to balance") {
  temp_dir dir;
  state::registry reg{dir.path()};
  load_balancing_executor ex{reg};
  auto a = balance("mapper", "load_distribution", "round_robin");
  a.parameters["instances"] = "m1, m2";
  REQUIRE(ex.execute(a, ctx_for("x")).st.ok());
  CHECK(reg.get("weights/mapper") == std::optional<std::string>{"m1=50,m2=50"});

  // A resource (or a service without instances) has no weights to write.
  auto none = ex.execute(balance("service_name", "load_distribution", "round_robin"),
                         ctx_for("resource:cpu"));
  CHECK(none.st.code() == errc::bad_request);
  CHECK(none.st.message().find("no instances of resource:cpu to balance") != std::string::npos);
  CHECK_FALSE(reg.get("weights/resource:cpu"));
}

TEST_CASE("drain gives an instance weight 0 and the others share 100") {
  temp_dir dir;
  state::registry reg{dir.path()};
  REQUIRE(reg.put("weights/mapper", "a=50,b=25,c=25").ok());
  load_balancing_executor ex{reg};
  auto a = balance("mapper", "drain", "b");
  auto ctx = ctx_for("x");
  auto r = ex.execute(a, ctx);
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(read_file(dir.file("weights/mapper")) == "a=50,b=0,c=50");
  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(read_file(dir.file("weights/mapper")) == "a=50,b=25,c=25");

  r = ex.execute(balance("mapper", "drain", "z"), ctx);
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message() == "cannot drain z: not an instance of mapper (a,b,c)");
  r = ex.execute(balance("solo", "drain", "solo"), ctx);
  CHECK(r.st.code() == errc::bad_request);
}

TEST_CASE("an unsupported distribution or no parameter at all is refused and changes nothing") {
  temp_dir dir;
  state::registry reg{dir.path()};
  load_balancing_executor ex{reg};
  auto r = ex.execute(balance("mapper", "load_distribution", "least_connections"), ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message().find("least_connections is not supported") != std::string::npos);
  r = ex.execute(balance("mapper", "max_weight", "10"), ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(reg.list("weights/").empty());
}
