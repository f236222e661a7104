#include <doctest/doctest.h>

#include <sqlite3.h>

#include "faultd/util.hpp"
#include "replica/replica_map.hpp"
#include "replica/store.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::replica;

TEST_CASE("the state store keeps entries and tombstones across a reopen and names corrupt rows") {
  test::temp_dir dir;
  manual_clock clock;
  map_params p;
  p.self = "n1";
  replica_map m{p, clock};
  state_entry a, b;
  REQUIRE(m.put("svc/a", std::string("bin\0ary", 7), a).ok());
  REQUIRE(m.put("svc/b", "two", b).ok());
  auto gone = m.erase("svc/b");
  REQUIRE(gone);
  {
    store s;
    REQUIRE(s.open(dir.file("state.db")).ok());
    REQUIRE(s.save({a, b}).ok());
    REQUIRE(s.save({*gone}).ok()); // replaces b
  }
  store s;
  REQUIRE(s.open(dir.file("state.db")).ok());
  std::vector<state_entry> loaded;
  std::vector<std::string> corrupt;
  REQUIRE(s.load(loaded, corrupt).ok());
  CHECK(corrupt.empty());
  REQUIRE(loaded.size() == 2);
  CHECK(loaded[0] == a);
  CHECK(loaded[1].tombstone);
  CHECK(loaded[1].version == gone->version);
  // A restarted node rebuilds the same map (same digest).
  replica_map again{p, clock};
  for (auto& e : loaded)
    CHECK(again.apply(e) == apply_result::applied);
  CHECK(again.digest() == m.digest());

  // A row whose value changed on disk is not loaded, and named.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.file("state.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE entries SET value = X'00' WHERE key = 'svc/a'", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  loaded.clear();
  REQUIRE(s.load(loaded, corrupt).ok());
  CHECK(corrupt == std::vector<std::string>{"svc/a"});
  CHECK(loaded.size() == 1);
  REQUIRE(s.remove({"svc/b"}).ok());
  loaded.clear();
  corrupt.clear();
  REQUIRE(s.load(loaded, corrupt).ok());
  CHECK(loaded.empty());
}

TEST_CASE("snapshots keep the live entries and list newest first") {
  test::temp_dir dir;
  manual_clock clock;
  store s;
  REQUIRE(s.open(dir.file("state.db")).ok());
  state_entry e;
  e.key = "k";
  e.value = "v1";
  e.checksum = sha256_hex("v1");
  REQUIRE(s.snapshot("s1", clock.now(), {e}).ok());
  clock.advance(seconds_d(1));
  e.value = "v2";
  e.checksum = sha256_hex("v2");
  REQUIRE(s.snapshot("s2", clock.now(), {e}).ok());
  CHECK_FALSE(s.snapshot("s2", clock.now(), {e}).ok()); // ids are unique
  std::vector<snapshot_info> list;
  REQUIRE(s.snapshots(list).ok());
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == "s2");
  CHECK(list[0].keys == 1);
  std::vector<state_entry> got;
  REQUIRE(s.snapshot_entries("s1", got).ok());
  REQUIRE(got.size() == 1);
  CHECK(got[0].value == "v1");
  CHECK(s.snapshot_entries("nope", got).code() == errc::not_found);
}
