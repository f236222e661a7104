#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "state/registry.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::state;

TEST_CASE("registry values are files that a new registry reads back") {
  test::temp_dir dir;
  {
    registry r{dir.file("reg")};
    REQUIRE(r.init_status().ok());
    REQUIRE(r.put("degradation/gw-mqtt", "basic").ok());
    REQUIRE(r.put("weights/mapper", "a=50,b=50").ok());
    CHECK(r.get("degradation/gw-mqtt") == "basic");
    CHECK(test::read_file(dir.file("reg/degradation/gw-mqtt")) == "basic");
  }
  registry again{dir.file("reg")};
  CHECK(again.get("degradation/gw-mqtt") == "basic");
  CHECK(again.list("weights/").size() == 1);
  REQUIRE(again.erase("weights/mapper").ok());
  CHECK_FALSE(again.get("weights/mapper"));
  CHECK(registry{dir.file("reg")}.list().size() == 1);
}

TEST_CASE("registry keys that could escape the directory are refused") {
  test::temp_dir dir;
  registry r{dir.file("reg")};
  for (auto bad : {"", "/abs", "a/../b", "..", "a//b", "a/", "sp ace", "x/./y"})
    CHECK_MESSAGE(r.put(bad, "v").code() == errc::bad_request, bad);
  CHECK(r.put("circuit/gw:1883", "open").ok());
}

TEST_CASE("restore puts back a previous value, or erases a key that had none") {
  test::temp_dir dir;
  registry r{dir.file("reg")};
  REQUIRE(r.put("primary/gw", "edge-2").ok());
  REQUIRE(r.restore("primary/gw", "edge-1").ok());
  CHECK(r.get("primary/gw") == "edge-1");
  REQUIRE(r.restore("primary/gw", "").ok());
  CHECK_FALSE(r.get("primary/gw"));
  CHECK(registry{dir.file("reg")}.list("primary/").empty());
}

TEST_CASE("list returns only keys with the prefix, sorted") {
  test::temp_dir dir;
  registry r{dir.file("reg")};
  r.put("b/2", "x");
  r.put("a/1", "y");
  r.put("b/1", "z");
  auto xs = r.list("b/");
  REQUIRE(xs.size() == 2);
  CHECK(xs.begin()->first == "b/1");
}

TEST_CASE("weights parse and format, bad weights are refused") {
  auto w = parse_weights("a=70,b=30");
  REQUIRE(w);
  CHECK(w->at("a") == 70);
  CHECK(format_weights(*w) == "a=70,b=30");
  for (auto bad : {"", "a", "a=", "=5", "a=-1", "a=x", "a=1,a=2"})
    CHECK_MESSAGE(!parse_weights(bad), bad);
}

TEST_CASE("a local change of a cluster-wide key goes to the hook once, a replicated one does not") {
  test::temp_dir dir;
  registry r{dir.file("reg")};
  std::vector<std::string> local, replicated;
  r.on_local_change([&](const std::string& key, const std::optional<std::string>& v) {
    local.push_back(key + "=" + v.value_or("(erased)"));
  });
  r.on_replicated_change([&](const std::string& key, const std::optional<std::string>& v) {
    replicated.push_back(key + "=" + v.value_or("(erased)"));
  });
  REQUIRE(r.put("degradation/web", "reduced").ok());
  REQUIRE(r.put("degradation/web", "reduced").ok()); // no change: no second call
  REQUIRE(r.put("maintenance/web", "on").ok());      // the node's own: not replicated
  REQUIRE(r.erase("degradation/web").ok());
  REQUIRE(r.erase("degradation/web").ok());          // already gone
  CHECK(local == std::vector<std::string>{"degradation/web=reduced", "degradation/web=(erased)"});
  // What the map sends back is written, and told to its listener, not to the hook.
  REQUIRE(r.apply_replicated("circuit/web", std::string{"open"}).ok());
  REQUIRE(r.apply_replicated("circuit/web", std::string{"open"}).ok());
  REQUIRE(r.apply_replicated("circuit/web", std::nullopt).ok());
  CHECK(local.size() == 2);
  CHECK(replicated == std::vector<std::string>{"circuit/web=open", "circuit/web=(erased)"});
  CHECK_FALSE(r.get("circuit/web"));
  CHECK(registry::replicated("primary/web"));
  CHECK(registry::replicated("circuit-hold/web"));
  CHECK_FALSE(registry::replicated("maintenance/web"));
}
