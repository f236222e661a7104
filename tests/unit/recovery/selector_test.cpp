#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "faultd/config.hpp"
#include "recovery/selector.hpp"

using namespace faultd;
using namespace faultd::recovery;

namespace {

recovery_strategy make_strategy(const std::string& id, uint32_t priority,
                                std::vector<fault_type> types = {fault_type::service_unavailable},
                                std::vector<fault_severity> severities = {fault_severity::high},
                                std::string pattern = "") {
  recovery_strategy s;
  s.id = id;
  s.name = id;
  s.priority = priority;
  s.fault_types = std::move(types);
  s.severity_levels = std::move(severities);
  s.component_pattern = std::move(pattern);
  return s;
}

strategy_selector make_selector(const std::vector<recovery_strategy>& xs) {
  std::map<std::string, recovery_strategy> m;
  for (const auto& x : xs)
    m[x.id] = x;
  return strategy_selector{m};
}

incident make_incident(fault_type t, fault_severity s, const std::string& component) {
  incident x;
  x.id = "inc-1";
  x.type = t;
  x.severity = s;
  x.component = component;
  return x;
}

std::vector<std::string> ids(const std::vector<const recovery_strategy*>& xs) {
  std::vector<std::string> out;
  for (const auto* x : xs)
    out.push_back(x->id);
  return out;
}

} // namespace

TEST_CASE("the matching strategy with the highest priority is selected") {
  auto sel = make_selector({make_strategy("low", 1), make_strategy("high", 9),
                            make_strategy("mid", 5)});
  auto* s = sel.select(make_incident(fault_type::service_unavailable, fault_severity::high, "api"));
  REQUIRE(s != nullptr);
  CHECK(s->id == "high");
  CHECK(ids(sel.candidates(
          make_incident(fault_type::service_unavailable, fault_severity::high, "api"))) ==
        std::vector<std::string>{"high", "mid", "low"});
}

TEST_CASE("on equal priority a strategy with a component pattern beats one without") {
  // "a-generic" sorts first by id, so only the specificity rule picks "z-specific".
  auto sel = make_selector({make_strategy("a-generic", 5),
                            make_strategy("z-specific", 5, {fault_type::service_unavailable},
                                          {fault_severity::high}, "api*")});
  auto x = make_incident(fault_type::service_unavailable, fault_severity::high, "api-gw");
  REQUIRE(sel.select(x) != nullptr);
  CHECK(sel.select(x)->id == "z-specific");
  CHECK(ids(sel.candidates(x)) == std::vector<std::string>{"z-specific", "a-generic"});
}

TEST_CASE("on equal priority and specificity the smallest id wins") {
  auto sel = make_selector({make_strategy("charlie", 3), make_strategy("alpha", 3),
                            make_strategy("bravo", 3)});
  auto x = make_incident(fault_type::service_unavailable, fault_severity::high, "db");
  REQUIRE(sel.select(x) != nullptr);
  CHECK(sel.select(x)->id == "alpha");
  CHECK(ids(sel.candidates(x)) == std::vector<std::string>{"alpha", "bravo", "charlie"});
}

TEST_CASE("a higher priority beats a more specific pattern") {
  auto sel = make_selector({make_strategy("generic", 7),
                            make_strategy("specific", 6, {fault_type::service_unavailable},
                                          {fault_severity::high}, "db")});
  CHECK(sel.select(fault_type::service_unavailable, fault_severity::high, "db")->id == "generic");
}

TEST_CASE("no matching strategy selects nothing") {
  auto sel = make_selector({make_strategy("only", 1)});
  CHECK(sel.select(make_incident(fault_type::network_timeout, fault_severity::high, "api")) ==
        nullptr);
  CHECK(sel.candidates(make_incident(fault_type::network_timeout, fault_severity::high, "api"))
          .empty());
  CHECK(make_selector({}).select(fault_type::service_unavailable, fault_severity::high, "x") ==
        nullptr);
}

