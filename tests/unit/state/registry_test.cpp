#include <doctest/doctest.h>

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
