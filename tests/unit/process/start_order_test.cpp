#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "process/start_order.hpp"

using namespace faultd;
using namespace faultd::process;

namespace {

service_config svc(const std::string& name, std::vector<std::string> deps = {}) {
  service_config s;
  s.name = name;
  s.command = {"/bin/true"};
  s.depends_on = std::move(deps);
  return s;
}

std::vector<std::string> names(const std::vector<service_config>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.name);
  return out;
}

} // namespace

TEST_CASE("services start after their dependencies are ready, in rounds") {
  start_order o{{svc("mapper", {"broker"}), svc("broker"), svc("ui", {"mapper", "broker"}),
                 svc("cron")}};
  std::set<std::string> ready;
  auto is_ready = [&](const service_config& s) { return ready.count(s.name) > 0; };
  CHECK(names(o.next(is_ready)) == std::vector<std::string>{"broker", "cron"});
  CHECK_FALSE(o.done());
  CHECK(o.next(is_ready).empty()); // broker runs, not ready yet
  ready.insert("broker");
  CHECK(names(o.next(is_ready)) == std::vector<std::string>{"mapper"});
  ready.insert("mapper"); // ui waits for both
  CHECK(names(o.next(is_ready)) == std::vector<std::string>{"ui"});
  CHECK(o.done());
  CHECK(o.next(is_ready).empty());
}

TEST_CASE("a dependency ready at once still starts a round before its dependents") {
  start_order o{{svc("b", {"a"}), svc("a")}};
  auto always = [](const service_config&) { return true; };
  CHECK(names(o.next(always)) == std::vector<std::string>{"a"});
  CHECK(names(o.next(always)) == std::vector<std::string>{"b"});
}

TEST_CASE("what waits is listed with its dependencies") {
  start_order o{{svc("b", {"a"}), svc("a")}};
  o.next([](const service_config&) { return false; });
  auto w = o.waiting();
  REQUIRE(w.size() == 1);
  CHECK(w[0].first == "b");
  CHECK(w[0].second == std::vector<std::string>{"a"});
}