TEST_CASE("a component pattern narrows a strategy to the components it matches") {
  auto sel = make_selector({make_strategy("db-only", 10, {fault_type::service_unavailable},
                                          {fault_severity::high}, "db-*"),
                            make_strategy("fallback", 1)});
  CHECK(sel.select(fault_type::service_unavailable, fault_severity::high, "db-main")->id ==
        "db-only");
  CHECK(sel.select(fault_type::service_unavailable, fault_severity::high, "web")->id ==
        "fallback");
  CHECK(ids(sel.candidates(make_incident(fault_type::service_unavailable, fault_severity::high,
                                         "web"))) == std::vector<std::string>{"fallback"});
}

TEST_CASE("fault type and severity both have to be listed for a strategy to match") {
  auto sel = make_selector({make_strategy(
    "s", 1, {fault_type::network_timeout, fault_type::service_unavailable},
    {fault_severity::medium, fault_severity::critical})});
  CHECK(sel.select(fault_type::network_timeout, fault_severity::medium, "x") != nullptr);
  CHECK(sel.select(fault_type::service_unavailable, fault_severity::critical, "x") != nullptr);
  CHECK(sel.select(fault_type::network_timeout, fault_severity::high, "x") == nullptr);
  CHECK(sel.select(fault_type::software_error, fault_severity::medium, "x") == nullptr);
  // Empty lists match nothing.
  auto empty = make_selector({make_strategy("e", 1, {}, {fault_severity::high}),
                              make_strategy("f", 1, {fault_type::service_unavailable}, {})});
  CHECK(empty.select(fault_type::service_unavailable, fault_severity::high, "x") == nullptr);
}

TEST_CASE("the map key is the strategy id and find looks it up") {
  std::map<std::string, recovery_strategy> m;
  m["by-key"] = make_strategy("other-id", 1);
  strategy_selector sel{m};
  REQUIRE(sel.find("by-key") != nullptr);
  CHECK(sel.find("by-key")->id == "by-key");
  CHECK(sel.find("other-id") == nullptr);
  CHECK(sel.select(fault_type::service_unavailable, fault_severity::high, "x")->id == "by-key");
}

TEST_CASE("the built-in strategies answer a service outage") {
  strategy_selector sel{builtin_strategies()};
  auto cands = sel.candidates(
    make_incident(fault_type::service_unavailable, fault_severity::high, "api"));
  REQUIRE_FALSE(cands.empty());
  CHECK(cands.front()->id == "service_unavailable");
  CHECK(sel.select(make_incident(fault_type::service_unavailable, fault_severity::high, "api")) ==
        cands.front());
  for (size_t i = 1; i < cands.size(); ++i)
    CHECK(strategy_selector::better(*cands[i - 1], *cands[i]));
}

TEST_CASE("a strategy for node incidents matches node:<id> and nothing else") {
  auto node_down = make_strategy("node-down", 1,
                                 {fault_type::hardware_failure, fault_type::network_timeout},
                                 {fault_severity::high}, "node:*");
  auto sel = make_selector({node_down});
  auto dead = make_incident(fault_type::hardware_failure, fault_severity::high, "node:n2");
  REQUIRE(sel.select(dead) != nullptr);
  CHECK(sel.select(dead)->id == "node-down");
  auto silent = make_incident(fault_type::network_timeout, fault_severity::high, "node:n3");
  REQUIRE(sel.select(silent) != nullptr);
  CHECK(sel.select(make_incident(fault_type::network_timeout, fault_severity::high, "gw-mqtt"))
        == nullptr);
}

TEST_CASE("devices, gateways and alert sinks are recovered only by a strategy that names them") {
  auto sel = make_selector({make_strategy("generic", 9, {fault_type::network_timeout}),
                            make_strategy("gw", 1, {fault_type::network_timeout},
                                          {fault_severity::high}, "gateway:*")});
  for (auto c : {"device:d1", "devices:127.0.0.1:1883", "alerting:webhook-1"})
    CHECK(sel.select(make_incident(fault_type::network_timeout, fault_severity::high, c))
          == nullptr);
  auto* g = sel.select(make_incident(fault_type::network_timeout, fault_severity::high, "gateway:g0"));
  REQUIRE(g != nullptr);
  CHECK(g->id == "gw");  // the generic one, although higher, does not apply
  CHECK(sel.select(make_incident(fault_type::network_timeout, fault_severity::high, "api"))->id
        == "generic");
  CHECK(explicit_only("device:x"));
  CHECK_FALSE(explicit_only("node:n2"));
}
