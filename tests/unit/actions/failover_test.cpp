#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "actions/failover.hpp"
#include "state/placement.hpp"
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

namespace {

/// Three nodes; "web" lives on edge-1 with edge-2 as its backup, "db" on
/// edge-1 with edge-3 as its backup.
config placed() {
  config cfg;
  cfg.node.id = "edge-2";
  for (auto [name, backup] : {std::pair{"web", "edge-2"}, std::pair{"db", "edge-3"}}) {
    service_config s;
    s.name = name;
    s.command = {"/bin/true"};
    s.node = "edge-1";
    s.backup_node = backup;
    cfg.services.push_back(s);
  }
  return cfg;
}

cluster_view view(size_t alive, size_t known, uint32_t quorum = 0) {
  return cluster_view{"edge-2", alive, known, quorum};
}

} // namespace

TEST_CASE("a dead node's services move to this node only where it is their backup, epoch 1") {
  temp_dir dir;
  auto cfg = placed();
  state::registry reg{dir.path()};
  bool edge1_alive = false;
  failover_executor ex{cfg, reg, [&](const std::string& node) {
                         return node != "edge-1" || edge1_alive;
                       },
                       [] { return view(2, 3); }};
  auto r = ex.execute(failover_of("backup_endpoint"), ctx_for("node:edge-1"));
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(reg.get("placement/web") == "epoch=1 node=edge-2");
  CHECK(reg.get("primary/web") == "edge-2");
  CHECK_FALSE(reg.get("placement/db")); // edge-3's to take over
  CHECK(r.note.find("took over web from edge-1") != std::string::npos);
  CHECK(r.note.find("db (backup edge-3)") != std::string::npos);
  CHECK(state::runs_here(cfg.services[0], "edge-2", reg));
  CHECK_FALSE(state::runs_here(cfg.services[0], "edge-1", reg));
  // Rolled back: home again, with a new epoch (epochs never repeat).
  REQUIRE(ex.rollback(failover_of("backup_endpoint"), ctx_for("node:edge-1"), r.rollback_data).ok());
  CHECK(reg.get("placement/web") == "epoch=2 node=edge-1");
  // A retry after edge-1 came back moves nothing.
  edge1_alive = true;
  r = ex.execute(failover_of("backup_endpoint"), ctx_for("node:edge-1"));
  CHECK(r.st.ok());
  CHECK(r.note == "node edge-1 is alive again: nothing to take over");
  CHECK(reg.get("placement/web") == "epoch=2 node=edge-1");
  // Nothing of edge-3's is edge-2's.
  failover_executor without_edge3{cfg, reg,
                                  [](const std::string& node) { return node != "edge-3"; },
                                  [] { return view(2, 3); }};
  r = without_edge3.execute(failover_of("backup_endpoint"), ctx_for("node:edge-3"));
  CHECK(r.st.ok());
  CHECK(r.note == "no service of edge-3 has this node as its backup");
}

TEST_CASE("without a quorum a failover promotes nothing and says so") {
  temp_dir dir;
  auto cfg = placed();
  state::registry reg{dir.path()};
  failover_executor ex{cfg, reg, [](const std::string& node) { return node != "edge-1"; },
                       [] { return view(1, 3); }};
  auto r = ex.execute(failover_of("backup_endpoint"), ctx_for("node:edge-1"));
  CHECK(r.st.code() == errc::unavailable);
  CHECK(r.st.message() == "no quorum: 1 of 3 members alive, 2 needed; nothing was promoted");
  CHECK_FALSE(reg.get("placement/web"));
  // By service too; and a configured quorum of 1 lets a lone node act.
  CHECK(ex.execute(failover_of("web"), ctx_for("x")).st.code() == errc::unavailable);
  failover_executor lone{cfg, reg, [](const std::string&) { return true; },
                         [] { return view(1, 3, 1); }};
  auto ok = lone.execute(failover_of("web"), ctx_for("x"));
  REQUIRE_MESSAGE(ok.st.ok(), ok.st.to_string());
  CHECK(reg.get("placement/web") == "epoch=1 node=edge-2");
}

TEST_CASE("placement values parse strictly and quorum is a majority of known members") {
  auto p = state::parse_placement("epoch=12 node=n-2");
  REQUIRE(p);
  CHECK(p->epoch == 12);
  CHECK(p->node == "n-2");
  CHECK(state::format_placement(*p) == "epoch=12 node=n-2");
  for (auto bad : {"", "epoch= node=a", "epoch=1", "epoch=x node=a", "epoch=1 node=", "node=a"})
    CHECK_FALSE(state::parse_placement(bad));
  CHECK(state::quorum_needed(0, 1) == 1);
  CHECK(state::quorum_needed(0, 3) == 2);
  CHECK(state::quorum_needed(0, 4) == 3);
  CHECK(state::quorum_needed(2, 5) == 2);
}
